import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { buildModel } from '../../src/data/architectures';
import { evaluationScenes, predictScenes } from '../../src/data/evaluate';
import { scenesToTensor } from '../../src/data/batch';
import { CancelledError } from '../../src/errors';

test('predictScenes: chunked scores equal one batch; an AbortSignal stops it at a chunk boundary with nothing left behind', async () => {
  await initBackend();
  const model = buildModel('digits-gap', 4);
  const scenes = evaluationScenes({ singles: 12, doubles: 8 });
  const whole = tf.tidy(() => (model.predict(scenesToTensor(scenes)) as tf.Tensor).dataSync());
  const before = tf.memory().numTensors;
  const chunked = await predictScenes(model, scenes, 6, { progress: false });
  chunked.forEach((v, i) => assert.ok(Math.abs(v - whole[i]) <= 1e-5 * Math.max(1, Math.abs(v)), `score ${i}: ${v} vs ${whole[i]}`));
  const ac = new AbortController();
  await assert.rejects(predictScenes(model, scenes, 6, { signal: ac.signal, onProgress: (p) => { if (p.done === 12) ac.abort(); } }),
    (e: unknown) => e instanceof CancelledError && e.progress.done === 12 && e.progress.total === 20 && e.progress.unit === 'scenes');
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(await predictScenes(model, scenes, 6, { progress: false }), chunked, 'the next call gives the same scores');
  model.dispose();
});
