import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend';
import { atLeast, atMost, gradientScope, positiveAtMost, withLeanGradients } from '../../../src/model/patches/gradients';
import { relDiff } from '../../helpers/numeric';

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

test('the lean ClipByValue gradient equals tfjs\'s exactly, boundaries included; guided Relu6 mask matches; originals restored', async () => {
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const original = tf.getGradient('ClipByValue');
    // Values on both bounds, inside, outside, and both signs of dy.
    const x = tf.tensor1d([-3, -1e-7, 0, 1e-7, 2.5, 6 - 1e-6, 6, 6 + 1e-6, 9, 0.5]);
    const dy = tf.tensor1d([1, -2, 3, -4, 5, -6, 7, -8, 9, -10]);
    for (const [lo, hi] of [[0, 6], [-1, 1], [2.5, 9]]) {
      const f = (a: tf.Tensor) => tf.sum(tf.mul(tf.clipByValue(a, lo, hi), dy));
      const plain = tf.grad(f)(x);
      const lean = withLeanGradients(() => tf.grad(f)(x));
      // + 0 turns −0 (a masked negative dy times 0) into 0, which tfjs's select writes.
      assert.deepEqual(Array.from(lean.dataSync(), (v) => v + 0), Array.from(plain.dataSync()), `${backend} [${lo}, ${hi}]`);
      tf.dispose([plain, lean]);
    }
    assert.equal(tf.getGradient('ClipByValue'), original, 'original gradient restored');
    const mask = tf.tidy(() => Array.from(tf.mul(atLeast(x, 0), atMost(x, 6)).dataSync()));
    const reference = Array.from(x.dataSync()).map((v) => (v >= 0 && v <= 6 ? 1 : 0));
    assert.deepEqual(mask, reference);
    tf.dispose([x, dy]);
    assert.equal(tf.memory().numTensors, before);
  }
  await initBackend({ backend: 'wasm' });
});

test('the lean Relu6 gradient equals tfjs\'s exactly, boundaries included, and leaves a Relu6 gradient another scope put in place', async () => {
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    const before = tf.memory().numTensors;
    const original = tf.getGradient('Relu6');
    const x = tf.tensor1d([-3, -1e-7, 0, 1e-7, 2.5, 6 - 1e-6, 6, 6 + 1e-6, 9, 0.5]);
    const dy = tf.tensor1d([1, -2, 3, -4, 5, -6, 7, -8, 9, -10]);
    const f = (a: tf.Tensor) => tf.sum(tf.mul(tf.relu6(a), dy));
    const plain = tf.grad(f)(x);
    const lean = withLeanGradients(() => tf.grad(f)(x));
    assert.deepEqual(Array.from(lean.dataSync(), (v) => v + 0), Array.from(plain.dataSync(), (v) => v + 0), backend);
    assert.deepEqual(tf.tidy(() => Array.from(positiveAtMost(x, 6).dataSync())), Array.from(x.dataSync(), (v) => (v > 0 && v <= 6 ? 1 : 0)));
    // A scope outside the lean one (as guided backprop's is) keeps its own Relu6 rule inside it.
    const halve = gradientScope(() => [{ kernelName: 'Relu6', inputsToSave: ['x'], gradFunc: (g: tf.Tensor | tf.Tensor[]) => ({ x: () => tf.mul(g as tf.Tensor, 0.5) }) }]);
    const halved = halve(() => withLeanGradients(() => tf.grad(f)(x)));
    assert.deepEqual(Array.from(halved.dataSync()), Array.from(dy.dataSync(), (v) => v * 0.5));
    assert.equal(tf.getGradient('Relu6'), original, 'original gradient restored');
    tf.dispose([x, dy, plain, lean, halved]);
    assert.equal(tf.memory().numTensors, before);
  }
  await initBackend({ backend: 'wasm' });
});
