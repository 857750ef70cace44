import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../../src/model/backend';
import {
  activationGradientScopeDepth, conv2dFilterGradient, conv2dInputGradient, depthwiseFilterGradient,
  depthwiseInputGradient, registerWasmGradientKernels, withActivationGradientsOnly,
} from '../../../src/model/patches/kernels';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

const TOL = 1e-5;

function rand(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

const size = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);

/** max|a − b| / max(max|b|, 1e-6). */
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-6);
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Run `fn` on `backend`, read every tensor it returns, dispose them, and check nothing leaked. */
async function on(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const out = fn();
  const list = Array.isArray(out) ? out : [out];
  const data = list.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(list);
  assert.equal(tf.memory().numTensors, before, `tensors leaked on ${backend}`);
  return data;
}

function near(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = TOL): void {
  const r = rel(a, b);
  assert.ok(r <= tol, `${what}: relative difference ${r.toExponential(2)} > ${tol}`);
}

// ---------------------------------------------------------------------------------------------
// A plain-JS reference of the four gradients straight from the definition (used where the cpu
// backend cannot serve as one: its depthwise backprop kernels ignore dilations).

interface Geometry { info: tf.backend_util.Conv2DInfo }

function geometry(xShape: Shape4, fShape: Shape4, s: number, d: number, pad: Pad, depthwise: boolean): Geometry {
  return { info: tf.backend_util.computeConv2DInfo(xShape, fShape, s, d, pad, undefined, depthwise) };
}

/** Visit every (x index, filter index, dy index) triple the forward conv multiplies together. */
function forEachTerm(g: Geometry, depthwise: boolean, visit: (xi: number, fi: number, yi: number) => void): void {
  const { info } = g;
  const [B, H, W, C] = info.inShape;
  const [, OH, OW, CO] = info.outShape;
  const M = depthwise ? CO / C : 0;
  for (let b = 0; b < B; b++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    for (let kh = 0; kh < info.filterHeight; kh++) for (let kw = 0; kw < info.filterWidth; kw++) {
      const h = oh * info.strideHeight + kh * info.dilationHeight - info.padInfo.top;
      const w = ow * info.strideWidth + kw * info.dilationWidth - info.padInfo.left;
      if (h < 0 || h >= H || w < 0 || w >= W) continue;
      for (let c = 0; c < C; c++) {
        const xi = ((b * H + h) * W + w) * C + c;
        if (depthwise) {
          for (let m = 0; m < M; m++) {
            visit(xi, ((kh * info.filterWidth + kw) * C + c) * M + m, ((b * OH + oh) * OW + ow) * CO + c * M + m);
          }
        } else {
          for (let co = 0; co < CO; co++) {
            visit(xi, ((kh * info.filterWidth + kw) * C + c) * CO + co, ((b * OH + oh) * OW + ow) * CO + co);
          }
        }
      }
    }
  }
}

function referenceGrads(g: Geometry, depthwise: boolean, x: Float32Array, f: Float32Array, dy: Float32Array): { dx: Float64Array; df: Float64Array } {
  const dx = new Float64Array(x.length);
  const df = new Float64Array(f.length);
  forEachTerm(g, depthwise, (xi, fi, yi) => {
    dx[xi] += dy[yi] * f[fi];
    df[fi] += dy[yi] * x[xi];
  });
  return { dx, df };
}

// ---------------------------------------------------------------------------------------------
// configurations

interface Case {
  x: Shape4;
  k: number;
  s: number;
  pad: Pad;
  /** Output channels for conv2d; channel multiplier for depthwise. */
  out: number;
}

function label(c: Case): string {
  return `x=${c.x.join('x')} k=${c.k} s=${c.s} pad=${JSON.stringify(c.pad)} out=${c.out}`;
}

