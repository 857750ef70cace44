import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { guidedBackprop, guidedGradCam, gradCam, withGuidedRelu } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { mobileNetV2, randomImages, resNet } from '../fixtures/models';
import { mulberry32, relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('property: a guided ReLU/ReLU6 passes gradient only where input > 0 and incoming gradient > 0', () => {
  const rand = mulberry32(5);
  for (let trial = 0; trial < 20; trial++) {
    const xs = Float32Array.from({ length: 64 }, () => rand() * 16 - 8);
    const dys = Float32Array.from({ length: 64 }, () => rand() * 2 - 1);
    const x = tf.tensor1d(xs);
    const dy = tf.tensor1d(dys);
    for (const [op, upper] of [[tf.relu, Infinity], [tf.relu6, 6]] as const) {
      const g = withGuidedRelu(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(op(t), dy)))(x));
      const got = g.dataSync();
      for (let i = 0; i < 64; i++) {
        const expected = xs[i] > 0 && xs[i] < upper && dys[i] > 0 ? dys[i] : 0;
        assert.ok(Math.abs(got[i] - expected) < 1e-7, `x=${xs[i]} dy=${dys[i]}: ${got[i]}`);
        assert.ok(got[i] >= 0, 'no negative gradient passes a guided ReLU');
      }
      g.dispose();
    }
    tf.dispose([x, dy]);
  }
});

test('on a model whose ReLUs never cut, guided backprop equals the plain input gradient', () => {
  // Positive weights, biases and inputs: every ReLU input is > 0 and every gradient reaching it is > 0.
  const pos = (seed: number) => tf.initializers.randomUniform({ minval: 0.01, maxval: 0.2, seed });
  const input = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: pos(1), biasInitializer: pos(2), name: 'c1' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: pos(3), biasInitializer: pos(4), name: 'c2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, kernelInitializer: pos(5), name: 'out' }).apply(x) as tf.SymbolicTensor });
  const img = randomImages(1, 12, 3);
  const guided = guidedBackprop(m, img, { classIndex: 1 });
  const plain = tf.grad((t: tf.Tensor) => (m.predict(t) as tf.Tensor).slice([0, 1], [1, 1]).sum())(img);
  assert.ok(relDiff(guided.gradient.data, plain.dataSync()) <= 1e-5);
  assert.ok(guided.gradient.data.some((v) => v !== 0));
  tf.dispose([img, plain]);
  m.dispose();
});

test('the override is scoped: after the call (also after a throw) tf.grad gives what it gave before', () => {
  const x = tf.tensor1d([-2, -1, 0.5, 3, 7]);
  const dy = tf.tensor1d([1, -1, -1, 1, 1]);
  const f = (t: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.relu(t), tf.relu6(t)), dy));
  const beforeG = tf.grad(f)(x);
  const m = resNet({ size: 32 });
  const img = randomImages(1, 32, 1);
  guidedBackprop(m, img);
  const after = tf.grad(f)(x);
  assert.deepEqual(Array.from(after.dataSync()), Array.from(beforeG.dataSync()));
  assert.deepEqual(Array.from(after.dataSync(), (v) => v + 0), [0, 0, -2, 2, 1], 'plain ReLU + ReLU6 gradients');
  const n = tf.memory().numTensors;
  assert.throws(() => guidedBackprop(m, img, { classIndex: 99 }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_CLASS');
  assert.equal(tf.memory().numTensors, n, 'no leak after the error');
  const afterThrow = tf.grad(f)(x);
  assert.deepEqual(Array.from(afterThrow.dataSync(), (v) => v + 0), [0, 0, -2, 2, 1]);
  tf.dispose([x, dy, beforeG, after, afterThrow, img]);
  m.dispose();
});

test('guided Grad-CAM is guided backprop ⊙ bilinearly upsampled L_c, on MobileNetV2-style depthwise blocks', () => {
  const m = mobileNetV2({ size: 64 });
  const img = randomImages(1, 64, 9);
  const n = tf.memory().numTensors;
  const gg = guidedGradCam(m, img, { classIndex: 3 });
  const gb = guidedBackprop(m, img, { classIndex: 3 });
  const gc = gradCam(m, img, { classIndex: 3 });
  assert.equal(tf.memory().numTensors, n);
  assert.deepEqual(gg.product.shape, [64, 64, 3]);
  const p = gg.product.data;
  for (let i = 0; i < p.length; i += 97) {
    const expected = gb.gradient.data[i] * gc.upsampled.data[Math.floor(i / 3)];
    assert.ok(Math.abs(p[i] - expected) <= 1e-6 * Math.max(1, Math.abs(expected)));
  }
  assert.ok(gg.image.data.every((v) => v >= 0 && v <= 1));
  img.dispose();
  m.dispose();
});
