import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadLayersModel, saveModel } from '../../src/model/load';
import { runEngine } from '../../src/model/engine';
import { isKeras3Topology, kerasSnakeCase, normalizeKeras3Topology } from '../../src/model/keras3';
import { TslabCamError } from '../../src/errors';
import { writeKerasFixture } from '../fixtures/keras-model';
import { rewriteAsKeras3 } from '../fixtures/keras3-model';
import { mobileNetV2, nested, randomImages, resNet } from '../fixtures/models';
import { relDiff } from '../helpers/numeric';

let tmp: string;

before(async () => {
  await initBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-keras3-'));
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Layer name → output shape (batch null), for the keras tensors of the rewritten file. */
function shapesOf(model: tf.LayersModel): Map<string, unknown> {
  return new Map(model.layers.map((l) => [l.name, (l.outputShape as unknown)]));
}

test('Keras 3 model.json (functional and sequential, with BatchNorm) loads and predicts the hand-computed scores', async () => {
  for (const style of ['functional', 'sequential'] as const) {
    const fx = writeKerasFixture(path.join(tmp, `hand-${style}`), { style, batchNorm: true });
    const shapes = new Map<string, unknown>([['input_1', [null, 3, 3, 1]], ['conv2d', [null, 2, 2, 2]], ['batch_normalization', [null, 2, 2, 2]], ['global_average_pooling2d', [null, 2]], ['dense', [null, 2]]]);
    rewriteAsKeras3(fx.dir, shapes);
    const text = fs.readFileSync(fx.modelJson, 'utf8');
    assert.match(text, /"DTypePolicy"/);
    if (style === 'functional') assert.match(text, /"__keras_tensor__"/);
    assert.match(text, /"layers\/batch_normalization\/vars\/3"/);
    assert.match(text, /"batch_shape"/);
    const before = tf.memory().numTensors;
    const m = await loadLayersModel(fx.modelJson);
    const x = tf.tensor4d(fx.input.flat(), [1, 3, 3, 1]);
    const got = tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync());
    assert.ok(relDiff(got, fx.expected) <= 1e-5, `${style}: ${Array.from(got)} vs ${fx.expected}`);
    x.dispose();
    m.dispose();
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  }
});

test('Keras 3 functional models with skip connections, merges and a nested sub-model load as exact twins', async () => {
  for (const make of [() => resNet(), () => nested(), () => mobileNetV2({ size: 32 })]) {
    const original = make();
    const dir = path.join(tmp, `zoo-${original.name}`);
    await saveModel(original, dir, { meta: null });
    rewriteAsKeras3(dir, shapesOf(original));
    const loaded = await loadLayersModel(dir);
    const x = randomImages(2, original.inputs[0].shape[1] as number, 4);
    const a = tf.tidy(() => (original.predict(x) as tf.Tensor).dataSync());
    const b = tf.tidy(() => (loaded.predict(x) as tf.Tensor).dataSync());
    assert.equal(relDiff(b, a), 0, `${original.name}: predictions differ`);
    const ea = runEngine(original, x);
    const eb = runEngine(loaded, x);
    assert.equal(eb.layer.name, ea.layer.name);
    assert.equal(relDiff(eb.grads.dataSync(), ea.grads.dataSync()), 0, `${original.name}: gradients differ`);
    tf.dispose([ea, eb].flatMap((e) => [e.f, e.grads, e.scores]));
    x.dispose();
    loaded.dispose();
    original.dispose();
  }
});

test('mixed-precision DTypePolicy objects load as float32 (tfjs computes in float32)', async () => {
  const original = resNet();
  const dir = path.join(tmp, 'mixed');
  await saveModel(original, dir, { meta: null });
  rewriteAsKeras3(dir, shapesOf(original), { dtypePolicy: 'mixed_float16' });
  assert.match(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'), /mixed_float16/);
  const loaded = await loadLayersModel(dir);
  const x = randomImages(1, 32, 1);
  assert.equal(relDiff(tf.tidy(() => (loaded.predict(x) as tf.Tensor).dataSync()), tf.tidy(() => (original.predict(x) as tf.Tensor).dataSync())), 0);
  x.dispose();
  loaded.dispose();
  original.dispose();
});

async function expectLoadError(dir: string, problem: RegExp, fix: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  await assert.rejects(loadLayersModel(dir), (e: unknown) => {
    assert.ok(e instanceof TslabCamError, String(e));
    assert.equal(e.code, 'MODEL_LOAD');
    assert.match(e.message, problem);
    assert.match(e.fix, fix);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
}

test('a Keras 3 file with an unknown layer class, or a Keras operation used as a layer, gets a typed error naming it and the fix', async () => {
  const original = resNet();
  const shapes = shapesOf(original);
  const custom = path.join(tmp, 'custom');
  await saveModel(original, custom, { meta: null });
  rewriteAsKeras3(custom, shapes, {
    edit: (layers) => layers.map((l) => (l.class_name === 'GlobalAveragePooling2D'
      ? { ...l, module: 'my_package.layers', class_name: 'FancyPooling', registered_name: 'my_package>FancyPooling' } : l)),
  });
  await expectLoadError(custom, /layer class 'FancyPooling' that TensorFlow\.js does not know/, /tf\.serialization\.registerClass/);

  const op = path.join(tmp, 'op');
  await saveModel(original, op, { meta: null });
  rewriteAsKeras3(op, shapes, {
    edit: (layers) => layers.map((l) => (l.class_name === 'Add' ? { ...l, module: 'keras.src.ops.numpy', class_name: 'Add', registered_name: null } : l)),
  });
  await expectLoadError(op, /Keras operation keras\.src\.ops\.numpy\.Add/, /layers\.Add/);
  original.dispose();
});

test('normalizeKeras3Topology leaves Keras 2 configs alone and rewrites Keras 3 node, input and dtype forms', () => {
  const keras2 = { class_name: 'Functional', config: { layers: [{ class_name: 'Dense', config: { dtype: 'float32' }, name: 'd', inbound_nodes: [[['x', 0, 0, {}]]] }], input_layers: [['x', 0, 0]], output_layers: [['d', 0, 0]] } };
  assert.equal(isKeras3Topology(keras2), false);
  assert.equal(normalizeKeras3Topology(keras2), keras2);
  const t = (layer: string) => ({ class_name: '__keras_tensor__', config: { shape: [null, 4], dtype: 'float32', keras_history: [layer, 0, 0] } });
  const keras3 = {
    module: 'keras', class_name: 'Functional', registered_name: 'Functional', build_config: { input_shape: null },
    config: {
      name: 'm', trainable: true, input_layers: ['x', 0, 0], output_layers: ['add', 0, 0],
      layers: [
        { module: 'keras.layers', class_name: 'InputLayer', registered_name: null, name: 'x', inbound_nodes: [], config: { batch_shape: [null, 4], dtype: 'float32', sparse: false, optional: false, name: 'x' } },
        { module: 'keras.layers', class_name: 'Dense', registered_name: null, build_config: { input_shape: [null, 4] }, name: 'd', inbound_nodes: [{ args: [t('x')], kwargs: { training: false, mask: null } }],
          config: { name: 'd', units: 4, dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null },
            kernel_initializer: { module: 'keras.initializers', class_name: 'GlorotUniform', config: { seed: 1 }, registered_name: null } } },
        { module: 'keras.layers', class_name: 'Add', registered_name: null, name: 'add', inbound_nodes: [{ args: [[t('x'), t('d')]], kwargs: {} }], config: { name: 'add' } },
      ],
    },
  };
  assert.equal(isKeras3Topology(keras3), true);
  const k2 = normalizeKeras3Topology(keras3) as { config: { layers: Array<Record<string, unknown>>; input_layers: unknown; output_layers: unknown } };
  assert.deepEqual(k2.config.input_layers, [['x', 0, 0]]);
  assert.deepEqual(k2.config.output_layers, [['add', 0, 0]]);
  const [input, dense, add] = k2.config.layers;
  assert.deepEqual(input.config, { batch_input_shape: [null, 4], dtype: 'float32', sparse: false, name: 'x' });
  assert.deepEqual(dense.inbound_nodes, [[['x', 0, 0, { training: false }]]]);
  assert.deepEqual((dense.config as Record<string, unknown>).dtype, 'float32');
  assert.deepEqual((dense.config as Record<string, unknown>).kernel_initializer, { class_name: 'GlorotUniform', config: { seed: 1 } });
  assert.equal('build_config' in dense, false);
  assert.deepEqual(add.inbound_nodes, [[['x', 0, 0, {}], ['d', 0, 0, {}]]]);
});

test('Keras 3 weight paths use Keras\'s snake case of the class name', () => {
  assert.deepEqual(['Conv2D', 'BatchNormalization', 'DepthwiseConv2D', 'GlobalAveragePooling2D', 'Dense', 'Functional', 'ReLU'].map(kerasSnakeCase),
    ['conv2d', 'batch_normalization', 'depthwise_conv2d', 'global_average_pooling2d', 'dense', 'functional', 're_lu']);
});

test('a tf_keras model with TFOpLambda layers is refused with the graph-model route as the fix', async () => {
  const original = resNet();
  const dir = path.join(tmp, 'oplambda');
  await saveModel(original, dir, { meta: null });
  const file = path.join(dir, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  const add = json.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Add');
  add.class_name = 'TFOpLambda';
  add.config = { name: add.config.name, trainable: true, dtype: 'float32', function: 'math.add' };
  fs.writeFileSync(file, JSON.stringify(json));
  await expectLoadError(dir, /layer class 'TFOpLambda' that TensorFlow\.js does not know/, /--input_format tf_saved_model/);
  original.dispose();
});
