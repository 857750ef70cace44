import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend';
import { mulberry32 } from '../../../src/data/prng';
import { gradCam, verify } from '../../../src/explain';
import { randomImages, vggFlat } from '../../fixtures/models';
import { relDiff } from '../../helpers/numeric';

before(async () => {
  await initBackend({ backend: 'wasm' });
});

async function maxPoolGrad(backend: string, x: Float32Array, shape: [number, number, number, number], dy: Float32Array, k: number, s: number, pad: 'valid' | 'same'): Promise<Float32Array> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const t = tf.tensor4d(x, shape);
    const y = tf.maxPool(t, k, s, pad);
    const d = tf.tensor(dy.slice(0, y.size), y.shape);
    return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, k, s, pad), d)))(t).dataSync() as Float32Array;
  });
}

test('MaxPoolGrad on wasm equals cpu, also for windows whose maximum is negative and for tied zeros', async () => {
  const rand = mulberry32(4);
  const configs: Array<[number, number, number, number, 'valid' | 'same']> = [[8, 4, 2, 2, 'valid'], [7, 3, 2, 2, 'same'], [9, 5, 3, 2, 'same'], [8, 3, 2, 1, 'valid'], [6, 2, 3, 3, 'valid'], [12, 40, 3, 2, 'same']];
  for (const [h, c, k, s, pad] of configs) {
    for (const kind of ['signed', 'relu-zeros']) {
      const shape: [number, number, number, number] = [2, h, h, c];
      const x = Float32Array.from({ length: 2 * h * h * c }, () => {
        const v = rand() * 2 - 1;
        return kind === 'signed' ? v : Math.max(0, v); // ReLU outputs: many all-zero windows (ties)
      });
      const dy = Float32Array.from({ length: x.length }, () => rand() * 2 - 1);
      const cpu = await maxPoolGrad('cpu', x, shape, dy, k, s, pad);
      const before = tf.memory().numTensors;
      const wasm = await maxPoolGrad('wasm', x, shape, dy, k, s, pad);
      assert.equal(tf.memory().numTensors, before);
      // Overlapping windows add several dy into one dx: the order of those sums may differ.
      assert.ok(relDiff(wasm, cpu) <= 1e-6, `${[h, c, k, s, pad, kind]}: ${relDiff(wasm, cpu)}`);
    }
  }
  await tf.setBackend('wasm');
});

test('Grad-CAM α on a max-pooling model on wasm matches finite differences (identity 5)', () => {
  const m = vggFlat({ size: 32 });
  const img = randomImages(1, 32, 17);
  for (const layer of ['block2_conv2', 'block1_conv2']) {
    const r = gradCam(m, img, { layer, classIndex: 1 });
    const five = verify(r, { model: m, image: img }).find((c) => c.id === 5);
    assert.ok(five && !five.skipped && five.pass, `${layer}: ${JSON.stringify(five)}`);
  }
  img.dispose();
  m.dispose();
});