function cases(depthwise: boolean): Case[] {
  const list: Case[] = [];
  const sizes: Array<[number, number]> = [[7, 7], [8, 6], [9, 10]];
  const pads: Pad[] = ['same', 'valid'];
  let i = 0;
  for (const k of [1, 3, 5]) for (const s of [1, 2]) for (const [h, w] of sizes) for (const pad of pads) {
    if (pad === 'valid' && (h < k || w < k)) continue;
    const b = i % 3 === 0 ? 2 : 1;
    const ci = 2 + (i % 3);
    const out = depthwise ? 1 + (i % 2) : 3 + (i % 2);
    list.push({ x: [b, h, w, ci], k, s, pad, out });
    i++;
  }
  // Explicit and numeric padding (the attrs carry them through the gradient unchanged).
  const explicit: tf.backend_util.ExplicitPadding = [[0, 0], [1, 2], [2, 0], [0, 0]];
  // Padding wider than the filter reaches (the input gradient then cuts dy instead of padding it).
  const wide: tf.backend_util.ExplicitPadding = [[0, 0], [3, 0], [0, 4], [0, 0]];
  list.push({ x: [1, 8, 7, 3], k: 3, s: 1, pad: explicit, out: depthwise ? 2 : 4 }, { x: [2, 9, 8, 2], k: 3, s: 2, pad: explicit, out: depthwise ? 1 : 3 },
    { x: [1, 7, 8, 2], k: 3, s: 1, pad: wide, out: 2 }, { x: [1, 9, 9, 3], k: 3, s: 2, pad: wide, out: 2 });
  list.push({ x: [1, 8, 7, 3], k: 3, s: 1, pad: 1, out: 2 }, { x: [1, 9, 9, 2], k: 5, s: 2, pad: 2, out: 2 });
  // 1×1 stride 2 (the input gradient at dy's resolution, then spread): padding only after the
  // input, so some outputs read padding (dy rows to drop) or rows no output reads (zeros in dx).
  list.push({ x: [1, 8, 7, 3], k: 1, s: 2, pad: [[0, 0], [0, 2], [0, 1], [0, 0]], out: 2 }, { x: [2, 9, 8, 4], k: 1, s: 3, pad: 'valid', out: 3 });
  // By output phase: stride 3 with an even filter and odd sizes (phases of unequal length), a
  // filter as large as the stride (one tap per phase), and one smaller than it (phases no tap reaches).
  list.push({ x: [1, 17, 16, 3], k: 4, s: 3, pad: 'same', out: 2 }, { x: [2, 10, 9, 2], k: 2, s: 2, pad: 'valid', out: 2 },
    { x: [1, 13, 14, 2], k: 3, s: 4, pad: 'same', out: 2 });
  // Phases interleaved both ways: more than 144 input channels are stacked, fewer are transposed.
  list.push({ x: [2, 7, 6, 150], k: 3, s: 2, pad: 'same', out: depthwise ? 1 : 2 });
  return list;
}

function filterShapeOf(c: Case, depthwise: boolean): Shape4 {
  return [c.k, c.k, c.x[3], c.out];
}

