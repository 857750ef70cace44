import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { explain, fuseMaps, layerCam, tanhScaled } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { handModel } from '../fixtures/handworked';
import { gapNet, randomImages } from '../fixtures/models';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('LayerCAM known answer on the hand-worked model: ReLU(Σ_k ReLU(g) ⊙ f)', () => {
  // ReLU(g) per position: (0,0) [1, 2], (0,1) [0, 1], (1,0) [0.5, 0], (1,1) [2, 1].
  // Σ_k ReLU(g_k) f_k: (0,0) 1 − 2 = −1 → 0, (0,1) 0 + 1 = 1, (1,0) 1.5, (1,1) 0 + 2 = 2.
  // (Element-wise Grad-CAM gives 1 at (0,0): f_1 < 0 there, so ReLU(g f) ≠ ReLU(g) f.)
  const { model, image } = handModel();
  const before = tf.memory().numTensors;
  const r = layerCam(model, image, { classIndex: 0 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(relDiff(r.raw.data, [0, 1, 1.5, 2]) < 1e-6, `map ${r.raw.data}`);
  image.dispose();
  model.dispose();
});

test('LayerCAM fusion: tanh(γ M / max M) per layer, upsampled to the finest layer, element-wise maximum', () => {
  // tanh scaling by hand: M = [0, 1, 2], γ = 2 → tanh([0, 1, 2]) = [0, 0.76159, 0.96403].
  assert.ok(relDiff(tanhScaled(Float32Array.from([0, 1, 2]), 2), [0, Math.tanh(1), Math.tanh(2)]) < 1e-6);
  assert.deepEqual(Array.from(tanhScaled(new Float32Array(3), 2)), [0, 0, 0], 'an all-zero map stays zero');
  // Fusion by hand: a 1×1 map (constant after upsampling) and a 2×2 one, max per pixel.
  const { fused } = fuseMaps([{ data: Float32Array.from([5]), shape: [1, 1] }, { data: Float32Array.from([0, 1, 2, 4]), shape: [2, 2] }], 2, 2, 2);
  const t = Math.tanh(2);
  assert.ok(relDiff(fused, [t, t, t, Math.max(t, Math.tanh(2))]) < 1e-6);

  const model = gapNet({ depth: 3, size: 32, seed: 4 });
  const x = randomImages(2, 32, 9);
  const singles = [0, 1].map((i) => x.slice(i, 1));
  const before = tf.memory().numTensors;
  const layers = ['conv1', 'conv3'];
  // explain() takes a method's own options too, typed by the method's name.
  const fusedResults = explain(model, x, { method: 'layerCam', layers, classIndex: [1, 2] });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(fusedResults.length, 2);
  fusedResults.forEach((r, i) => {
    const per = layers.map((layer) => layerCam(model, singles[i], { layer, classIndex: [1, 2][i] }));
    const [h, w] = per[0].raw.shape;
    assert.deepEqual(r.raw.shape, [h, w], 'the fused map has the finest layer\'s resolution');
    assert.ok(relDiff(r.raw.data, fuseMaps(per.map((p) => p.raw), 2, h, w).fused) < 1e-5);
    assert.equal(r.layer, 'conv1+conv3');
    assert.deepEqual(r.fused?.layers, layers);
    assert.ok(r.normalized.data.every((v) => v >= 0 && v <= 1));
  });
  const bad = (o: object, re: RegExp) => assert.throws(() => layerCam(model, singles[0], o), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && re.test(e.message));
  bad({ layers: [] }, /non-empty/);
  bad({ layers: ['conv1'], layer: 'conv3' }, /Both layer and layers/);
  bad({ gamma: 0 }, /gamma/);
  assert.throws(() => layerCam(model, singles[0], { layers: ['conv1', 'nope'] }), (e: unknown) => e instanceof TslabCamError && e.code === 'UNKNOWN_LAYER');
  assert.equal(tf.memory().numTensors, before, 'no leak after errors');
  tf.dispose([x, ...singles]);
  model.dispose();
});
