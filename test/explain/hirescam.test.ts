import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { gradCam, hiResCam } from '../../src/explain';
import { handModel } from '../fixtures/handworked';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('HiResCAM known answer on the hand-worked model: Σ_k g ⊙ f per position, no averaging', () => {
  // Per position Σ_k g_k f_k: (0,0) 1 − 2 = −1, (0,1) −2 + 1 = −1, (1,0) 1.5 − 1 = 0.5, (1,1) 0 + 2 = 2.
  // ReLU → [[0, 0], [0.5, 2]]. Grad-CAM's averaged weights give a different map here
  // (α = [0.625, 0.75]: [[0, 2], [2.625, 1.5]]) because the gradient varies over positions.
  const { model, image } = handModel();
  const before = tf.memory().numTensors;
  const r = hiResCam(model, image, { classIndex: 0 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(relDiff(r.raw.data, [0, 0, 0.5, 2]) < 1e-6, `map ${r.raw.data}`);
  assert.ok(relDiff(r.normalized.data, [0, 0, 0.25, 1]) < 1e-6);
  assert.ok(relDiff(gradCam(model, image, { classIndex: 0 }).raw.data, [0, 2, 2.625, 1.5]) < 1e-6);
  assert.equal(r.S, 0.5);
  image.dispose();
  model.dispose();
});