/** The attrs each kernel receives, exactly as tfjs-core's ops build them. */
function runGradientKernels(c: Case, depthwise: boolean, xv: Float32Array, fv: Float32Array, dyv: Float32Array, dataFormat: 'NHWC' | 'NCHW' = 'NHWC'): tf.Tensor[] {
  const fShape = filterShapeOf(c, depthwise);
  const info = tf.backend_util.computeConv2DInfo(c.x, fShape, c.s, 1, c.pad, undefined, depthwise);
  const nchw = (t: tf.Tensor4D) => (dataFormat === 'NCHW' ? tf.transpose(t, [0, 3, 1, 2]) : t);
  return tf.tidy(() => {
    const x = nchw(tf.tensor4d(xv, c.x));
    const filter = tf.tensor4d(fv, fShape);
    const dy = nchw(tf.tensor4d(dyv, info.outShape));
    if (depthwise) {
      const dx = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter },
        { strides: c.s, pad: c.pad, dimRoundingMode: undefined, dilations: [1, 1], inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const df = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy },
        { strides: c.s, pad: c.pad, dimRoundingMode: undefined, dilations: [1, 1], filterShape: fShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      return [dx, df];
    }
    const inputShape = dataFormat === 'NCHW' ? [c.x[0], c.x[3], c.x[1], c.x[2]] : c.x;
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter },
      { strides: c.s, pad: c.pad, dataFormat, dimRoundingMode: undefined, inputShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
    const df = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
      { strides: c.s, pad: c.pad, dataFormat, dimRoundingMode: undefined, filterShape: fShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return [dx, df];
  });
}

function dataFor(c: Case, depthwise: boolean, seed: number): { xv: Float32Array; fv: Float32Array; dyv: Float32Array } {
  const fShape = filterShapeOf(c, depthwise);
  const info = tf.backend_util.computeConv2DInfo(c.x, fShape, c.s, 1, c.pad, undefined, depthwise);
  return { xv: rand(size(c.x), seed), fv: rand(size(fShape), seed + 1), dyv: rand(size(info.outShape), seed + 2) };
}

// ---------------------------------------------------------------------------------------------

test('initBackend({backend: "wasm"}) registers the three missing gradient kernels, once', async () => {
  await initBackend({ backend: 'wasm' });
  assert.equal(tf.getBackend(), 'wasm');
  const names = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'];
  const funcs = names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc);
  funcs.forEach((f, i) => assert.equal(typeof f, 'function', `${names[i]} missing on wasm`));
  registerWasmGradientKernels();
  names.forEach((n, i) => assert.equal(tf.getKernel(n, 'wasm').kernelFunc, funcs[i], `${n} re-registered`));
  // wasm's own Conv2DBackpropInput is left alone.
  assert.ok(tf.getKernel('Conv2DBackpropInput', 'wasm'));
});

for (const depthwise of [false, true]) {
  const kind = depthwise ? 'DepthwiseConv2dNativeBackpropInput/Filter' : 'Conv2DBackpropFilter and conv2dInputGradient';
  test(`${kind} on wasm equal the cpu kernels on ${cases(depthwise).length} configurations`, async () => {
    registerWasmGradientKernels();
    let seed = depthwise ? 100 : 1;
    let checked = 0;
    for (const c of cases(depthwise)) {
      const { xv, fv, dyv } = dataFor(c, depthwise, seed += 3);
      const w = await on('wasm', () => runGradientKernels(c, depthwise, xv, fv, dyv));
      const r = await on('cpu', () => runGradientKernels(c, depthwise, xv, fv, dyv));
      near(w[0], r[0], `dx ${label(c)}`);
      near(w[1], r[1], `dW ${label(c)}`);
      if (!depthwise) {
        // The flipped-filter input gradient the scope swaps in (at any channel count).
        const info = tf.backend_util.computeConv2DInfo(c.x, filterShapeOf(c, false), c.s, 1, c.pad);
        const [mine] = await on('wasm', () => tf.tidy(() =>
          conv2dInputGradient(c.x, tf.tensor4d(dyv, info.outShape), tf.tensor4d(fv, filterShapeOf(c, false)), c.s, c.pad)));
        near(mine, r[0], `conv2dInputGradient ${label(c)}`);
      }
      assert.ok(maxAbs(r[1]) > 0.01, 'reference filter gradient is not trivially zero');
      checked++;
    }
    assert.ok(checked >= 30);
  });
}

test('Conv2DBackpropFilter with dataFormat NCHW on wasm equals cpu', async () => {
  for (const c of [{ x: [2, 7, 8, 3] as Shape4, k: 3, s: 1, pad: 'same' as Pad, out: 4 }, { x: [1, 9, 9, 2] as Shape4, k: 3, s: 2, pad: 'valid' as Pad, out: 3 }]) {
    const { xv, fv, dyv } = dataFor(c, false, 7);
    const w = await on('wasm', () => runGradientKernels(c, false, xv, fv, dyv, 'NCHW'));
    const r = await on('cpu', () => runGradientKernels(c, false, xv, fv, dyv, 'NCHW'));
    near(w[1], r[1], `NCHW dW ${label(c)}`);
  }
});

