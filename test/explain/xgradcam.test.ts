import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { xGradCam } from '../../src/explain';
import { handModel } from '../fixtures/handworked';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('XGrad-CAM known answer on the hand-worked model (ε = 1e-7)', () => {
  // α_0 = Σ f_0 g_0 / Σ f_0 = (1 − 2 + 1.5 + 0) / 6 = 1/12;  α_1 = Σ f_1 g_1 / Σ f_1 = (−2 + 1 − 1 + 2) / 3 = 0.
  // map = ReLU(f_0 / 12) = [[1, 2], [3, 0]] / 12 (f_0 ≥ 0).
  const { model, image } = handModel();
  const before = tf.memory().numTensors;
  const r = xGradCam(model, image, { classIndex: 0 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(relDiff(r.alpha, [1 / 12, 0]) < 1e-6, `α ${r.alpha}`);
  assert.ok(relDiff(r.raw.data, [1 / 12, 2 / 12, 3 / 12, 0]) < 1e-6, `map ${r.raw.data}`);
  assert.equal(r.epsilon, 1e-7);
  // ε is in the denominator: a huge ε shrinks α by Σf / (Σf + ε).
  const big = xGradCam(model, image, { classIndex: 0, epsilon: 6 });
  assert.ok(Math.abs(big.alpha[0] - 0.5 / 12) < 1e-7);
  image.dispose();
  model.dispose();
});
