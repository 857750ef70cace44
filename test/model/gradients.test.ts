import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { withLeanGradients } from '../../src/model/gradients';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('the lean BatchNorm gradient equals tfjs\'s for x, mean, variance, scale and offset; the original is restored', async () => {
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    const x = tf.randomNormal([2, 5, 4, 3], 0, 1, 'float32', 1);
    const mean = tf.randomNormal([3], 0, 0.3, 'float32', 2);
    const variance = tf.randomUniform([3], 0.5, 2, 'float32', 3);
    const offset = tf.randomNormal([3], 0, 0.3, 'float32', 4);
    const scale = tf.randomUniform([3], 0.5, 1.5, 'float32', 5);
    const dy = tf.randomNormal([2, 5, 4, 3], 0, 1, 'float32', 6);
    const f = (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) => tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, 1e-3), dy));
    const plain = tf.grads(f)([x, mean, variance, offset, scale]);
    const lean = withLeanGradients(() => tf.grads(f)([x, mean, variance, offset, scale]));
    plain.forEach((p, i) => assert.ok(relDiff(lean[i].dataSync(), p.dataSync()) <= 1e-6, `${backend} input ${i}`));
    assert.equal(tf.getGradient('FusedBatchNorm')?.gradFunc.toString().includes('tile'), true, 'original gradient restored');
    tf.dispose([x, mean, variance, offset, scale, dy, ...plain, ...lean]);
  }
  await initBackend({ backend: 'wasm' });
});
