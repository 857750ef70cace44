import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { walkthrough } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { gapNet, mobileNetV2, randomImages, vggFlat } from '../fixtures/models';

before(async () => {
  await initBackend();
});

test('walkthrough on a GAP model: seven steps in the article\'s order, every identity checked and passing', () => {
  const m = gapNet({ depth: 2, size: 32 });
  const img = randomImages(1, 32, 3);
  const n = tf.memory().numTensors;
  const wt = walkthrough(m, img);
  assert.equal(tf.memory().numTensors, n);
  assert.deepEqual(wt.steps.map((s) => s.key), ['features', 'gap', 'scores', 'cam', 'gradCam', 'guidedBackprop', 'guidedGradCam']);
  assert.deepEqual([...wt].map((s) => s.index), [1, 2, 3, 4, 5, 6, 7]);
  const ids = wt.steps.flatMap((s) => s.checks.filter((c) => !c.skipped).map((c) => c.id));
  assert.deepEqual([...new Set(ids)].sort(), [1, 2, 3, 4, 5]);
  assert.ok(wt.allPassed);
  assert.equal(wt.step(4).result?.method, 'cam');
  assert.match(wt.step(5).latex, /\\alpha_k\^c/);
  assert.throws(() => wt.step(8), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
  img.dispose();
  m.dispose();
});

test('walkthrough on a Flatten model: CAM steps say why they do not apply, Grad-CAM still runs and checks α', () => {
  const m = vggFlat({ size: 32, strided: true });
  const img = randomImages(1, 32, 5);
  const wt = walkthrough(m, img);
  assert.match(wt.step(4).notApplicable ?? '', /no GlobalAveragePooling2D/);
  assert.equal(wt.step(4).result, undefined);
  assert.equal(wt.step(3).result?.method, 'gradCam', 'the scores are still shown');
  const five = wt.step(5).checks.find((c) => c.id === 5);
  assert.ok(five && !five.skipped && five.pass);
  assert.equal(wt.step(7).result?.method, 'guidedGradCam');
  img.dispose();
  m.dispose();
});

test('walkthrough on a 224×224×3 MobileNetV2-style model: runs (no stack overflow on large maps) in two model passes', () => {
  const engine = require('../../src/model/engine') as { runEngine: (...a: unknown[]) => unknown };
  const original = engine.runEngine;
  let passes = 0;
  engine.runEngine = (...a: unknown[]) => {
    passes++;
    return original(...a);
  };
  const m = mobileNetV2({ size: 224 });
  const img = randomImages(1, 224, 5);
  const n = tf.memory().numTensors;
  try {
    const wt = walkthrough(m, img);
    assert.equal(passes, 2, 'one pass at the layer (GAP, CAM, Grad-CAM) and one guided pass to the input');
    assert.equal(tf.memory().numTensors, n);
    const gb = wt.step(6).result as unknown as { gradient: { shape: number[] } };
    assert.deepEqual(gb.gradient.shape, [224, 224, 3]);
    assert.match(String(wt.step(6).numbers['max |G|']), /^\d\.\d{3}e[+-]\d+$/);
    assert.ok(Number(wt.step(5).numbers['max L_c']) >= 0);
    assert.ok(wt.steps.every((s) => s.checks.every((c) => c.pass)), 'every identity that ran passed');
  } finally {
    engine.runEngine = original;
    img.dispose();
    m.dispose();
  }
});

test('walkthrough stops on an AbortSignal between its stages: CANCELLED, nothing left behind, the next call works', () => {
  const m = gapNet({ depth: 2, size: 32 });
  const img = randomImages(1, 32, 3);
  const n = tf.memory().numTensors;
  const controller = new AbortController();
  let seen = 0;
  assert.throws(() => walkthrough(m, img, {
    signal: controller.signal,
    onProgress: (p) => {
      if (p.state === 'running' && p.done >= 1 && ++seen === 1) controller.abort();
    },
  }), (e: unknown) => e instanceof TslabCamError && e.code === 'CANCELLED' && /walkthrough/.test(e.message));
  assert.equal(tf.memory().numTensors, n);
  const wt = walkthrough(m, img);
  assert.ok(wt.allPassed);
  assert.equal(tf.memory().numTensors, n);
  img.dispose();
  m.dispose();
});
