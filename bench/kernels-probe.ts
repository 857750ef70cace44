/**
 * Probe for src/model/kernels.ts: times wasm's own Conv2DBackpropInput against the kernel
 * withActivationGradientsOnly installs (and the bare flipped-filter conv), the filled depthwise
 * and filter-gradient kernels, checks each against wasm's own kernel or the cpu backend on
 * realistic shapes, then a MobileNetV2-like inner-layer gradient with and without the scope.
 * Run: TS_NODE_TRANSPILE_ONLY=true TS_NODE_PROJECT=tsconfig.test.json node -r ts-node/register bench/kernels-probe.ts
 * (REPS=n runs per timing, best of n; E2E_ONLY=1 only the model; E2E_BATCH=8; PROFILE=1 kernel totals.)
 *
 * Results 2026-11-26, 2 shared cores under load (load average 6–9, so absolute ms vary ±2×;
 * timings are best-of-10, interleaved), ms:
 *   case                        wasm own  in scope  bare conv   filled dW   (all rel ≤ 5.2e-6 vs cpu;
 *   56x56x24->144 1x1 b1          17.5      1.18      0.97        2.12       scope vs own: bit-identical)
 *   28x28x32->32 3x3 s1 b1         9.36     1.10      0.91        1.45
 *   28x28x32->64 3x3 s2 b1         2.93     1.91      1.79        0.73
 *   112x112x3->32 3x3 s2 b1        2.43     2.47 (own) 7.58       1.07
 *   14x14x96->160 3x3 s2 b1        8.04     8.84 (own) 11.3       1.27
 *   56x56x24->144 1x1 b8         201.7     11.6       7.56       28.2
 *   28x28x32->32 3x3 s1 b8        86.1      4.34      6.32        6.76
 *   28x28x32->64 3x3 s2 b8        41.4     19.8      13.1         3.72
 *   112x112x3->32 3x3 s2 b8       39.0     39.0 (own) 45.4       13.9
 *   14x14x96->160 3x3 s2 b8       77.9     23.7      30.2         5.89
 *   dw 112x112x32 3x3 s2 b1/b8   (none)   dx 2.16 / 49.9 (filled)   dW 1.48 / 47.4
 *   dw 56x56x144 3x3 s1 b1/b8    (none)   dx 0.87 / 14.3 (filled)   dW 6.13 / 236.8
 *   MobileNetV2-like 224², gradient at a 56×56×24 activation: b1 318 → 161 ms with the scope,
 *   b8 2,972 → 754 ms (forward b1 45 ms, b8 370 ms); gradients bit-identical.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels, conv2dInputGradient, depthwiseInputGradient, conv2dFilterGradient, depthwiseFilterGradient, withActivationGradientsOnly } from '../src/model/patches/kernels';

type Shape4 = [number, number, number, number];

function rnd(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (s * 1664525 + 1013904223) >>> 0; a[i] = s / 2 ** 32 - 0.5; }
  return a;
}
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0, mb = 0;
  for (let i = 0; i < a.length; i++) { m = Math.max(m, Math.abs(a[i] - b[i])); mb = Math.max(mb, Math.abs(b[i])); }
  return m / Math.max(mb, 1e-6);
}
/** Best (minimum) ms over `reps` runs after one warm-up: the least disturbed by other processes. */
function time(f: () => tf.Tensor, reps: number): { ms: number; out: Float32Array } {
  let out = f(); const data = Float32Array.from(out.dataSync()); out.dispose();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now(); out = f(); out.dataSync(); best = Math.min(best, performance.now() - t0); out.dispose();
  }
  return { ms: best, out: data };
}
/** Like time() for several functions, run in turns so that load changes hit all of them alike. */
function timeInterleaved(fs: Array<() => tf.Tensor>, reps: number): Array<{ ms: number; out: Float32Array }> {
  const res = fs.map((f) => { const o = f(); const d = Float32Array.from(o.dataSync()); o.dispose(); return { ms: Infinity, out: d }; });
  for (let r = 0; r < reps; r++) {
    fs.forEach((f, i) => {
      const t0 = performance.now(); const o = f(); o.dataSync(); res[i].ms = Math.min(res[i].ms, performance.now() - t0); o.dispose();
    });
  }
  return res;
}
const fmt = (x: number) => x.toFixed(x < 10 ? 2 : 1);

