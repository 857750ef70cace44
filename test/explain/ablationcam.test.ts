import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadModel } from '../../src/model/load';
import { loadImage } from '../../src/model/image';
import { builtinSamples } from '../../src/model/builtin';
import { resolveLayer } from '../../src/model/inspect';
import { explain, verify } from '../../src/explain';
import { ablationCam, ablationCamBatch, ablationValue, type AblationCamResult } from '../../src/explain/ablationcam';
import { TslabCamError } from '../../src/errors';
import { gapNet, nested, randomImages, resNet } from '../fixtures/models';
import { HAND_X_NEG, HAND_X_ZERO, handForwardModel } from '../fixtures/handforward';
import { relDiff, scoreWithF } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('ablationCam: known answers on the hand-worked model (zero minimum: zeroed; negative minimum: min − 1e7)', () => {
  const model = handForwardModel();
  const zero = tf.tensor4d(HAND_X_ZERO, [1, 2, 2, 2]);
  // S_0 = Σ g_0 f_0 + Σ g_1 f_1 = 0.5 + 2 = 2.5; zeroing f_k removes its term: α = [0.5, 2] / 2.5.
  const a = ablationCam(model, zero, { layer: 'f', classIndex: 0 });
  assert.equal(a.ablationValue, 0);
  assert.ok(relDiff(a.ablatedScores, [2, 0.5]) < 1e-6);
  assert.ok(relDiff(a.alpha, [0.2, 0.8]) < 1e-6, `α ${a.alpha}`);
  const neg = tf.tensor4d(HAND_X_NEG, [1, 2, 2, 2]);
  // min f = −1, so v = −1 − 1e7; S_0 = 0.5 + 0 = 0.5. Ablating f_0: S = v·Σg_0 = 2.5v;
  // ablating f_1: S = 0.5 + v·Σg_1 = 0.5 + 3v. α = (S − S_k)/S = [1 − 5v, −6v].
  const b = ablationCam(model, neg, { layer: 'f', classIndex: 0 });
  const v = -1 - 1e7;
  assert.equal(b.ablationValue, v);
  assert.ok(relDiff(b.alpha, [1 - 5 * v, -6 * v]) < 1e-6, `α ${b.alpha}`);
  assert.deepEqual([ablationValue([0, 3]), ablationValue([2, 3])], [0, 2 - 1e7]);
  tf.dispose([zero, neg]);
  model.dispose();
});

test('ablationCam: the split pass above the layer equals whole passes with f_k replaced (also around a skip connection and inside a nested model)', () => {
  const cases: Array<[tf.LayersModel, string]> = [[resNet({ seed: 2, size: 16 }), 'res2_b_bn'], [resNet({ seed: 2, size: 16 }), 'res1_out'], [nested({ seed: 3, size: 16 }), '']];
  for (const [model, name] of cases) {
    const layer = resolveLayer(model, name || undefined);
    const x = randomImages(1, 16, 9);
    const before = tf.memory().numTensors;
    const r = ablationCam(model, x, { layer: layer.name, batchSize: 3 });
    assert.equal(tf.memory().numTensors, before, `no leak at ${layer.name}`);
    const [h, w, K] = r.f.shape;
    const whole = Array.from({ length: K }, (_, k) => {
      const f = Float32Array.from(r.f.data);
      for (let p = 0; p < h * w; p++) f[p * K + k] = r.ablationValue;
      const ft = tf.tensor4d(f, [1, h, w, K]);
      const s = scoreWithF(model, x, layer.path, ft, r.classIndex);
      ft.dispose();
      return s;
    });
    assert.ok(relDiff(r.ablatedScores, whole) < 1e-5, `${layer.name}: ${relDiff(r.ablatedScores, whole)}`);
    x.dispose();
    model.dispose();
  }
});

test('ablationCam: identity 11 on digits-gap (α_k S_c = w_k (F_k − v)), batch of 8 = 8 singles', async () => {
  const model = await loadModel('builtin:digits-gap');
  const samples = builtinSamples();
  const images = await Promise.all(samples.map((s) => loadImage(s.path, { model })));
  const x = tf.concat(images.map((t) => (t.rank === 3 ? t.expandDims(0) : t)));
  const x8 = tf.concat([x, x, x, x, x, x, x, x]).slice(0, 8);
  const before = tf.memory().numTensors;
  const batch = ablationCamBatch(model, x8, { classIndex: [0, 1, 2, 3, 4, 5, 6, 7] });
  for (let i = 0; i < 8; i++) {
    const xi = x8.slice(i, 1);
    const one = ablationCam(model, xi, { classIndex: i });
    const checks = verify(one, { model, image: xi });
    xi.dispose();
    assert.equal(checks.length, 1);
    assert.ok(checks[0].pass && !checks[0].skipped, `identity 11: ${JSON.stringify(checks[0])}`);
    assert.ok(relDiff(batch[i].alpha, one.alpha) < 1e-5, `image ${i}`);
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, x8, ...images]);
  model.dispose();
});

test('ablationCam: cpu = wasm to 1e-5; bad batchSize typed; cancellation leaves no tensors', async () => {
  const model = gapNet({ seed: 8, size: 12 });
  const x = randomImages(2, 12, 5);
  const wasm = explain(model, x, { method: 'ablationCam', classIndex: [1, 0] }) as AblationCamResult[];
  await tf.setBackend('cpu');
  try {
    const cpu = explain(model, x, { method: 'ablationCam', classIndex: [1, 0] }) as AblationCamResult[];
    for (let i = 0; i < 2; i++) assert.ok(relDiff(cpu[i].raw.data, wasm[i].raw.data) < 1e-5 && relDiff(cpu[i].alpha, wasm[i].alpha) < 1e-5);
  } finally {
    await tf.setBackend('wasm');
  }
  const before = tf.memory().numTensors;
  assert.throws(() => ablationCam(model, x.slice(0, 1), { batchSize: 0 }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
  const ctrl = new AbortController();
  ctrl.abort();
  assert.throws(() => ablationCamBatch(model, x, { signal: ctrl.signal }), (e: unknown) => e instanceof TslabCamError && e.code === 'CANCELLED');
  assert.equal(tf.memory().numTensors, before + 1); // the x.slice above
  x.dispose();
  model.dispose();
});
