import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadLayersModel, saveModel } from '../../src/model/load';
import { runEngine } from '../../src/model/engine';
import { Normalization } from '../../src/model/preprocessing';
import { rewriteAsKeras3 } from '../fixtures/keras3-model';
import { randomImages } from '../fixtures/models';
import { relDiff } from '../helpers/numeric';

const MEAN = [0.485, 0.456, 0.406];
const VARIANCE = [0.229 ** 2, 0.224 ** 2, 0.225 ** 2];
let tmp: string;

before(async () => {
  await initBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-preprocessing-'));
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** conv → GAP → dense, optionally behind a Keras Normalization with ImageNet's mean and std. */
function net(normalize: boolean): tf.LayersModel {
  const input = tf.input({ shape: [16, 16, 3], name: 'image' });
  let x: tf.SymbolicTensor = input;
  if (normalize) x = new Normalization({ name: 'normalization', axis: -1 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'conv' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), name: 'logits' }).apply(x) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: x, name: normalize ? 'normalized' : 'plain' });
  if (normalize) {
    const vals = [tf.tensor1d(MEAN), tf.tensor1d(VARIANCE), tf.scalar(1000, 'int32')];
    m.getLayer('normalization').setWeights(vals);
    tf.dispose(vals);
  }
  return m;
}

test('a Keras Normalization layer (Keras 2 and Keras 3 model.json) loads and computes (x − μ)/σ per channel', async () => {
  const model = net(true);
  const plain = net(false);
  const x = randomImages(2, 16, 3);
  const normalised = tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d(MEAN)), tf.sqrt(tf.tensor1d(VARIANCE)))) as tf.Tensor4D;
  const want = tf.tidy(() => (plain.predict(normalised) as tf.Tensor).dataSync());
  for (const keras3 of [false, true]) {
    const dir = path.join(tmp, keras3 ? 'keras3' : 'keras2');
    await saveModel(model, dir, { meta: null });
    // As Keras writes it: axis as a list (Keras 2) or an int (Keras 3), no mean/variance in the config.
    const file = path.join(dir, 'model.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    const norm = json.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === 'Normalization');
    norm.config = { name: 'normalization', trainable: true, dtype: 'float32', axis: keras3 ? -1 : [-1], mean: null, variance: null, invert: false };
    fs.writeFileSync(file, JSON.stringify(json));
    if (keras3) rewriteAsKeras3(dir, new Map(model.layers.map((l) => [l.name, l.outputShape as unknown])));
    assert.match(fs.readFileSync(file, 'utf8'), /"Normalization"/);
    // Keras 2 names the weights by layer, Keras 3 by object path (mean, variance, count = vars/0…2).
    assert.match(fs.readFileSync(file, 'utf8'), keras3 ? /"layers\/normalization\/vars\/2"/ : /"normalization\/count"/);
    const before = tf.memory().numTensors;
    const loaded = await loadLayersModel(dir);
    const got = tf.tidy(() => (loaded.predict(x) as tf.Tensor).dataSync());
    assert.ok(relDiff(got, want) <= 1e-5, `${keras3 ? 'Keras 3' : 'Keras 2'}: ${relDiff(got, want)}`);
    // The engine sees through it: the gradient at the conv equals the plain twin's on normalised input.
    const a = runEngine(loaded, x, { layer: 'conv', classIndex: 1 });
    const b = runEngine(plain, normalised, { layer: 'conv', classIndex: 1 });
    assert.ok(relDiff(a.grads.dataSync(), b.grads.dataSync()) <= 1e-5);
    assert.ok(relDiff(a.f.dataSync(), b.f.dataSync()) <= 1e-5);
    a.dispose();
    b.dispose();
    loaded.dispose();
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  }
  tf.dispose([x, normalised]);
  model.dispose();
  plain.dispose();
});

test('Normalization with mean and variance in its config (no weights), and invert', () => {
  const layer = new Normalization({ name: 'n', mean: [1, 2], variance: [4, 9] });
  const inv = new Normalization({ name: 'inv', mean: [1, 2], variance: [4, 9], invert: true });
  const y = tf.tidy(() => layer.apply(tf.tensor2d([[3, 8]])) as tf.Tensor);
  assert.deepEqual(Array.from(y.dataSync()), [1, 2]);
  const back = tf.tidy(() => inv.apply(y) as tf.Tensor);
  assert.deepEqual(Array.from(back.dataSync()), [3, 8]);
  assert.equal(layer.weights.length, 0);
  tf.dispose([y, back]);
});