interface Case { name: string; x: Shape4; k: number; co: number; s: number; pad: 'same' | 'valid'; depthwise?: number }

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  registerWasmGradientKernels();
  const cases: Case[] = [];
  for (const b of [1, 8]) {
    cases.push({ name: `56x56x24->144 1x1 b${b}`, x: [b, 56, 56, 24], k: 1, co: 144, s: 1, pad: 'same' });
    cases.push({ name: `28x28x32->32 3x3 s1 b${b}`, x: [b, 28, 28, 32], k: 3, co: 32, s: 1, pad: 'same' });
    cases.push({ name: `28x28x32->64 3x3 s2 b${b}`, x: [b, 28, 28, 32], k: 3, co: 64, s: 2, pad: 'same' });
    cases.push({ name: `112x112x3->32 3x3 s2 b${b}`, x: [b, 112, 112, 3], k: 3, co: 32, s: 2, pad: 'same' });
    cases.push({ name: `56x56x16->24 3x3 s2 b${b}`, x: [b, 56, 56, 16], k: 3, co: 24, s: 2, pad: 'same' });
    cases.push({ name: `7x7x320->1280 1x1 b${b}`, x: [b, 7, 7, 320], k: 1, co: 1280, s: 1, pad: 'same' });
    cases.push({ name: `14x14x96->160 3x3 s2 b${b}`, x: [b, 14, 14, 96], k: 3, co: 160, s: 2, pad: 'same' });
    cases.push({ name: `dw 112x112x32 3x3 s2 b${b}`, x: [b, 112, 112, 32], k: 3, co: 32, s: 2, pad: 'same', depthwise: 1 });
    cases.push({ name: `dw 56x56x144 3x3 s1 b${b}`, x: [b, 56, 56, 144], k: 3, co: 144, s: 1, pad: 'same', depthwise: 1 });
  }
  const reps = Number(process.env.REPS ?? 10);
  if (process.env.E2E_ONLY === '1') { await endToEnd(reps); return; }
  console.log('case | input grad ms: wasm own | in scope | flipped-filter conv | rel diff scope vs own | filter grad (filled) ms | rel vs cpu');
  for (const c of cases) {
    const [b, h, w, ci] = c.x;
    const fshape: Shape4 = c.depthwise ? [c.k, c.k, ci, c.depthwise] : [c.k, c.k, ci, c.co];
    const info = tf.backend_util.computeConv2DInfo(c.x, fshape, c.s, 1, c.pad, undefined, !!c.depthwise);
    const xs = rnd(b * h * w * ci, 1), fs = rnd(fshape.reduce((p, q) => p * q, 1), 2), dys = rnd(info.outShape.reduce((p, q) => p * q, 1), 3);
    const x = tf.tensor4d(xs, c.x), f = tf.tensor4d(fs, fshape), dy = tf.tensor4d(dys, info.outShape);
    let orig: { ms: number; out: Float32Array } | null = null;
    let formula: { ms: number; out: Float32Array } | null = null;
    let repl: { ms: number; out: Float32Array };
    let filt: { ms: number; out: Float32Array };
    if (c.depthwise) {
      repl = time(() => depthwiseInputGradient(c.x, dy, f, c.s, c.pad), reps);
      filt = time(() => depthwiseFilterGradient(x, dy, fshape, c.s, c.pad), reps);
    } else {
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x } as unknown as tf.NamedAttrMap;
      const own = () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, attrs) as tf.Tensor;
      // As deployed: the kernel registered inside the scope (wasm's own where that measured faster).
      [orig, repl, formula] = timeInterleaved([own, () => withActivationGradientsOnly(own), () => conv2dInputGradient(c.x, dy, f, c.s, c.pad)], reps);
      filt = time(() => conv2dFilterGradient(x, dy, fshape, c.s, c.pad), reps);
    }
    tf.dispose([x, f, dy]);
    // cpu reference (one run: the cpu backend is slow) for the filled kernels and the depthwise input gradient.
    await tf.setBackend('cpu');
    const xc = tf.tensor4d(xs, c.x), fc = tf.tensor4d(fs, fshape), dyc = tf.tensor4d(dys, info.outShape);
    const name = c.depthwise ? 'DepthwiseConv2dNativeBackprop' : 'Conv2DBackprop';
    const refIn = tf.engine().runKernel(c.depthwise ? `${name}Input` : 'Conv2DBackpropInput', { dy: dyc, filter: fc },
      { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: 1, inputShape: c.x }) as tf.Tensor;
    const refF = tf.engine().runKernel(`${name}Filter`, { x: xc, dy: dyc },
      { strides: c.s, pad: c.pad, dataFormat: 'NHWC', dilations: 1, filterShape: fshape }) as tf.Tensor;
    const refInData = refIn.dataSync().slice(), refFData = refF.dataSync().slice();
    tf.dispose([xc, fc, dyc, refIn, refF]);
    await tf.setBackend('wasm');
    const inRel = orig ? rel(repl.out, orig.out) : rel(repl.out, refInData);
    console.log(`${c.name} | ${orig ? fmt(orig.ms) : 'none'} | ${fmt(repl.ms)} | ${formula ? fmt(formula.ms) : '(filled: same)'} | ${inRel.toExponential(1)}${orig ? '' : ' vs cpu'}`
      + ` (vs cpu ${rel(repl.out, refInData).toExponential(1)}) | ${fmt(filt.ms)} | ${rel(filt.out, refFData).toExponential(1)}`);
  }
  await endToEnd(reps);
  console.log('numTensors at end', tf.memory().numTensors);
}
/**
 * A MobileNetV2-like stack (224², random weights): d(score)/d(activation of an inner layer) with
 * tf.engine().gradients as the library does, with and without withActivationGradientsOnly.
 */
