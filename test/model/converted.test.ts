/**
 * Real tensorflowjs_converter output (test/fixtures/converted/, made by
 * scripts/make-converter-fixtures.sh with TensorFlow and tensorflowjs 4.22; versions and sizes in
 * its README). Each layers model must load through loadModel, compute what TensorFlow computed on
 * the same input (expected.json), and give engine gradients that agree with finite differences at
 * the default target layer. Formats tfjs 4.22 cannot rebuild are pinned here as the typed error a
 * user gets. The graph model loads with tf.loadGraphModel and computes what its layers twin does.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadLayersModel, loadModel } from '../../src/model/load';
import { runEngine } from '../../src/model/engine';
import { TslabCamError } from '../../src/errors';
import { finiteDifferences, relDiff } from '../helpers/numeric';

const DIR = path.join(__dirname, '..', 'fixtures', 'converted');

interface Expected {
  readonly inputShape: [number, number, number];
  readonly output: number[];
}

function expectedOf(name: string): Expected {
  return JSON.parse(fs.readFileSync(path.join(DIR, name, 'expected.json'), 'utf8')) as Expected;
}

/** The probe input of make_converter_fixtures.py: x[i] = sin(0.37 i), row-major over (H, W, C). */
function probe([h, w, c]: readonly number[]): tf.Tensor4D {
  return tf.tensor4d(Float32Array.from({ length: h * w * c }, (_, i) => Math.sin(0.37 * i)), [1, h, w, c]);
}

/** Output on the probe equals TensorFlow's, and ∂S_c/∂f at the default target layer equals finite differences. */
async function checkLayersModel(name: string, fdTolerance = 1e-2): Promise<void> {
  const before = tf.memory().numTensors;
  const model = await loadLayersModel(path.join(DIR, name));
  const exp = expectedOf(name);
  const x = probe(exp.inputShape);
  const y = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
  assert.ok(relDiff(y, exp.output) <= 1e-4, `${name}: tfjs output ${Array.from(y).slice(0, 4)} vs TensorFlow ${exp.output.slice(0, 4)} (rel ${relDiff(y, exp.output)})`);

  const out = runEngine(model, x, {});
  const c = out.classIndices[0];
  const grads = out.grads.dataSync() as Float32Array;
  assert.ok(grads.some((g) => g !== 0), `${name}: gradient at ${out.layer.name} is not all zero`);
  const samples = finiteDifferences(model, x, out.layer.path, out.f, grads, c);
  for (const s of samples) {
    assert.ok(s.rel <= fdTolerance, `${name} ${out.layer.name} element ${s.index}: analytic ${s.analytic} vs finite difference ${s.numeric} (rel ${s.rel.toExponential(2)})`);
  }
  out.dispose();
  x.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, before, `${name}: no tensor leaks`);
}

/** Loading fails with a TslabCamError of `code` whose message mentions `mention`, and leaks nothing. */
async function checkRefused(name: string, code: TslabCamError['code'], mention: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  await assert.rejects(loadModel(path.join(DIR, name)), (e: unknown) => {
    assert.ok(e instanceof TslabCamError, `${name}: a TslabCamError, got ${String(e)}`);
    assert.equal(e.code, code, `${name}: ${e.message}`);
    assert.match(e.message, mention);
    assert.match(e.message, /Fix:/);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, `${name}: no tensor leaks after the error`);
}

/** A tf.io.IOHandler over a converted folder on disk (model.json + shards), for tf.loadGraphModel. */
function folderHandler(dir: string): tf.io.IOHandler {
  return {
    load: async () => {
      const j = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as tf.io.ModelJSON;
      const specs: tf.io.WeightsManifestEntry[] = [];
      const bufs: Buffer[] = [];
      for (const group of j.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(bufs);
      return {
        modelTopology: j.modelTopology, format: j.format, generatedBy: j.generatedBy, convertedBy: j.convertedBy,
        signature: j.signature, userDefinedMetadata: j.userDefinedMetadata, modelInitializer: j.modelInitializer,
        weightSpecs: specs, weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

before(async () => {
  await initBackend();
});

test('converted Keras 2 .h5 (tf_keras → tensorflowjs_converter --input_format=keras): loads, matches TensorFlow, engine = finite differences', async () => {
  await checkLayersModel('keras2-h5');
});

test('converted Keras 2 model that starts with a Rescaling layer (scale 1/255, offset −0.5)', async () => {
  await checkLayersModel('rescaling');
});

test('converted Keras 2 model with a Normalization layer: tfjs 4.22 has no Normalization class; tslab-cam registers one, so it loads and matches TensorFlow', async () => {
  await checkLayersModel('normalization');
});

test('converted tf_keras.applications.MobileNetV3Small: its `x + 3` is saved as a TFOpLambda layer, which tfjs cannot rebuild (MODEL_LOAD)', async () => {
  await checkRefused('mobilenetv3-small', 'MODEL_LOAD', /'TFOpLambda'/);
});

test('converted MobileNetV3-small layout written with standard layers (hard-swish, squeeze-excite, 64×64, α=0.5)', async () => {
  await checkLayersModel('mobilenetv3-small-layers');
});

test('converted Keras 3 .keras (--input_format=keras_keras): tfjs 4.22 alone cannot rebuild Keras 3 JSON; loadModel normalises it, so it loads and matches TensorFlow', async () => {
  await checkLayersModel('keras3-keras');
});

test('converted SavedModel → graph model: tf.loadGraphModel and loadModel load it and it computes what its layers twin (keras2-h5) computes', async () => {
  const before = tf.memory().numTensors;
  const graph = await tf.loadGraphModel(folderHandler(path.join(DIR, 'saved-model')));
  const twin = await loadLayersModel(path.join(DIR, 'keras2-h5'));
  const exp = expectedOf('saved-model');
  const x = probe(exp.inputShape);
  const g = tf.tidy(() => (graph.predict(x) as tf.Tensor).dataSync());
  const l = tf.tidy(() => (twin.predict(x) as tf.Tensor).dataSync());
  assert.ok(relDiff(g, exp.output) <= 1e-4, `graph model vs TensorFlow: rel ${relDiff(g, exp.output)}`);
  assert.ok(relDiff(g, l) <= 1e-5, `graph model vs its layers twin: rel ${relDiff(g, l)}`);
  // loadModel reads graph models too, and its engine gives the layers twin's scores.
  const loaded = await loadModel(path.join(DIR, 'saved-model'));
  assert.ok(loaded instanceof tf.GraphModel);
  const viaLoad = tf.tidy(() => (loaded.predict(x) as tf.Tensor).dataSync());
  assert.ok(relDiff(viaLoad, l) <= 1e-5, `loadModel's graph model vs its layers twin: rel ${relDiff(viaLoad, l)}`);
  loaded.dispose();
  x.dispose();
  twin.dispose();
  graph.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});
