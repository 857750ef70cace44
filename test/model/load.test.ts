import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { pathToFileURL } from 'url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadGraphModel, loadLayersModel, loadModel, saveModel, weightSpecBytes, modelFileIOHandler } from '../../src/model/load';
import { attachModelMeta, builtinModelPath, modelMetaOf, META_FILE, type ModelMeta } from '../../src/model/builtin';
import { TslabCamError, type ErrorCode } from '../../src/errors';
import { nested, randomizeBatchNorm, randomImages, resNet } from '../fixtures/models';
import { writeKerasFixture } from '../fixtures/keras-model';
import { layersToGraph, type GraphFixture } from '../fixtures/graph-models';

let tmp: string;
let server: http.Server;
let base: string;
let requests: string[] = [];

/** A small CNN with every weight kind the round trip must keep: conv, depthwise, BN statistics, dense. */
function convBnDense(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 3], name: 'image' });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: 'conv1' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'relu1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }), biasInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 3 }), name: 'dw' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }), biasInitializer: tf.initializers.randomUniform({ minval: -0.2, maxval: 0.2, seed: 5 }), name: 'predictions' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out, name: 'conv_bn_dense' });
  randomizeBatchNorm(model, 9);
  return model;
}

/** Writes a graph fixture as tensorflowjs_converter lays it out: model.json + one shard. */
function writeGraph(g: GraphFixture, dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(g.modelJson));
  fs.writeFileSync(path.join(dir, g.modelJson.weightsManifest[0].paths[0]), Buffer.from(g.weightData));
}