async function endToEnd(reps: number): Promise<void> {
  const b = Number(process.env.E2E_BATCH ?? 1);
  const blocks: Array<[number, number, number, number]> = [[32, 16, 1, 1], [16, 24, 2, 6], [24, 24, 1, 6], [24, 32, 2, 6], [32, 32, 1, 6], [32, 64, 2, 6], [64, 96, 1, 6], [96, 160, 2, 6], [160, 320, 1, 6]];
  const vars: tf.Tensor4D[] = [];
  const w = (shape: [number, number, number, number]) => { const t = tf.randomNormal(shape, 0, Math.sqrt(2 / (shape[0] * shape[1] * shape[2]))) as tf.Tensor4D; vars.push(t); return t; };
  const stem = w([3, 3, 3, 32]);
  const layers = blocks.map(([ci, co, s, e]) => ({ s, res: s === 1 && ci === co, expand: e > 1 ? w([1, 1, ci, ci * e]) : null, dw: w([3, 3, ci * e, 1]), project: w([1, 1, ci * e, co]) }));
  const head = w([1, 1, 320, 1280]);
  const x = tf.randomUniform([b, 224, 224, 3]) as tf.Tensor4D;
  const block = (h: tf.Tensor4D, l: (typeof layers)[number]): tf.Tensor4D => {
    let y = l.expand ? tf.relu6(tf.fused.conv2d({ x: h, filter: l.expand, strides: 1, pad: 'same' })) : h;
    y = tf.relu6(tf.fused.depthwiseConv2d({ x: y, filter: l.dw, strides: l.s, pad: 'same' }));
    y = tf.fused.conv2d({ x: y, filter: l.project, strides: 1, pad: 'same' });
    return l.res ? tf.add(h, y) : y;
  };
  // The target activation (after block 3, 56×56×24) is computed once; the gradient runs through the rest.
  const target = tf.tidy(() => layers.slice(0, 3).reduce(block, tf.relu6(tf.fused.conv2d({ x, filter: stem, strides: 2, pad: 'same' }))));
  const run = (): tf.Tensor => tf.grad((a: tf.Tensor) => {
    const h = layers.slice(3).reduce(block, a as tf.Tensor4D);
    const f = tf.relu6(tf.fused.conv2d({ x: h, filter: head, strides: 1, pad: 'same' }));
    return tf.sum(tf.slice(tf.mean(f, [1, 2]), [0, 0], [b, 10]));
  })(target);
  if (process.env.PROFILE === '1') {
    run().dispose();
    const prof = await withActivationGradientsOnly(() => tf.profile(() => run()));
    const byKernel = new Map<string, number>();
    for (const k of prof.kernels) byKernel.set(k.name, (byKernel.get(k.name) ?? 0) + (k.kernelTimeMs as number));
    console.log([...byKernel].sort((p, q) => q[1] - p[1]).slice(0, 12).map(([n, ms]) => `${n} ${ms.toFixed(1)}`).join('; '));
  }
  const plain = time(run, Math.max(1, Math.floor(reps / 2)));
  const scoped = withActivationGradientsOnly(() => time(run, reps));
  const fwd = time(() => tf.tidy(() => tf.relu6(tf.fused.conv2d({
    x: layers.reduce(block, tf.relu6(tf.fused.conv2d({ x, filter: stem, strides: 2, pad: 'same' }))), filter: head, strides: 1, pad: 'same',
  }))), reps);
  console.log(`MobileNetV2-like 224² b${b}, gradient at an inner layer: forward ${fmt(fwd.ms)} ms; `
    + `gradient ${fmt(plain.ms)} ms plain, ${fmt(scoped.ms)} ms in withActivationGradientsOnly; rel diff ${rel(scoped.out, plain.out).toExponential(1)}`);
  tf.dispose([...vars, x, target]);
}

main().catch((e) => { console.error(e); process.exit(1); });
