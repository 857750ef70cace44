import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { AUGMENTATIONS, cam, eigenCam, eigenGradCam, explain, gradCam, gradCamElementWise, guidedBackprop, hiResCam, normalizeMap, verify, type MapResult } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { handModel } from '../fixtures/handworked';
import { gapNet, randomImages } from '../fixtures/models';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('eigenSmooth known answer: Grad-CAM\'s α_k f_k projected on their first principal component', () => {
  // α = [0.625, 0.75] (hirescam.test.ts); α ⊙ f rows [[0.625, −0.75], [1.25, 0.75], [1.875, 0.75], [0, 1.5]];
  // centred CᵀC = [[1.953125, −0.234375], [−0.234375, 2.671875]], top eigenvalue 2.741548, v = ±(−0.284947, 0.958543);
  // p = C v = [−1.169042, 0.090681, −0.087411, 1.165772] (this sign correlates with the channel mean).
  const { model, image } = handModel();
  const before = tf.memory().numTensors;
  const r = gradCam(model, image, { classIndex: 0, eigenSmooth: true });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(relDiff(r.raw.data, [0, 0.09068099, 0, 1.16577203]) < 1e-6, `map ${r.raw.data}`);
  assert.equal(r.smoothed, 'eigen');
  assert.ok(relDiff(r.alpha, [0.625, 0.75]) < 1e-7, 'the weights are not smoothed');
  // HiResCAM smoothed = Eigen-Grad-CAM (both project ∂S/∂f ⊙ f); Eigen-CAM ignores it (already a projection).
  assert.deepEqual(Array.from(hiResCam(model, image, { classIndex: 0, eigenSmooth: true }).raw.data), Array.from(eigenGradCam(model, image, { classIndex: 0 }).raw.data));
  assert.deepEqual(Array.from(eigenCam(model, image, { eigenSmooth: true }).raw.data), Array.from(eigenCam(model, image).raw.data));
  assert.ok(gradCamElementWise(model, image, { classIndex: 0, eigenSmooth: true }).normalized.data.every((v) => v >= 0 && v <= 1));
  image.dispose();
  model.dispose();
});

/** The map augSmooth must give, built the slow way: 6 separate calls, flipped back, averaged. */
function slowAugSmooth(model: tf.LayersModel, image: tf.Tensor4D, classIndex: number, method: (m: tf.LayersModel, x: tf.Tensor, o: object) => MapResult): Float32Array {
  const maps = AUGMENTATIONS.map((a) => {
    const x = tf.tidy(() => tf.mul(a.flip ? tf.reverse(image, 2) : image, a.factor));
    const r = method(model, x, { classIndex });
    x.dispose();
    const [h, w] = r.raw.shape;
    const m = r.normalized.data;
    return a.flip ? m.map((_, i) => m[Math.floor(i / w) * w + (w - 1 - (i % w))]) : m;
  });
  return maps[0].map((_, i) => maps.reduce((s, m) => s + m[i], 0) / maps.length);
}

test('augSmooth: one pass over 6 copies equals 6 separate calls flipped back and averaged; batch = singles', () => {
  const model = gapNet({ depth: 2, size: 16, seed: 5 });
  const x = randomImages(2, 16, 3);
  const singles = [0, 1].map((i) => x.slice(i, 1) as tf.Tensor4D);
  const before = tf.memory().numTensors;
  const batch = explain(model, x, { method: 'gradCam', augSmooth: true }) as MapResult[];
  assert.equal(tf.memory().numTensors, before);
  batch.forEach((r, i) => {
    const plain = gradCam(model, singles[i]);
    assert.equal(r.classIndex, plain.classIndex, 'the unaugmented image\'s top-1 class in every copy');
    assert.equal(r.smoothed, 'aug');
    assert.ok(relDiff(r.raw.data, slowAugSmooth(model, singles[i], r.classIndex, gradCam)) < 1e-5, `image ${i}`);
    assert.ok(relDiff(r.normalized.data, normalizeMap(r.raw.data)) < 1e-7);
    assert.deepEqual(r.upsampled.shape, [16, 16]);
    assert.deepEqual(Array.from(r.input.data), Array.from(singles[i].dataSync()), 'the result shows the original image');
    const one = gradCam(model, singles[i], { augSmooth: true });
    assert.deepEqual(Array.from(one.raw.data), Array.from(r.raw.data), 'single = batch');
    // verify still checks the unaugmented copy's own quantities.
    assert.ok(verify(one, { model, image: singles[i] }).every((c) => c.pass));
  });
  const layer = explain(model, singles[0], { method: 'hiResCam', augSmooth: true, classIndex: 2 })[0] as MapResult;
  assert.ok(relDiff(layer.raw.data, slowAugSmooth(model, singles[0], 2, hiResCam)) < 1e-5, 'element-wise methods too');
  tf.dispose([x, ...singles]);
  model.dispose();
});

test('smoothing options are checked: booleans only, and only where a method supports them', () => {
  const model = gapNet({ depth: 2, size: 16, seed: 5 });
  const x = randomImages(1, 16, 3);
  const before = tf.memory().numTensors;
  const bad = (fn: () => unknown, re: RegExp) => {
    assert.throws(fn, (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && re.test(e.message) && /Fix:/.test(e.message));
    assert.equal(tf.memory().numTensors, before, `leak after ${re}`);
  };
  bad(() => gradCam(model, x, { eigenSmooth: 'yes' as never }), /eigenSmooth must be true or false/);
  bad(() => gradCam(model, x, { augSmooth: 1 as never }), /augSmooth must be true or false/);
  bad(() => cam(model, x, { eigenSmooth: true }), /CAM does not support eigenSmooth/);
  bad(() => guidedBackprop(model, x, { augSmooth: true }), /Guided backprop does not support augSmooth/i);
  assert.throws(() => explain(model, x, { method: 'gradCam', augSmooth: true, classIndex: [1, 2] }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_CLASS');
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});
