import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { gradCamElementWise } from '../../src/explain';
import { handModel } from '../fixtures/handworked';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('element-wise Grad-CAM known answer on the hand-worked model: Σ_k ReLU(g ⊙ f)', () => {
  // Products g_k f_k per position: (0,0) [1, −2], (0,1) [−2, 1], (1,0) [1.5, −1], (1,1) [0, 2].
  // Clipped per channel before the sum: [[1, 1], [1.5, 2]] (HiResCAM sums first: [[0, 0], [0.5, 2]]).
  const { model, image } = handModel();
  const before = tf.memory().numTensors;
  const r = gradCamElementWise(model, image, { classIndex: 0 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(relDiff(r.raw.data, [1, 1, 1.5, 2]) < 1e-6, `map ${r.raw.data}`);
  image.dispose();
  model.dispose();
});
