import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { eigenGradCam } from '../../src/explain';
import { handModel } from '../fixtures/handworked';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('Eigen-Grad-CAM known answer on the hand-worked model: first principal component of g ⊙ f', () => {
  // g ⊙ f as a 4×2 matrix: [[1, −2], [−2, 1], [1.5, −1], [0, 2]]; means [0.125, 0];
  // centred C = [[0.875, −2], [−2.125, 1], [1.375, −1], [−0.125, 2]]; CᵀC = [[7.1875, −5.5], [−5.5, 10]].
  // λ = (17.1875 + √(2.8125² + 4·5.5²))/2 = 14.270680; v ∝ (−5.5, λ − 7.1875) → ±(−0.613305, 0.789846).
  // p = C v = ±[−2.116334, 2.093120, −1.633141, 1.656355]; the channel mean m = [−0.5, −0.5, 0.25, 1]
  // correlates with the + sign (Σ p (m − m̄) = 1.260 > 0). map = ReLU(p) = [0, 2.093120, 0, 1.656355].
  const { model, image } = handModel();
  const before = tf.memory().numTensors;
  const r = eigenGradCam(model, image, { classIndex: 0 });
  assert.equal(tf.memory().numTensors, before);
  const p = [-2.1163339833, 2.0931197707, -1.6331407578, 1.6563549704];
  assert.ok(relDiff(r.projection.data, p) < 1e-6, `projection ${r.projection.data}`);
  assert.ok(relDiff(r.raw.data, p.map((v) => Math.max(v, 0))) < 1e-6);
  image.dispose();
  model.dispose();
});
