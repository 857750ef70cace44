import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { guidedBackprop } from '../../src/explain';
import { gaussian, smoothGrad, smoothGradBatch } from '../../src/explain/smoothgrad';
import { TslabCamError } from '../../src/errors';
import { gapNet, randomImages } from '../fixtures/models';
import { HAND_G, HAND_X_NEG, handForwardModel } from '../fixtures/handforward';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('smoothGrad: known answers: a linear model\'s gradient is g under any noise; σ = 0 gives guided backprop', () => {
  const model = handForwardModel();
  const x = tf.tensor4d(HAND_X_NEG, [1, 2, 2, 2]);
  const r = smoothGrad(model, x, { classIndex: 0, samples: 7, sigma: 0.3, batchSize: 3 });
  assert.ok(relDiff(r.gradient.data, HAND_G) < 1e-6, `${r.gradient.data}`);
  assert.equal(r.method, 'smoothGrad');
  model.dispose();
  x.dispose();
  const net = gapNet({ seed: 4, size: 12 });
  const y = randomImages(1, 12, 2);
  const zero = smoothGrad(net, y, { samples: 3, sigma: 0 });
  assert.ok(relDiff(zero.gradient.data, guidedBackprop(net, y, { classIndex: zero.classIndex }).gradient.data) < 1e-6);
  const g = gaussian(20000, 5);
  const mean = g.reduce((s, v) => s + v, 0) / g.length;
  const sd = Math.sqrt(g.reduce((s, v) => s + (v - mean) ** 2, 0) / g.length);
  assert.ok(Math.abs(mean) < 0.03 && Math.abs(sd - 1) < 0.03, `N(0,1): mean ${mean} sd ${sd}`);
  net.dispose();
  y.dispose();
});

test('smoothGrad: batch of 8 = 8 singles (any batchSize); no leaks; bad options typed; cancellation', () => {
  const model = gapNet({ seed: 6, size: 12 });
  const x = randomImages(8, 12, 3);
  const before = tf.memory().numTensors;
  const batch = smoothGradBatch(model, x, { samples: 4, seed: 2, batchSize: 5 });
  for (let i = 0; i < 8; i++) {
    const xi = x.slice(i, 1);
    const one = smoothGrad(model, xi, { samples: 4, seed: 2, batchSize: 2, classIndex: batch[i].classIndex });
    xi.dispose();
    assert.ok(relDiff(batch[i].gradient.data, one.gradient.data) < 1e-5, `image ${i}`);
  }
  assert.equal(tf.memory().numTensors, before);
  const xi = x.slice(0, 1);
  for (const bad of [{ samples: 0 }, { sigma: -0.1 }, { sigma: 2 }, { seed: 0.5 }, { batchSize: 0 }]) {
    assert.throws(() => smoothGrad(model, xi, bad), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION', JSON.stringify(bad));
  }
  const ctrl = new AbortController();
  assert.throws(() => smoothGrad(model, xi, { samples: 6, batchSize: 2, signal: ctrl.signal, onProgress: (p) => { if (p.done >= 2) ctrl.abort(); } }),
    (e: unknown) => e instanceof TslabCamError && e.code === 'CANCELLED');
  xi.dispose();
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});
