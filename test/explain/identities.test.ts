import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { cam, gap, explain, gradCam, verify, guidedGradCam } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { gapNet, nested, randomImages, resNet, vggFlat } from '../fixtures/models';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

function assertAllPass(checks: ReturnType<typeof verify>, expectIds: number[], what: string): void {
  const ran = checks.filter((c) => !c.skipped);
  assert.deepEqual([...new Set(ran.map((c) => c.id))].sort(), expectIds, `${what}: identities run ${JSON.stringify(checks.map((c) => [c.id, c.skipped]))}`);
  for (const c of ran) assert.ok(c.pass, `${what}: identity ${c.id} (${c.name}) lhs ${c.lhs} rhs ${c.rhs} rel ${c.relDiff}`);
}

test('identities 1–4 hold to 1e-4 on GAP models of several depths and sizes', () => {
  const models = [gapNet({ depth: 1, size: 16, seed: 1 }), gapNet({ depth: 3, size: 40, width: 6, seed: 2, classes: 7 }), resNet({ size: 32 }), nested({ size: 24 })];
  for (const m of models) {
    const before = tf.memory().numTensors;
    const img = randomImages(1, m.inputs[0].shape[1] as number, 13);
    for (const c of [0, 2]) {
      const g = gap(m, img);
      assertAllPass(verify(g), [1], `${m.name} gap`);
      const r = cam(m, img, { classIndex: c });
      assertAllPass(verify(r), [1, 2, 3], `${m.name} cam`);
      const gc = gradCam(m, img, { classIndex: c });
      assertAllPass(verify(gc, { model: m, image: img }), [4, 5], `${m.name} gradCam`);
      // The identities are not vacuous: the maps are not all zero and S differs from b.
      assert.ok(r.M.data.some((v) => v !== 0) && Math.abs(r.S - r.b) > 1e-6);
    }
    img.dispose();
    assert.equal(tf.memory().numTensors, before, `${m.name}: leak`);
    m.dispose();
  }
});

test('identity 5 (α by finite differences) holds on non-GAP and residual models; CAM-only identities are skipped with a reason', () => {
  // Max-pooling and strided Flatten models (this check found tfjs-wasm's MaxPoolGrad bug, see
  // src/model/poolgrad.ts), and residual models inside and at the end of a block.
  for (const [m, layer] of [[vggFlat({ size: 32 }), 'block2_conv2'], [vggFlat({ size: 32 }), 'block1_conv2'], [vggFlat({ size: 32, strided: true }), 'block1_conv2'], [resNet({ size: 32 }), 'res2_a_relu'], [resNet({ size: 32 }), 'res3_out']] as const) {
    const img = randomImages(1, 32, 17);
    const r = gradCam(m, img, { layer, classIndex: 1 });
    const checks = verify(r, { model: m, image: img });
    const five = checks.find((c) => c.id === 5);
    assert.ok(five && !five.skipped && five.pass, `${m.name} ${layer}: ${JSON.stringify(five)}`);
    const four = checks.find((c) => c.id === 4);
    if (layer === 'res3_out') assert.ok(four && !four.skipped && four.pass, 'at the layer the GAP averages, Grad-CAM equals CAM');
    else assert.ok(four?.skipped, 'identity 4 must say why it does not apply');
    img.dispose();
    m.dispose();
  }
});

test('identity 4 fails where it should: α·Z ≠ w away from the GAP layer', () => {
  const m = gapNet({ depth: 3, size: 32 });
  const img = randomImages(1, 32, 4);
  const r = gradCam(m, img, { layer: 'conv2', classIndex: 0 });
  const four = verify(r, { model: m, image: img }).find((c) => c.id === 4);
  assert.ok(four?.skipped, 'not at the GAP layer: skipped with a reason');
  // A wrong α must fail identity 5.
  const tampered = { ...r, alpha: r.alpha.map((a) => a * 1.1) };
  const five = verify(tampered, { model: m, image: img }).find((c) => c.id === 5);
  assert.ok(five && !five.pass, 'a 10% error in α must fail the finite-difference check');
  img.dispose();
  m.dispose();
});

test('known answer: a 2×2 hand-built GAP model, every value worked out by hand', () => {
  // x = [[1, -1], [2, 0]] (one channel). A 1×1 conv with kernel [1, -1], no bias, linear:
  //   f_0 = x, f_1 = -x.   Z = 4.   F = [mean x, mean -x] = [0.5, -0.5].
  // Dense W (rows k, columns c) = [[1, 2], [3, -1]], b = [0.5, -0.5]:
  //   S_0 = 1·0.5 + 3·(-0.5) + 0.5 = -0.5;  S_1 = 2·0.5 + (-1)·(-0.5) - 0.5 = 1.0 → top-1 is c = 1.
  // CAM for c = 1: M_1 = 2·f_0 + (-1)·f_1 = 3x = [[3, -3], [6, 0]];  Σ M / Z + b_1 = 6/4 - 0.5 = 1.0 = S_1.
  // Grad-CAM: ∂S_1/∂f_k(x,y) = w_k^1 / Z → α = [0.5, -0.25]; Σ α f = 0.75x = [[0.75, -0.75], [1.5, 0]];
  //   L_1 = ReLU = [[0.75, 0], [1.5, 0]];  normalised (÷1.5) = [[0.5, 0], [1, 0]].
  const input = tf.input({ shape: [2, 2, 1] });
  const conv = tf.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false, name: 'conv', weights: [tf.tensor4d([1, -1], [1, 1, 1, 2])] });
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' });
  const dense = tf.layers.dense({ units: 2, name: 'dense', weights: [tf.tensor2d([[1, 2], [3, -1]]), tf.tensor1d([0.5, -0.5])] });
  const m = tf.model({ inputs: input, outputs: dense.apply(g.apply(conv.apply(input))) as tf.SymbolicTensor });
  const x = tf.tensor4d([1, -1, 2, 0], [1, 2, 2, 1]);
  const c = cam(m, x);
  assert.equal(c.classIndex, 1);
  assert.deepEqual(Array.from(c.F), [0.5, -0.5]);
  assert.deepEqual(Array.from(c.scores), [-0.5, 1]);
  assert.deepEqual(Array.from(c.w), [2, -1]);
  assert.equal(c.b, -0.5);
  assert.deepEqual(Array.from(c.M.data), [3, -3, 6, 0]);
  const gc = gradCam(m, x);
  assert.deepEqual(Array.from(gc.alpha), [0.5, -0.25]);
  assert.deepEqual(Array.from(gc.weightedSum.data), [0.75, -0.75, 1.5, 0]);
  assert.deepEqual(Array.from(gc.L.data), [0.75, 0, 1.5, 0]);
  assert.deepEqual(Array.from(gc.normalized.data), [0.5, 0, 1, 0]);
  assert.deepEqual(gc.upsampled.shape, [2, 2]);
  x.dispose();
  m.dispose();
});

