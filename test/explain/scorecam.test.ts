import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { explain } from '../../src/explain';
import { scoreCam, scoreCamBatch, type ScoreCamResult } from '../../src/explain/scorecam';
import type { ChunkProgress } from '../../src/explain/chunks';
import { TslabCamError } from '../../src/errors';
import { gapNet, randomImages, resNet } from '../fixtures/models';
import { HAND_X_NEG, handForwardModel } from '../fixtures/handforward';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('scoreCam: known answer on the hand-worked model', () => {
  const model = handForwardModel();
  const x = tf.tensor4d(HAND_X_NEG, [1, 2, 2, 2]);
  const r = scoreCam(model, x, { layer: 'f', classIndex: 0 });
  // f = x; upsampling to the same size is the identity. H_0 = f_0/3 = [1/3, 2/3, 1, 0],
  // H_1 = (f_1 + 1)/3 = [0, 2/3, 2/3, 1]. Per position Σ_ch g·x = [-1, -1, 0.5, 2], so
  // S_0(x ⊙ H_0) = -1/3 - 2/3 + 0.5 = -0.5 and S_0(x ⊙ H_1) = -2/3 + 1/3 + 2 = 5/3.
  assert.ok(relDiff(r.maskedScores, [-0.5, 5 / 3]) < 1e-6, `masked scores ${r.maskedScores}`);
  const a1 = 1 / (1 + Math.exp(-0.5 - 5 / 3));
  assert.ok(relDiff(r.alpha, [1 - a1, a1]) < 1e-6, `α ${r.alpha}`);
  const f0 = [1, 2, 3, 0];
  const f1 = [-1, 1, 1, 2];
  const want = f0.map((v, p) => Math.max(0, (1 - a1) * v + a1 * f1[p]));
  assert.ok(relDiff(r.raw.data, want) < 1e-6, `map ${r.raw.data}`);
  x.dispose();
  model.dispose();
});

test('scoreCam: a batch of 8 equals 8 singles, whatever the batchSize; no leaks; progress counts every masked image', () => {
  const model = resNet({ seed: 4, size: 16 });
  const x = randomImages(8, 16, 11);
  const before = tf.memory().numTensors;
  const events: ChunkProgress[] = [];
  const batch = scoreCamBatch(model, x, { batchSize: 5, onProgress: (p) => events.push(p) });
  const K = batch[0].alpha.length;
  assert.equal(events[events.length - 1].done, 8 * K);
  assert.match(events[events.length - 1].detail, new RegExp(`image 8/8 · channels ${K}/${K}`));
  // While it runs, every event after the first has a rate and an ETA (the final 'done' event has no ETA left).
  const running = events.slice(1).filter((e) => e.state === 'running');
  assert.ok(running.length > 0 && running.every((e) => e.etaMs !== null && e.rate > 0));
  assert.equal(events[events.length - 1].state, 'done');
  for (let i = 0; i < 8; i++) {
    const xi = x.slice(i, 1);
    const one = scoreCam(model, xi, { classIndex: batch[i].classIndex, batchSize: 3 });
    xi.dispose();
    assert.ok(relDiff(batch[i].maskedScores, one.maskedScores) < 1e-5, `image ${i} scores`);
    assert.ok(relDiff(batch[i].raw.data, one.raw.data) < 1e-5, `image ${i} map`);
  }
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});

test('scoreCam: cpu = wasm to 1e-5', async () => {
  const model = gapNet({ seed: 5, size: 12 });
  const x = randomImages(2, 12, 3);
  const wasm = explain(model, x, { method: 'scoreCam', classIndex: [0, 1] }) as ScoreCamResult[];
  await tf.setBackend('cpu');
  try {
    const cpu = explain(model, x, { method: 'scoreCam', classIndex: [0, 1] }) as ScoreCamResult[];
    for (let i = 0; i < 2; i++) {
      assert.equal(cpu[i].backend, 'cpu');
      assert.ok(relDiff(cpu[i].alpha, wasm[i].alpha) < 1e-5);
      assert.ok(relDiff(cpu[i].raw.data, wasm[i].raw.data) < 1e-5);
    }
  } finally {
    await tf.setBackend('wasm');
  }
  x.dispose();
  model.dispose();
});

test('scoreCam: cancellation between chunks and a bad batchSize are typed errors that leave no tensors', () => {
  const model = gapNet({ seed: 6, size: 12 });
  const x = randomImages(1, 12, 4);
  const before = tf.memory().numTensors;
  const ctrl = new AbortController();
  assert.throws(() => scoreCam(model, x, { batchSize: 2, onProgress: (p) => { if (p.done >= 4) ctrl.abort(); }, signal: ctrl.signal }),
    (e: unknown) => e instanceof TslabCamError && e.code === 'CANCELLED' && /after 4 of 16/.test(e.message));
  assert.equal(tf.memory().numTensors, before);
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => scoreCam(model, x, { batchSize: bad }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
  }
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});

test('forward-pass methods at a layer without a spatial map: typed NO_SPATIAL_LAYER, no tensors left', () => {
  const model = gapNet({ seed: 1, size: 12 });
  const x = randomImages(1, 12, 1);
  const before = tf.memory().numTensors;
  for (const method of ['scoreCam', 'ablationCam', 'randomCam']) {
    assert.throws(() => explain(model, x, { method, layer: 'gap' }), (e: unknown) => e instanceof TslabCamError && e.code === 'NO_SPATIAL_LAYER', method);
  }
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});
