import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { pixelSeed, randomCam, randomCamBatch, randomWeights } from '../../src/explain/randomcam';
import { TslabCamError } from '../../src/errors';
import { gapNet, randomImages } from '../fixtures/models';
import { HAND_X_NEG, handForwardModel } from '../fixtures/handforward';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('randomCam: known answer (the seeded weights on the hand-worked f), uniform in (−1, 1)', () => {
  const model = handForwardModel();
  const x = tf.tensor4d(HAND_X_NEG, [1, 2, 2, 2]);
  const r = randomCam(model, x, { layer: 'f', seed: 7 });
  const a = randomWeights(2, 7);
  assert.deepEqual(Array.from(r.alpha), Array.from(a));
  const f0 = [1, 2, 3, 0];
  const f1 = [-1, 1, 1, 2];
  assert.ok(relDiff(r.raw.data, f0.map((v, p) => Math.max(0, a[0] * v + a[1] * f1[p]))) < 1e-6);
  const many = randomWeights(10000, 3);
  assert.ok(many.every((v) => v > -1 && v < 1));
  const mean = many.reduce((s, v) => s + v, 0) / many.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.notDeepEqual(Array.from(randomWeights(4, 1)), Array.from(randomWeights(4, 2)));
  x.dispose();
  model.dispose();
});

test('randomCam: batch of 8 = 8 singles, no leak, bad seed typed', () => {
  const model = gapNet({ seed: 3, size: 12 });
  const x = randomImages(8, 12, 2);
  const before = tf.memory().numTensors;
  const batch = randomCamBatch(model, x, { seed: 5 });
  for (let i = 0; i < 8; i++) {
    const xi = x.slice(i, 1);
    assert.ok(relDiff(randomCam(model, xi, { seed: 5 }).raw.data, batch[i].raw.data, 1e-12) < 1e-6);
    xi.dispose();
  }
  assert.throws(() => randomCam(model, x.slice(0, 1), { seed: 0.5 }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
  assert.equal(tf.memory().numTensors, before + 1);
  x.dispose();
  model.dispose();
});

test('randomCam without a seed: a draw per image, seeded by its pixels (same image, same weights; alone = in a batch)', () => {
  const model = gapNet({ seed: 3, size: 12 });
  const x = randomImages(4, 12, 9);
  const before = tf.memory().numTensors;
  const batch = randomCamBatch(model, x);
  const alphas = batch.map((r) => Array.from(r.alpha));
  assert.equal(new Set(alphas.map((a) => a.join(','))).size, 4, 'four images, four different weight vectors');
  for (let i = 0; i < 4; i++) {
    const xi = x.slice(i, 1);
    const single = randomCam(model, xi);
    assert.deepEqual(Array.from(single.alpha), alphas[i]);
    assert.equal(single.seed, batch[i].seed);
    assert.deepEqual(Array.from(single.alpha), Array.from(randomWeights(single.alpha.length, single.seed)));
    assert.ok(relDiff(single.raw.data, batch[i].raw.data, 1e-12) < 1e-6);
    xi.dispose();
  }
  // The seed comes from the pixels' bits: one changed pixel changes it.
  const px = Float32Array.from({ length: 12 * 12 * 3 }, (_, i) => (i % 7) / 7);
  const moved = Float32Array.from(px);
  moved[100] += 1e-3;
  assert.equal(pixelSeed(px), pixelSeed(Float32Array.from(px)));
  assert.notEqual(pixelSeed(px), pixelSeed(moved));
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});