test('CAM on a Flatten → Dense model throws the explanatory error pointing to gradCam', () => {
  const m = vggFlat({ size: 32 });
  const img = randomImages(1, 32, 1);
  const before = tf.memory().numTensors;
  assert.throws(() => cam(m, img), (e: unknown) => e instanceof TslabCamError && e.code === 'NOT_GAP_MODEL' && /gradCam/.test(e.message) && /w_k\^c/.test(e.message));
  assert.equal(tf.memory().numTensors, before);
  assert.ok(gradCam(m, img).normalized.data.length > 0, 'Grad-CAM still works on it');
  img.dispose();
  m.dispose();
});

test('a batch of 8 with mixed classes equals 8 single runs, for every method', () => {
  const m = resNet({ size: 32, classes: 5 });
  const imgs = randomImages(8, 32, 23);
  const classes = [0, 1, 2, 3, 4, 0, 1, 2];
  for (const method of ['cam', 'gradCam', 'guidedBackprop', 'guidedGradCam'] as const) {
    const batch = explain(m, imgs, { method, classIndex: classes });
    assert.equal(batch.length, 8);
    for (let i = 0; i < 8; i++) {
      const one = tf.tidy(() => imgs.slice([i, 0, 0, 0], [1, 32, 32, 3]));
      const single = explain(m, one, { method, classIndex: classes[i] })[0];
      const a = batch[i] as unknown as Record<string, { data: Float32Array }>;
      const b = single as unknown as Record<string, { data: Float32Array }>;
      const key = method === 'guidedBackprop' ? 'gradient' : method === 'guidedGradCam' ? 'product' : 'raw';
      assert.ok(relDiff(a[key].data, b[key].data) <= 1e-5, `${method} image ${i}: ${relDiff(a[key].data, b[key].data)}`);
      assert.equal(batch[i].classIndex, classes[i]);
      one.dispose();
    }
  }
  imgs.dispose();
  m.dispose();
});

test('cpu and wasm agree to 1e-5 on every method', async () => {
  const got: Record<string, Float32Array[]> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    await tf.setBackend(backend);
    const m = resNet({ size: 32 });
    const img = randomImages(2, 32, 31);
    got[backend] = [
      ...explain(m, img, { method: 'cam' }).map((r) => r.raw.data),
      ...explain(m, img, { method: 'gradCam', layer: 'res2_a_relu' }).map((r) => r.raw.data),
      ...explain(m, img, { method: 'guidedBackprop' }).map((r) => r.gradient.data),
    ];
    img.dispose();
    m.dispose();
  }
  await initBackend({ backend: 'wasm' });
  got.cpu.forEach((c, i) => assert.ok(relDiff(got.wasm[i], c) <= 1e-5, `result ${i}: ${relDiff(got.wasm[i], c)}`));
});

test('maps: normalised in [0,1], upsampled to the input size, all-zero stays zero (never NaN)', () => {
  const m = gapNet({ size: 32 });
  const img = randomImages(1, 32, 2);
  const r = gradCam(m, img);
  assert.deepEqual(r.upsampled.shape, [32, 32]);
  assert.ok(r.normalized.data.every((v) => v >= 0 && v <= 1));
  assert.ok(Math.max(...r.normalized.data) === 1);
  // An all-zero image through a bias-free ReLU net gives f = 0: the map must be 0, not NaN.
  const input = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', useBias: false, name: 'c' });
  const head = tf.layers.dense({ units: 3, name: 'd' });
  const z = tf.model({ inputs: input, outputs: head.apply(tf.layers.globalAveragePooling2d({}).apply(conv.apply(input))) as tf.SymbolicTensor });
  const zeros = tf.zeros([1, 8, 8, 3]);
  for (const res of [gradCam(z, zeros), cam(z, zeros)]) {
    assert.ok(res.normalized.data.every((v) => v === 0) && res.upsampled.data.every((v) => v === 0), `${res.method} not all zero`);
  }
  const gg = guidedGradCam(z, zeros);
  assert.ok(gg.image.data.every((v) => Number.isFinite(v)));
  tf.dispose([zeros, img]);
  z.dispose();
  m.dispose();
});