test('dilated convolutions: the four gradient formulations equal the definition', async () => {
  await tf.setBackend('wasm');
  const configs: Array<{ x: Shape4; k: number; d: number; pad: Pad; out: number }> = [
    { x: [1, 9, 9, 3], k: 3, d: 2, pad: 'same', out: 2 },
    { x: [2, 11, 10, 2], k: 3, d: 3, pad: 'valid', out: 1 },
    { x: [1, 12, 11, 2], k: 5, d: 2, pad: 'same', out: 2 },
  ];
  for (const c of configs) {
    for (const depthwise of [false, true]) {
      const out = depthwise ? c.out : c.out + 2;
      const fShape: Shape4 = [c.k, c.k, c.x[3], out];
      const g = geometry(c.x, fShape, 1, c.d, c.pad, depthwise);
      const xv = rand(size(c.x), 11), fv = rand(size(fShape), 12), dyv = rand(size(g.info.outShape), 13);
      const ref = referenceGrads(g, depthwise, xv, fv, dyv);
      const [dx, df] = await on('wasm', () => tf.tidy(() => {
        const x = tf.tensor4d(xv, c.x), f = tf.tensor4d(fv, fShape), dy = tf.tensor4d(dyv, g.info.outShape);
        return depthwise
          ? [depthwiseInputGradient(c.x, dy, f, 1, c.pad, c.d), depthwiseFilterGradient(x, dy, fShape, 1, c.pad, c.d)]
          : [conv2dInputGradient(c.x, dy, f, 1, c.pad, undefined, c.d), conv2dFilterGradient(x, dy, fShape, 1, c.pad, undefined, c.d)];
      }));
      near(dx, ref.dx, `dilated dx ${depthwise ? 'depthwise' : 'conv2d'} d=${c.d}`);
      near(df, ref.df, `dilated dW ${depthwise ? 'depthwise' : 'conv2d'} d=${c.d}`);
    }
  }
});

// ---------------------------------------------------------------------------------------------
// tf.grad through real ops

type Op = 'conv2d' | 'fusedLinear' | 'fusedRelu' | 'fusedReluBias' | 'depthwise' | 'fusedDepthwise';

interface GradCase { op: Op; x: Shape4; k: number; s: number; pad: 'same' | 'valid'; out: number }

const GRAD_CASES: GradCase[] = [
  { op: 'conv2d', x: [2, 9, 8, 3], k: 3, s: 1, pad: 'same', out: 4 },
  { op: 'conv2d', x: [1, 10, 10, 9], k: 3, s: 2, pad: 'same', out: 5 },
  { op: 'fusedLinear', x: [1, 8, 8, 10], k: 3, s: 2, pad: 'same', out: 6 },
  { op: 'fusedLinear', x: [2, 7, 9, 3], k: 5, s: 1, pad: 'valid', out: 4 },
  { op: 'fusedLinear', x: [1, 6, 6, 12], k: 1, s: 1, pad: 'same', out: 7 },
  { op: 'fusedRelu', x: [1, 9, 9, 4], k: 3, s: 2, pad: 'valid', out: 5 },
  { op: 'fusedReluBias', x: [2, 8, 7, 8], k: 3, s: 1, pad: 'same', out: 3 },
  { op: 'depthwise', x: [2, 9, 9, 3], k: 3, s: 2, pad: 'same', out: 2 },
  { op: 'depthwise', x: [1, 8, 10, 4], k: 5, s: 1, pad: 'valid', out: 1 },
  { op: 'fusedDepthwise', x: [1, 10, 10, 5], k: 3, s: 2, pad: 'same', out: 1 },
  { op: 'fusedDepthwise', x: [2, 7, 7, 3], k: 3, s: 1, pad: 'same', out: 2 },
];