function predict(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

/**
 * Expect `run` to fail with a TslabCamError of `code` whose message matches `problem` and names a
 * fix, leaving tf.memory().numTensors where it was.
 */
async function expectLoadError(run: () => Promise<unknown>, code: ErrorCode, problem: RegExp): Promise<TslabCamError> {
  const before = tf.memory().numTensors;
  let caught: unknown = null;
  try {
    await run();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof TslabCamError, `expected TslabCamError ${code}, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, problem);
  assert.ok(caught.fix.length > 10, `no fix in: ${caught.message}`);
  assert.match(caught.message, / Fix: /);
  assert.equal(tf.memory().numTensors, before, `tensors leaked by ${code}: ${caught.message}`);
  return caught;
}

function copyDir(from: string, to: string): string {
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(to, f));
  return to;
}

before(async () => {
  await initBackend();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-load-'));
  // A loopback server over tmp/, plus an HTML page and a redirect-free 404, like a static host.
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(url.pathname);
    if (url.pathname === '/slow/model.json') {
      return; // never answers: the client's timeout must end the request
    }
    if (url.pathname === '/html-shard/weights.bin') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>login</html>');
      return;
    }
    if (url.pathname === '/endless/weights.bin') {
      // Chunked, no Content-Length, far more bytes than any manifest needs.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      const push = (): void => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64) res.once('drain', () => { sent++; push(); });
        else res.end();
      };
      push();
      return;
    }
    if (url.pathname === '/page/model.json') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!DOCTYPE html><html><body>Sign in to view this file</body></html>');
      return;
    }
    const file = path.join(tmp, decodeURIComponent(url.pathname));
    if (!file.startsWith(tmp) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await writeBadFiles();
});

/**
 * tmp/good is a valid saved model; the other folders are copies of it damaged one way each,
 * shared by the file tests and (through the server) the URL tests.
 */
async function writeBadFiles(): Promise<void> {
  const model = convBnDense();
  const good = (await saveModel(model, path.join(tmp, 'good'))).dir;
  model.dispose();
  const goodJson = fs.readFileSync(path.join(good, 'model.json'), 'utf8');
  const bin = fs.readFileSync(path.join(good, 'weights.bin'));

  fs.writeFileSync(path.join(copyDir(good, path.join(tmp, 'corrupt')), 'model.json'), goodJson.replace('"modelTopology":', '"modelTopology" '));
  fs.writeFileSync(path.join(copyDir(good, path.join(tmp, 'truncated')), 'model.json'), goodJson.slice(0, Math.floor(goodJson.length / 2)));
  fs.unlinkSync(path.join(copyDir(good, path.join(tmp, 'missing-shard')), 'weights.bin'));
  fs.writeFileSync(path.join(copyDir(good, path.join(tmp, 'short-shard')), 'weights.bin'), bin.subarray(0, bin.length - 10));
  fs.writeFileSync(path.join(copyDir(good, path.join(tmp, 'long-shard')), 'weights.bin'), Buffer.concat([bin, Buffer.alloc(8)]));
  copyDir(path.join(tmp, 'missing-shard'), path.join(tmp, 'html-shard'));
  copyDir(path.join(tmp, 'missing-shard'), path.join(tmp, 'endless'));
  const elsewhere = JSON.parse(goodJson) as { weightsManifest: Array<{ paths: string[] }> };
  elsewhere.weightsManifest[0].paths = ['http://127.0.0.2:9/weights.bin'];
  fs.writeFileSync(path.join(copyDir(good, path.join(tmp, 'other-origin')), 'model.json'), JSON.stringify(elsewhere));
  const twin = convBnDense();
  const graphFixture = layersToGraph(twin);
  writeGraph(graphFixture, path.join(tmp, 'graph'));
  twin.dispose();
}

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('saveModel → loadModel reproduces predictions bit for bit (conv, BN, depthwise, dense), in one shard and in many', async () => {
  const before = tf.memory().numTensors;
  const model = convBnDense();
  const x = randomImages(3, 12, 5);
  const want = predict(model, x);

  const one = await saveModel(model, path.join(tmp, 'roundtrip'));
  assert.deepEqual(one.weightFiles.map((f) => path.basename(f)), ['weights.bin']);
  const weightCount = model.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
  assert.equal(one.weightBytes, weightCount * 4);
  assert.equal(fs.statSync(one.weightFiles[0]).size, one.weightBytes);
  assert.equal(fs.statSync(one.modelJson).size, one.modelJsonBytes);
  assert.equal(one.metaFile, null);
  const json = JSON.parse(fs.readFileSync(one.modelJson, 'utf8')) as { format: string; weightsManifest: Array<{ paths: string[] }> };
  assert.equal(json.format, 'layers-model');

  const many = await saveModel(model, path.join(tmp, 'sharded'), { shardBytes: 256 });
  assert.equal(many.weightFiles.length, Math.ceil(many.weightBytes / 256));
  assert.match(path.basename(many.weightFiles[1]), /^group1-shard2of\d+\.bin$/);

  for (const source of [one.modelJson, many.dir, pathToFileURL(one.modelJson).href]) {
    const loaded = await loadLayersModel(source);
    assert.notEqual(loaded, model);
    assert.deepEqual(Array.from(predict(loaded, x)), Array.from(want), `predictions differ after loading ${source}`);
    assert.deepEqual(loaded.layers.map((l) => l.name), model.layers.map((l) => l.name));
    loaded.dispose();
  }
  model.dispose();
  x.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('nested sub-models and residual topologies survive the round trip bit for bit', async () => {
  const before = tf.memory().numTensors;
  for (const [name, model] of [['nested', nested()], ['resnet', resNet()]] as const) {
    randomizeBatchNorm(model, 4);
    const saved = await saveModel(model, path.join(tmp, `rt-${name}`));
    const loaded = await loadLayersModel(saved.dir);
    const x = randomImages(2, model.inputs[0].shape[1] as number, 6);
    assert.deepEqual(Array.from(predict(loaded, x)), Array.from(predict(model, x)), name);
    x.dispose();
    model.dispose();
    loaded.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('builtin:NAME loads the shipped model with its metadata (when the built-ins have been trained)', async (t) => {
  let file: string;
  try {
    file = builtinModelPath('digits-gap');
  } catch (e) {
    assert.ok(e instanceof TslabCamError && e.code === 'MODEL_LOAD', String(e));
    t.skip('models/digits-gap is not built yet');
    return;
  }
  const before = tf.memory().numTensors;
  const model = await loadModel('builtin:digits-gap');
  assert.ok(fs.existsSync(file));
  const meta = modelMetaOf(model);
  if (fs.existsSync(path.join(path.dirname(file), META_FILE))) assert.ok(meta && meta.inputSize.length === 2, 'metadata not attached');
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('metadata attached to a model is saved beside it and attached again on load', async () => {
  const model = convBnDense();
  const meta: ModelMeta = { inputSize: [12, 12], channels: 3, inputRange: [-1, 1], classNames: ['a', 'b', 'c', 'd'], head: 'softmax' };
  attachModelMeta(model, meta);
  const saved = await saveModel(model, path.join(tmp, 'with-meta'));
  assert.equal(saved.metaFile, path.join(saved.dir, META_FILE));
  const loaded = await loadLayersModel(saved.dir);
  assert.deepEqual(modelMetaOf(loaded), meta);
  // Broken metadata is refused before any tensor exists.
  const badMeta = copyDir(saved.dir, path.join(tmp, 'bad-meta'));
  fs.writeFileSync(path.join(badMeta, META_FILE), JSON.stringify({ inputSize: [12], channels: 3, inputRange: [0, 1] }));
  await expectLoadError(() => loadModel(badMeta), 'MODEL_LOAD', /tslab-cam\.json cannot be used: inputSize/);
  const without = await loadLayersModel(path.join(tmp, 'good'));
  assert.equal(modelMetaOf(without), null);
  model.dispose();
  loaded.dispose();
  without.dispose();
});

test('a Keras-converted layers-model (Functional and Sequential, BN, quantized) loads and predicts the hand-computed scores', async () => {
  const before = tf.memory().numTensors;
  const variants = [
    { name: 'functional', o: {} },
    { name: 'sequential', o: { style: 'sequential' as const } },
    { name: 'uint8', o: { quantize: 'uint8' as const } },
    { name: 'float16', o: { quantize: 'float16' as const } },
    { name: 'bn', o: { batchNorm: true } },
    { name: 'seq-bn-uint8', o: { style: 'sequential' as const, batchNorm: true, quantize: 'uint8' as const } },
  ];
  for (const v of variants) {
    const fx = writeKerasFixture(path.join(tmp, `keras-${v.name}`), v.o);
    const model = await loadLayersModel(fx.modelJson);
    const x = tf.tensor4d(fx.input.flat(), [1, 3, 3, 1]);
    const got = Array.from(predict(model, x));
    if (!v.o.batchNorm) {
      // S = [4, −2.375] by hand (see the fixture): every intermediate is exact in float32.
      assert.deepEqual(got, [4, -2.375], v.name);
      assert.deepEqual(fx.expected, [4, -2.375]);
    } else {
      got.forEach((g, i) => assert.ok(Math.abs(g - fx.expected[i]) <= 1e-5 * Math.max(1, Math.abs(fx.expected[i])), `${v.name}: ${g} vs ${fx.expected[i]}`));
    }
    assert.ok(model.layers.some((l) => l.getClassName() === 'GlobalAveragePooling2D'));
    x.dispose();
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('weightSpecBytes: stored bytes follow dtype or quantization, memory bytes the decoded dtype', () => {
  assert.deepEqual(weightSpecBytes({ name: 'a', shape: [3, 4], dtype: 'float32' }), { stored: 48, memory: 48 });
  assert.deepEqual(weightSpecBytes({ name: 'b', shape: [5], dtype: 'int32' }), { stored: 20, memory: 20 });
  assert.deepEqual(weightSpecBytes({ name: 'c', shape: [7], dtype: 'bool' }), { stored: 7, memory: 7 });
  assert.deepEqual(weightSpecBytes({ name: 'd', shape: [10], dtype: 'float32', quantization: { dtype: 'uint8', scale: 1, min: 0 } }), { stored: 10, memory: 40 });
  assert.deepEqual(weightSpecBytes({ name: 'e', shape: [10], dtype: 'float32', quantization: { dtype: 'uint16', scale: 1, min: 0 } }), { stored: 20, memory: 40 });
  assert.deepEqual(weightSpecBytes({ name: 'f', shape: [2, 5], dtype: 'float32', quantization: { dtype: 'float16' } }), { stored: 20, memory: 40 });
  assert.deepEqual(weightSpecBytes({ name: 'g', shape: [], dtype: 'float32' }), { stored: 4, memory: 4 });
});

test('loading from an http URL on a loopback server: model.json, its shards and metadata, same origin', async () => {
  const before = tf.memory().numTensors;
  const model = convBnDense();
  attachModelMeta(model, { inputSize: [12, 12], channels: 3, inputRange: [0, 1] });
  await saveModel(model, path.join(tmp, 'served'), { shardBytes: 300 });
  const x = randomImages(2, 12, 8);
  requests = [];
  const loaded = await loadLayersModel(`${base}/served/model.json`);
  assert.deepEqual(Array.from(predict(loaded, x)), Array.from(predict(model, x)));
  assert.deepEqual(modelMetaOf(loaded)?.inputSize, [12, 12]);
  const shards = fs.readdirSync(path.join(tmp, 'served')).filter((f) => f.endsWith('.bin'));
  assert.ok(shards.length > 1);
  for (const f of ['model.json', META_FILE, ...shards]) assert.ok(requests.includes(`/served/${f}`), `${f} not requested: ${requests.join(' ')}`);
  // A Keras-converted model over http too.
  writeKerasFixture(path.join(tmp, 'served-keras'));
  const keras = await loadLayersModel(new URL(`${base}/served-keras/model.json`));
  const kx = tf.tensor4d([1, 2, 0, 0, 1, 3, 2, 0, 1], [1, 3, 3, 1]);
  assert.deepEqual(Array.from(predict(keras, kx)), [4, -2.375]);
  [model, loaded, keras].forEach((m) => m.dispose());
  tf.dispose([x, kx]);
  assert.equal(tf.memory().numTensors, before);
});

test('bad model files: corrupt, truncated, missing or mis-sized shards, graph models, wrong paths: typed errors naming the fix, no leaks', async () => {
  const bin = fs.statSync(path.join(tmp, 'good', 'weights.bin')).size;
  await expectLoadError(() => loadModel(path.join(tmp, 'corrupt')), 'MODEL_LOAD', /corrupt[/\\]model\.json is not valid JSON/);
  await expectLoadError(() => loadModel(path.join(tmp, 'truncated')), 'MODEL_LOAD', /not valid JSON.*truncated/);
  await expectLoadError(() => loadModel(path.join(tmp, 'missing-shard')), 'MODEL_LOAD', /Weight file .*missing-shard[/\\]weights\.bin does not exist/);
  const e1 = await expectLoadError(() => loadModel(path.join(tmp, 'short-shard')), 'MODEL_LOAD', new RegExp(`holds ${bin - 10} bytes.*need ${bin} bytes.*truncated`));
  assert.match(e1.fix, /again/);
  await expectLoadError(() => loadModel(path.join(tmp, 'long-shard')), 'MODEL_LOAD', new RegExp(`holds ${bin + 8} bytes.*need ${bin} bytes`));
  const g = await expectLoadError(() => loadLayersModel(path.join(tmp, 'graph')), 'GRAPH_MODEL', /graph model/);
  assert.match(g.fix, /loadModel\(source\) or loadGraphModel\(source\)/);

  const noTopology = path.join(tmp, 'no-topology.json');
  fs.writeFileSync(noTopology, JSON.stringify({ weightsManifest: [] }));
  await expectLoadError(() => loadModel(noTopology), 'GRAPH_MODEL', /no topology/);

  const savedModel = path.join(tmp, 'saved_model_dir');
  fs.mkdirSync(savedModel);
  fs.writeFileSync(path.join(savedModel, 'saved_model.pb'), '');
  await expectLoadError(() => loadModel(savedModel), 'GRAPH_MODEL', /SavedModel/);

  await expectLoadError(() => loadModel(path.join(tmp, 'does', 'not', 'exist', 'model.json')), 'MODEL_LOAD', /does not exist/);
  const missing = path.join(tmp, 'missing-model', 'model.json');
  await assert.rejects(loadModel(missing), { message: `Model file ${missing} does not exist. Fix: Check the path (a relative path is relative to the current directory, ${process.cwd()}), or use a URL or 'builtin:digits-gap'.` });
  await expectLoadError(() => loadModel(path.join(tmp, 'empty-dir-xyz')), 'MODEL_LOAD', /does not exist/);
  fs.mkdirSync(path.join(tmp, 'empty-dir'));
  await expectLoadError(() => loadModel(path.join(tmp, 'empty-dir')), 'MODEL_LOAD', /has no model\.json/);
  await expectLoadError(() => loadModel(path.join(tmp, 'model.h5')), 'MODEL_LOAD', /does not exist/);
  fs.writeFileSync(path.join(tmp, 'model.h5'), 'HDF');
  await expectLoadError(() => loadModel(path.join(tmp, 'model.h5')), 'MODEL_LOAD', /not a TensorFlow\.js model\.json.*\.h5.*Fix: .*tensorflowjs_converter/);
});

test('model.json contents that cannot be trusted: unknown classes, weights outside the folder, shapes that disagree', async () => {
  const good = path.join(tmp, 'good');
  const goodJson = JSON.parse(fs.readFileSync(path.join(good, 'model.json'), 'utf8')) as {
    modelTopology: { config: { layers: Array<{ class_name: string }> } };
    weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[] }> }>;
  };
  const write = (name: string, edit: (j: typeof goodJson) => void): string => {
    const dir = copyDir(good, path.join(tmp, name));
    const j = structuredClone(goodJson);
    edit(j);
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(j));
    return dir;
  };
  const custom = write('custom-class', (j) => { j.modelTopology.config.layers[3].class_name = 'MyEvilLambda'; });
  const e = await expectLoadError(() => loadModel(custom), 'MODEL_LOAD', /'MyEvilLambda' that TensorFlow\.js does not know.*nothing is ever executed/);
  assert.match(e.fix, /registerClass/);

  const outside = write('outside', (j) => { j.weightsManifest[0].paths = ['../roundtrip/weights.bin']; });
  await expectLoadError(() => loadModel(outside), 'MODEL_LOAD', /outside its folder/);

  // Same byte count, different shapes: a manifest that does not belong to this topology.
  const reshaped = write('reshaped', (j) => {
    const w = j.weightsManifest[0].weights.find((s) => s.name === 'conv1/kernel');
    if (!w) throw new Error('fixture changed');
    w.shape = [w.shape[3], w.shape[2], w.shape[1], w.shape[0]];
  });
  await expectLoadError(() => loadModel(reshaped), 'MODEL_LOAD', /conv1\/kernel: file \[6,3,3,3\], layer \[3,3,3,6\]/);

  const renamed = write('renamed', (j) => { j.weightsManifest[0].weights[0].name = 'other/kernel'; });
  await expectLoadError(() => loadModel(renamed), 'MODEL_LOAD', /has no weights for conv1\/kernel/);

  // tfjs builds layers (and their variables) one at a time: a topology that fails after some were
  // built must not leave their variables behind.
  const halfBuilt = path.join(tmp, 'half-built');
  const fx = writeKerasFixture(halfBuilt);
  const kj = JSON.parse(fs.readFileSync(fx.modelJson, 'utf8')) as { modelTopology: { model_config: { config: { output_layers: unknown } } } };
  kj.modelTopology.model_config.config.output_layers = [['no_such_layer', 0, 0]];
  fs.writeFileSync(fx.modelJson, JSON.stringify(kj));
  const vars = Object.keys(tf.engine().registeredVariables).length;
  await expectLoadError(() => loadModel(halfBuilt), 'MODEL_LOAD', /could not rebuild the layers/);
  assert.equal(Object.keys(tf.engine().registeredVariables).length, vars, 'variables leaked');

  const badShape = write('bad-shape', (j) => { j.weightsManifest[0].weights[0].shape = [3, -1]; });
  await expectLoadError(() => loadModel(badShape), 'MODEL_LOAD', /shape \[3,-1\]/);
});

test('MODEL_TOO_LARGE is decided from the manifest alone, before any weight file is read', async () => {
  const good = path.join(tmp, 'good');
  const bytes = fs.statSync(path.join(good, 'weights.bin')).size;
  const e = await expectLoadError(() => loadModel(good, { maxWeightBytes: 100 }), 'MODEL_TOO_LARGE', new RegExp(`need ${bytes} bytes.*limit of 100 bytes`));
  assert.match(e.fix, /maxWeightBytes/);

  // A manifest claiming 40 GB with no weight file at all: refused by size, not by the missing file.
  const huge = path.join(tmp, 'huge');
  fs.mkdirSync(huge);
  const json = JSON.parse(fs.readFileSync(path.join(good, 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[]; weights: Array<{ shape: number[] }> }> };
  json.weightsManifest[0].weights[0].shape = [100000, 100000];
  json.weightsManifest[0].paths = ['absent.bin'];
  fs.writeFileSync(path.join(huge, 'model.json'), JSON.stringify(json));
  await expectLoadError(() => loadModel(huge), 'MODEL_TOO_LARGE', /GiB.*above the limit of 1073741824 bytes/);

  // Quantized weights count at their decoded size (uint8 → float32 is 4×).
  const q = writeKerasFixture(path.join(tmp, 'quantized-limit'), { quantize: 'uint8' });
  const stored = fs.statSync(q.weightFile).size;
  await expectLoadError(() => loadModel(q.modelJson, { maxWeightBytes: stored * 2 }), 'MODEL_TOO_LARGE', new RegExp(`need ${stored * 4} bytes`));
});

test('bad URLs: HTML page, 404, refused connection, mis-sized shard over http', async () => {
  await expectLoadError(() => loadModel(`${base}/page/model.json`), 'MODEL_LOAD', /returned an HTML page .*text\/html.*Sign in/);
  const nf = await expectLoadError(() => loadModel(`${base}/nothing/model.json`), 'MODEL_LOAD', /answered HTTP 404/);
  assert.match(nf.fix, /model\.json/);

  // A closed port on loopback: listen, note the port, close, then connect.
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await expectLoadError(() => loadModel(`http://127.0.0.1:${port}/model.json`), 'MODEL_LOAD', /connection was refused/);

  await expectLoadError(() => loadModel(`${base}/short-shard/model.json`), 'MODEL_LOAD', /holds \d+ bytes.*need \d+ bytes/);
  await expectLoadError(() => loadModel(`${base}/long-shard/model.json`), 'MODEL_LOAD', /holds \d+ bytes.*need \d+ bytes/);
  await expectLoadError(() => loadModel(`${base}/missing-shard/model.json`), 'MODEL_LOAD', /weights\.bin answered HTTP 404/);
  await expectLoadError(() => loadModel(`${base}/corrupt/model.json`), 'MODEL_LOAD', /model\.json is not valid JSON/);
  await expectLoadError(() => loadLayersModel(`${base}/graph/model.json`), 'GRAPH_MODEL', /graph model/);
  await expectLoadError(() => loadModel('ftp://example.invalid/model.json'), 'MODEL_LOAD', /cannot read ftp: URLs/);
  await expectLoadError(() => loadModel(`${base}/slow/model.json`, { timeoutMs: 300 }), 'MODEL_LOAD', /timed out/);
  await expectLoadError(() => loadModel(`${base}/html-shard/model.json`), 'MODEL_LOAD', /weights\.bin returned an HTML page/);
  await expectLoadError(() => loadModel(`${base}/endless/model.json`), 'MODEL_LOAD', /holds more than \d+ bytes/);
  // Shards only ever come from model.json's origin; the foreign URL is refused before any request.
  requests = [];
  await expectLoadError(() => loadModel(`${base}/other-origin/model.json`), 'MODEL_LOAD', /on another site \(http:\/\/127\.0\.0\.2:9\)/);
  assert.deepEqual(requests.filter((r) => r.endsWith('.bin')), []);
  await expectLoadError(() => loadModel(path.join(tmp, 'other-origin')), 'MODEL_LOAD', /outside its folder/);
});

test('objects that are not LayersModels, and unknown built-ins', async () => {
  const graph = new tf.GraphModel('http://127.0.0.1:1/model.json');
  const g = await expectLoadError(() => loadModel(graph), 'GRAPH_MODEL', /has not been loaded/);
  assert.match(g.fix, /tf\.loadGraphModel/);
  const graphLike = { modelVersion: '1', inputNodes: ['x'], outputNodes: ['y'], executeAsync: async () => null };
  await expectLoadError(() => loadModel(graphLike as unknown as tf.LayersModel), 'NOT_A_MODEL', /Expected a tf\.LayersModel/);
  await expectLoadError(() => loadModel({} as unknown as tf.LayersModel), 'NOT_A_MODEL', /Expected a tf\.LayersModel, got an object/);
  await expectLoadError(() => loadModel(42 as unknown as tf.LayersModel), 'NOT_A_MODEL', /number 42/);
  const u = await expectLoadError(() => loadModel('builtin:nope'), 'UNKNOWN_BUILTIN', /no built-in model 'nope'/);
  assert.match(u.fix, /builtin:digits-gap/);
  await expectLoadError(() => loadModel(''), 'MODEL_LOAD', /empty string/);
  // A model made by a second copy of tfjs (e.g. the notebook's own node_modules) fails instanceof.
  class Sequential { layers = []; }
  const foreign = await expectLoadError(() => loadModel(new Sequential() as unknown as tf.LayersModel), 'NOT_A_MODEL',
    /Sequential made by another copy of @tensorflow\/tfjs, but tslab-cam runs on its own @tensorflow\/tfjs 4\.22\.0/);
  assert.match(foreign.fix, /npm install @tensorflow\/tfjs@4\.22\.0/);
  assert.match(foreign.fix, /import \{ tf \} from "tslab-cam"/);

  const model = convBnDense();
  assert.equal(await loadModel(model), model, 'a LayersModel in memory is returned as is');
  model.dispose();
});

test('concurrent loads, one failing halfway through its topology, leave the others intact', async () => {
  const before = tf.memory().numTensors;
  const results = await Promise.allSettled([
    loadLayersModel(path.join(tmp, 'good')), loadLayersModel(path.join(tmp, 'half-built')), loadLayersModel(path.join(tmp, 'good')), loadLayersModel(path.join(tmp, 'short-shard')),
  ]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected']);
  const models = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const x = randomImages(1, 12, 4);
  assert.deepEqual(Array.from(predict(models[0], x)), Array.from(predict(models[1], x)));
  x.dispose();
  models.forEach((m) => m.dispose());
  assert.equal(tf.memory().numTensors, before);
});

test('after every failure a valid load still works, and the IOHandler serves tf.loadLayersModel', async () => {
  const before = tf.memory().numTensors;
  const loaded = await loadLayersModel(path.join(tmp, 'good', 'model.json'));
  const viaHandler = await tf.loadLayersModel(modelFileIOHandler(path.join(tmp, 'good')));
  const x = randomImages(1, 12, 3);
  assert.deepEqual(Array.from(predict(viaHandler, x)), Array.from(predict(loaded, x)));
  await assert.rejects(tf.loadLayersModel(modelFileIOHandler(path.join(tmp, 'short-shard'))), (e: unknown) => e instanceof TslabCamError && e.code === 'MODEL_LOAD');
  loaded.dispose();
  viaHandler.dispose();
  x.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('graph models load from a path, a folder, a URL or an object, and predict what their layer twin predicts', async () => {
  const before = tf.memory().numTensors;
  const twin = convBnDense();
  const x = randomImages(2, 12, 6);
  const want = predict(twin, x);
  for (const source of [path.join(tmp, 'graph'), path.join(tmp, 'graph', 'model.json'), `${base}/graph/model.json`, pathToFileURL(path.join(tmp, 'graph', 'model.json'))]) {
    const m = await loadModel(source);
    assert.ok(m instanceof tf.GraphModel, `${String(source)} did not load as a GraphModel`);
    const got = tf.tidy(() => (m.execute(x) as tf.Tensor).dataSync() as Float32Array);
    assert.ok(got.every((v, i) => Math.abs(v - want[i]) <= 1e-6), String(source));
    // The object itself is accepted as it is.
    assert.equal(await loadModel(m), m);
    assert.equal(await loadGraphModel(m), m);
    m.dispose();
  }
  const g = await loadGraphModel(path.join(tmp, 'graph'));
  assert.ok(g instanceof tf.GraphModel);
  g.dispose();
  await expectLoadError(() => loadGraphModel(path.join(tmp, 'good')), 'NOT_A_MODEL', /holds a layers model/);
  x.dispose();
  twin.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});
