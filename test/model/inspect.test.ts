import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { findTargetLayer, listLayers, resolveLayer } from '../../src/model/inspect';
import { findGapHead } from '../../src/model/head';
import { runEngine } from '../../src/model/engine';
import { TslabCamError } from '../../src/errors';
import { gapNet, mobileNetV2, nested, resNet, vggFlat } from '../fixtures/models';

before(async () => {
  await initBackend();
});

test('findTargetLayer picks the last spatial feature map before the head, across topologies', () => {
  const cases: Array<[tf.LayersModel, string]> = [
    [vggFlat({ size: 32 }), 'block2_conv2'], // the pool after it is passed over
    [gapNet({ depth: 3 }), 'conv3'],
    [resNet({ size: 32 }), 'res3_out'], // the ReLU after the last residual Add
    [mobileNetV2({ size: 64 }), 'out_relu6'],
    [nested({ size: 24 }), 'top_conv'],
  ];
  for (const [m, want] of cases) {
    assert.equal(findTargetLayer(m).name, want, m.name);
    m.dispose();
  }
});

test('a nested sub-model is searched: its last map is found by full path or unique inner name', () => {
  const inner = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same', name: 'inner_conv' })], name: 'features' });
  const input = tf.input({ shape: [8, 8, 3] });
  const x = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(inner.apply(input)) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(x) as tf.SymbolicTensor });
  assert.equal(findTargetLayer(m).name, 'features/inner_conv');
  assert.equal(resolveLayer(m, 'inner_conv').name, 'features/inner_conv');
  const img = tf.randomUniform([1, 8, 8, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const out = runEngine(m, img, { classIndex: 1 });
  assert.deepEqual(out.f.shape, [1, 8, 8, 4], 'the engine reaches inside a nested Sequential');
  assert.ok(out.grads.dataSync().some((v) => v !== 0));
  out.dispose();
  img.dispose();
  assert.throws(() => resolveLayer(m, -1), (e: unknown) => e instanceof TslabCamError && e.code === 'NO_SPATIAL_LAYER' && /features\/inner_conv/.test(e.message));
  m.dispose();
});

test('listLayers gives shapes and parameter counts; unknown names get the closest valid names', () => {
  const m = gapNet({ depth: 2, size: 32, width: 8, classes: 5 });
  const layers = listLayers(m);
  const conv2 = layers.find((l) => l.name === 'conv2');
  assert.deepEqual(conv2?.outputShape, [null, 16, 16, 16]);
  assert.equal(conv2?.params, 3 * 3 * 8 * 16 + 16);
  assert.equal(layers.find((l) => l.name === 'predictions')?.params, 16 * 5 + 5);
  assert.throws(() => resolveLayer(m, 'cnv2'), (e: unknown) => e instanceof TslabCamError && e.code === 'UNKNOWN_LAYER' && /conv2/.test(e.message));
  assert.throws(() => resolveLayer(m, 99), (e: unknown) => e instanceof TslabCamError && e.code === 'UNKNOWN_LAYER');
  m.dispose();
});

test('findGapHead finds GAP → (Dropout) → Dense and only that', () => {
  const withDropout = (() => {
    const input = tf.input({ shape: [8, 8, 3] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'c' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({ name: 'g' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: 0.3, name: 'drop' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 3, name: 'd' }).apply(x) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: tf.layers.activation({ activation: 'softmax', name: 'sm' }).apply(x) as tf.SymbolicTensor });
  })();
  const head = findGapHead(withDropout);
  assert.equal(head?.featureLayer.name, 'c');
  assert.equal(head?.denseLayer.name, 'd');
  assert.deepEqual(head?.between, ['drop']);
  const flat = vggFlat({ size: 16 });
  assert.equal(findGapHead(flat), null);
  withDropout.dispose();
  flat.dispose();
});

test('the kept layer list follows a Sequential that gains layers, and listLayers hands out a copy', () => {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, padding: 'same', name: 'first_conv' }));
  assert.equal(resolveLayer(m, 'first_conv').name, 'first_conv');
  assert.throws(() => resolveLayer(m, 'second_conv'), (e: unknown) => e instanceof TslabCamError && e.code === 'UNKNOWN_LAYER');
  m.add(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'second_conv' }));
  assert.deepEqual(resolveLayer(m, 'second_conv').outputShape, [null, 8, 8, 3]);
  assert.equal(findTargetLayer(m).name, 'second_conv');
  const list = listLayers(m);
  list.pop();
  assert.equal(listLayers(m).length, 2);
  m.dispose();
});