function forward(c: GradCase, x: tf.Tensor4D, f: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  switch (c.op) {
    case 'conv2d': return tf.conv2d(x, f, c.s, c.pad);
    case 'fusedLinear': return tf.fused.conv2d({ x, filter: f, strides: c.s, pad: c.pad });
    case 'fusedRelu': return tf.fused.conv2d({ x, filter: f, strides: c.s, pad: c.pad, activation: 'relu' });
    case 'fusedReluBias': return tf.fused.conv2d({ x, filter: f, bias, strides: c.s, pad: c.pad, activation: 'relu' });
    case 'depthwise': return tf.depthwiseConv2d(x, f, c.s, c.pad);
    case 'fusedDepthwise': return tf.fused.depthwiseConv2d({ x, filter: f, bias, strides: c.s, pad: c.pad });
  }
}

/** ∂/∂x and ∂/∂filter of L = Σ y·r (r a fixed random tensor, so every output position matters). */
function gradsOf(c: GradCase, seed: number): () => tf.Tensor[] {
  const depthwise = c.op === 'depthwise' || c.op === 'fusedDepthwise';
  const fShape: Shape4 = [c.k, c.k, c.x[3], c.out];
  const outCh = depthwise ? c.x[3] * c.out : c.out;
  const info = tf.backend_util.computeConv2DInfo(c.x, fShape, c.s, 1, c.pad, undefined, depthwise);
  const xv = rand(size(c.x), seed), fv = rand(size(fShape), seed + 1), rv = rand(size(info.outShape), seed + 2);
  const bv = rand(outCh, seed + 3);
  return () => tf.tidy(() => {
    const x = tf.tensor4d(xv, c.x), f = tf.tensor4d(fv, fShape), r = tf.tensor4d(rv, info.outShape), bias = tf.tensor1d(bv);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(forward(c, a as tf.Tensor4D, b as tf.Tensor4D, bias), r)));
    return g([x, f]);
  });
}

test('tf.grad w.r.t. input and filter through conv2d, fused conv2d (linear, relu, bias) and depthwise on wasm equals cpu', async () => {
  registerWasmGradientKernels();
  let seed = 300;
  for (const c of GRAD_CASES) {
    const run = gradsOf(c, seed += 5);
    const w = await on('wasm', run);
    const r = await on('cpu', run);
    near(w[0], r[0], `d/dx ${c.op} ${c.x.join('x')} k${c.k} s${c.s} ${c.pad}`);
    near(w[1], r[1], `d/dW ${c.op} ${c.x.join('x')} k${c.k} s${c.s} ${c.pad}`);
    assert.ok(maxAbs(r[1]) > 0.01);
  }
});

// ---------------------------------------------------------------------------------------------
// withActivationGradientsOnly

const FILTER_KERNELS = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'Conv2DBackpropInput', 'DepthwiseConv2dNativeBackpropInput', 'Identity'];

function kernelFuncs(backend: string): Array<tf.KernelFunc | undefined> {
  return FILTER_KERNELS.map((n) => tf.getKernel(n, backend)?.kernelFunc);
}

test('inside withActivationGradientsOnly: input gradients unchanged, filter gradients zero (wasm and cpu)', async () => {
  let seed = 500;
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    const before = kernelFuncs(backend);
    const cases = backend === 'cpu' ? GRAD_CASES.filter((_, i) => i % 2 === 0) : GRAD_CASES;
    for (const c of cases) {
      const run = gradsOf(c, seed += 5);
      const outside = await on(backend, run);
      const n0 = tf.memory().numTensors;
      const inside = withActivationGradientsOnly(() => {
        const t = run();
        const data = t.map((v) => Float32Array.from(v.dataSync()));
        tf.dispose(t);
        return data;
      });
      assert.equal(tf.memory().numTensors, n0, 'scope leaked tensors');
      near(inside[0], outside[0], `${backend} scoped d/dx ${c.op} s${c.s}`);
      assert.equal(maxAbs(inside[1]), 0, `${backend} scoped d/dW ${c.op} must be zeros`);
      assert.equal(inside[1].length, outside[1].length);
      assert.ok(maxAbs(outside[1]) > 0.01);
    }
    assert.deepEqual(kernelFuncs(backend), before, `${backend} kernels restored`);
  }
});

