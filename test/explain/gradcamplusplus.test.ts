import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { gradCamPlusPlus } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { handModel } from '../fixtures/handworked';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('Grad-CAM++ known answer on the hand-worked model (pytorch-grad-cam closed form, ε = 1e-6)', () => {
  // Channel 0 (Σf_0 = 6), only g > 0 counts: g = 1 → 1/(2 + 6) · 1 = 0.125; g = 0.5 → 0.25/(0.5 + 6·0.125) · 0.5
  //   = 0.1; g = 2 → 4/(8 + 6·8) · 2 = 1/7 = 0.142857…; α_0 = 0.367857… (ε shifts it by ~1e-7).
  // Channel 1 (Σf_1 = 3): g = 2 → 4/(8 + 3·8) · 2 = 0.25; g = 1 twice → 1/(2 + 3) · 1 = 0.2 each; α_1 = 0.65.
  // map = ReLU(α_0 f_0 + α_1 f_1) = ReLU([[0.3679 − 0.65, 0.7357 + 0.65], [1.1036 + 0.65, 1.3]]).
  const { model, image } = handModel();
  const before = tf.memory().numTensors;
  const r = gradCamPlusPlus(model, image, { classIndex: 0 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(relDiff(r.alpha, [0.3678570447, 0.6499999122]) < 1e-6, `α ${r.alpha}`);
  assert.ok(relDiff(r.raw.data, [0, 1.3857140015, 1.7535710462, 1.2999998244]) < 1e-6, `map ${r.raw.data}`);
  assert.equal(r.epsilon, 1e-6);
  // The paper's form (ε = 0): 0.3678571429, 0.65 exactly.
  const paper = gradCamPlusPlus(model, image, { classIndex: 0, epsilon: 0 });
  assert.ok(relDiff(paper.alpha, [0.125 + 0.1 + 1 / 7, 0.65]) < 1e-6, `paper α ${paper.alpha}`);
  assert.throws(() => gradCamPlusPlus(model, image, { epsilon: -1 }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && /epsilon/.test(e.message));
  assert.equal(tf.memory().numTensors, before);
  image.dispose();
  model.dispose();
});