test('after the scope (also after a throw) filter gradients are real again and match cpu', async () => {
  const c = GRAD_CASES[2]; // fused linear conv, stride 2
  const d = GRAD_CASES[9]; // fused depthwise, stride 2
  const cpuC = await on('cpu', gradsOf(c, 900));
  const cpuD = await on('cpu', gradsOf(d, 901));
  await tf.setBackend('wasm');
  const before = kernelFuncs('wasm');
  const n0 = tf.memory().numTensors;
  assert.throws(() => withActivationGradientsOnly(() => {
    const t = gradsOf(c, 900)(); // allocated inside, then the callback throws
    tf.dispose(t);
    throw new Error('boom');
  }), /boom/);
  assert.equal(tf.memory().numTensors, n0, 'tensors after a throw');
  assert.equal(activationGradientScopeDepth('wasm'), 0);
  assert.deepEqual(kernelFuncs('wasm'), before);
  const afterC = await on('wasm', gradsOf(c, 900));
  const afterD = await on('wasm', gradsOf(d, 901));
  near(afterC[1], cpuC[1], 'conv filter gradient after the scope');
  near(afterD[1], cpuD[1], 'depthwise filter gradient after the scope');
  assert.ok(maxAbs(afterC[1]) > 0.01 && maxAbs(afterD[1]) > 0.01);
});

test('nested scopes: the inner exit keeps the swap, the outer exit restores it', async () => {
  await tf.setBackend('wasm');
  const c = GRAD_CASES[3];
  const run = gradsOf(c, 77);
  const before = kernelFuncs('wasm');
  const filterGrad = () => {
    const t = run();
    const df = Float32Array.from(t[1].dataSync());
    tf.dispose(t);
    return maxAbs(df);
  };
  const n0 = tf.memory().numTensors;
  const seen = withActivationGradientsOnly(() => {
    const inner = withActivationGradientsOnly(() => [activationGradientScopeDepth(), filterGrad()]);
    assert.throws(() => withActivationGradientsOnly(() => { throw new Error('inner'); }), /inner/);
    return [...inner, activationGradientScopeDepth(), filterGrad()];
  });
  assert.deepEqual(seen, [2, 0, 1, 0]);
  assert.equal(activationGradientScopeDepth(), 0);
  assert.deepEqual(kernelFuncs('wasm'), before);
  assert.ok(filterGrad() > 0.01);
  assert.equal(tf.memory().numTensors, n0);
});

test('inside the scope on wasm, Identity shares its input\'s buffer: a clone outlives its source, counts stay exact, and copying returns after', async () => {
  await tf.setBackend('wasm');
  const n0 = tf.memory().numTensors;
  const bytes0 = tf.memory().numBytes;
  const values = [1.5, -2, 3.25, 0, 7];
  const inside = withActivationGradientsOnly(() => {
    const a = tf.tensor1d(values);
    const b = tf.clone(a);
    const shared = b.dataId === a.dataId;
    a.dispose();
    const read = Array.from(b.dataSync());
    b.dispose();
    return { shared, read };
  });
  assert.equal(inside.shared, true);
  assert.deepEqual(inside.read, values);
  assert.equal(tf.memory().numTensors, n0);
  assert.equal(tf.memory().numBytes, bytes0);
  // A gradient whose tape saves inputs (clones) is unchanged by sharing them.
  const x = tf.tensor1d([-1, 0.5, 2, 7]);
  const dy = tf.tensor1d([3, -1, 2, 5]);
  const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.relu6(tf.mul(t, t)), dy));
  const plain = tf.grad(f)(x);
  const scoped = withActivationGradientsOnly(() => tf.grad(f)(x));
  assert.deepEqual(Array.from(scoped.dataSync()), Array.from(plain.dataSync()));
  const a = tf.tensor1d(values);
  const b = tf.clone(a);
  assert.notEqual(b.dataId, a.dataId, 'outside the scope wasm copies again');
  tf.dispose([x, dy, plain, scoped, a, b]);
  assert.equal(tf.memory().numTensors, n0);
});

test('the scope\'s Conv2DBackpropInput on wasm equals wasm\'s own kernel and replaces it everywhere (strided convs by output phase)', async () => {
  await tf.setBackend('wasm');
  // replaced: whether the scope runs the flipped-filter conv (a nested Conv2D) or wasm's kernel.
  const configs: Array<Case & { replaced: boolean }> = [
    { x: [2, 9, 8, 3], k: 3, s: 1, pad: 'same', out: 5, replaced: true },
    { x: [2, 8, 8, 16], k: 1, s: 1, pad: 'same', out: 24, replaced: true },
    { x: [1, 30, 29, 8], k: 3, s: 2, pad: 'same', out: 6, replaced: true },
    { x: [2, 21, 20, 9], k: 5, s: 2, pad: 'valid', out: 4, replaced: true },
    { x: [1, 9, 9, 3], k: 1, s: 2, pad: 'valid', out: 4, replaced: true }, // 1×1 strided: no zeros to multiply
    { x: [1, 30, 30, 3], k: 3, s: 2, pad: 'same', out: 4, replaced: true }, // 3 channels, strided: by phase (wasm's kernel was 2× slower on a stem)
    { x: [1, 10, 9, 12], k: 3, s: 2, pad: 'valid', out: 4, replaced: true }, // 90 positions, strided: by phase
  ];
  for (const c of configs) {
    for (const dataFormat of ['NHWC', 'NCHW'] as const) {
      const { xv, fv, dyv } = dataFor(c, false, 41);
      const [own] = await on('wasm', () => runGradientKernels(c, false, xv, fv, dyv, dataFormat));
      const n0 = tf.memory().numTensors;
      let swapped = new Float32Array(0);
      const profile = await withActivationGradientsOnly(() => tf.profile(() => {
        const [dx, df] = runGradientKernels(c, false, xv, fv, dyv, dataFormat);
        swapped = Float32Array.from(dx.dataSync());
        tf.dispose([dx, df]);
        return [];
      }));
      assert.equal(tf.memory().numTensors, n0);
      near(swapped, own, `scoped dx ${label(c)} ${dataFormat}`);
      const names = profile.kernels.map((k) => k.name);
      assert.ok(names.includes('Conv2DBackpropInput'));
      assert.equal(names.includes('Conv2D'), c.replaced, `${label(c)}: kernels ${names.join(',')}`);
    }
  }
});

test('a kernel given a dy of the wrong shape throws and leaves no tensors behind', async () => {
  await tf.setBackend('wasm');
  registerWasmGradientKernels();
  const n0 = tf.memory().numTensors;
  const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
  const dy = tf.zeros([1, 7, 7, 2]) as tf.Tensor4D; // 'same' stride 1 would give 8×8
  const filter = tf.zeros([3, 3, 3, 1]) as tf.Tensor4D;
  assert.throws(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
    { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 3, 2] } as unknown as tf.NamedAttrMap), /dy has shape/);
  assert.throws(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter },
    { strides: 1, pad: 'same', dilations: 1, inputShape: [1, 8, 8, 3] } as unknown as tf.NamedAttrMap), /dy has shape/);
  assert.throws(() => tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy },
    { strides: 1, pad: 'same', dilations: 1, filterShape: [3, 3, 3, 1] } as unknown as tf.NamedAttrMap), /dy has shape/);
  tf.dispose([x, dy, filter]);
  assert.equal(tf.memory().numTensors, n0);
});
