/**
 * The bad-input catalogue: every case goes through the public API and must give a TslabCamError
 * with a stable code and a message naming the problem and the fix, leak no tensor, and leave the
 * next valid call working.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { createCanvas } from '@napi-rs/canvas';
import * as tc from '../../src/index';
import { gapNet, randomImages, vggFlat } from '../fixtures/models';

const tf = tc.tf;
let model: tc.tf.LayersModel;
let good: tc.tf.Tensor4D;
let dir: string;

/** Runs fn in a tf.tidy so the bad tensors it makes are disposed whatever happens. */
function tidyCall(fn: () => unknown): void {
  tf.tidy(() => {
    fn();
  });
}

before(async () => {
  await tc.initBackend();
  model = gapNet({ size: 16, head: 'softmax', classes: 4 });
  good = randomImages(1, 16, 1);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-bad-'));
  await tc.saveModel(model, path.join(dir, 'ok'));
});

/** Runs the bad call, checks the error, the leak count and that a valid call still works. */
async function expectError(what: string, code: tc.ErrorCode, fn: () => unknown, mentions?: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  let err: unknown = null;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof tc.TslabCamError, `${what}: expected a TslabCamError, got ${String(err)}`);
  assert.equal(err.code, code, `${what}: ${err.message}`);
  assert.match(err.message, /Fix: \S/, `${what}: the message must name the fix`);
  if (mentions) assert.match(err.message, mentions, what);
  assert.equal(tf.memory().numTensors, before, `${what}: leaked tensors`);
  const ok = tc.gradCam(model, good);
  assert.ok(ok.normalized.data.every(Number.isFinite), `${what}: the next call must work`);
}

test('images: wrong rank, size, channels, dtype, NaN/Inf, empty, disposed, not a tensor', async () => {
  await expectError('rank 2', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.zeros([16, 16]))), /rank 2/);
  await expectError('rank 5', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.zeros([1, 1, 16, 16, 3]))));
  await expectError('wrong size', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.zeros([20, 20, 3]))), /resize|Resize/);
  await expectError('wrong channels', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.zeros([16, 16, 1]))), /channel/);
  await expectError('int data', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.zeros([16, 16, 3], 'int32'))), /int32/);
  await expectError('float64 array', 'BAD_IMAGE', () => tc.gradCam(model, new Float64Array(16 * 16 * 3) as unknown as tc.tf.Tensor));
  await expectError('NaN pixel', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.fill([16, 16, 3], NaN))), /NaN/);
  await expectError('Inf pixel', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.fill([16, 16, 3], Infinity))), /Infinity/);
  await expectError('empty', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.zeros([0, 16, 3]))), /empty/);
  const gone = tf.zeros([16, 16, 3]);
  gone.dispose();
  await expectError('disposed', 'BAD_IMAGE', () => tc.gradCam(model, gone), /disposed/);
  await expectError('batch to a single-image call', 'BAD_IMAGE', () => tidyCall(() => tc.gradCam(model, tf.zeros([2, 16, 16, 3]))), /explain\(/);
});

test('an 8000×8000 image is resized on load, not kept at full size', async () => {
  const canvas = createCanvas(8000, 8000);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#808080';
  ctx.fillRect(0, 0, 8000, 8000);
  const file = path.join(dir, 'huge.png');
  fs.writeFileSync(file, canvas.toBuffer('image/png'));
  const before = tf.memory().numTensors;
  const t = await tc.loadImage(file, { model });
  assert.deepEqual(t.shape, [1, 16, 16, 3]);
  assert.ok(tc.gradCam(model, t).upsampled.data.every(Number.isFinite));
  t.dispose();
  assert.equal(tf.memory().numTensors, before);
  await expectError('undecodable bytes', 'BAD_IMAGE', () => tc.loadImage(Buffer.from('not an image at all'), { model }));
});

test('classes: out of range, negative, fractional, wrong count', async () => {
  await expectError('class 4 of 4', 'BAD_CLASS', () => tc.gradCam(model, good, { classIndex: 4 }), /0 … 3/);
  await expectError('class -1', 'BAD_CLASS', () => tc.cam(model, good, { classIndex: -1 }));
  await expectError('class 1.5', 'BAD_CLASS', () => tc.guidedBackprop(model, good, { classIndex: 1.5 }));
  await expectError('2 classes for 1 image', 'BAD_CLASS', () => tc.explain(model, good, { classIndex: [1, 2] }));
});

test('layers and models: unknown name (closest suggested), no spatial output, no conv layer, GraphModel, not a model', async () => {
  await expectError('unknown layer', 'UNKNOWN_LAYER', () => tc.gradCam(model, good, { layer: 'conv' }), /conv1, conv2/);
  await expectError('dense layer', 'NO_SPATIAL_LAYER', () => tc.gradCam(model, good, { layer: 'predictions' }), /last spatial layer is 'conv2'/);
  const input = tf.input({ shape: [16, 16, 3] });
  const mlp = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(tf.layers.flatten().apply(input)) as tc.tf.SymbolicTensor });
  await expectError('no conv layer', 'NO_SPATIAL_LAYER', () => tc.gradCam(mlp, good), /4-D/);
  mlp.dispose();
  // Graph models are explained; one that was never loaded has no graph to explain.
  await expectError('unloaded GraphModel', 'GRAPH_MODEL', () => tc.gradCam(new tf.GraphModel('model.json'), good), /loadGraphModel/);
  await expectError('plain object', 'NOT_A_MODEL', () => tc.gradCam({} as tc.tf.LayersModel, good));
  await expectError('CAM on Flatten', 'NOT_GAP_MODEL', async () => {
    const flat = vggFlat({ size: 16, strided: true });
    try {
      tc.cam(flat, good);
    } finally {
      flat.dispose();
    }
  }, /gradCam/);
});

test('model files: corrupt, truncated, missing or wrong-size shard, missing path', async () => {
  const copy = (name: string): string => {
    const d = path.join(dir, name);
    fs.cpSync(path.join(dir, 'ok'), d, { recursive: true });
    return d;
  };
  const corrupt = copy('corrupt');
  fs.writeFileSync(path.join(corrupt, 'model.json'), '{"modelTopology": [1, 2');
  await expectError('corrupt model.json', 'MODEL_LOAD', () => tc.loadModel(path.join(corrupt, 'model.json')));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'ok', 'model.json'), 'utf8')) as { weightsManifest: Array<{ paths: string[] }> };
  const shard = manifest.weightsManifest[0].paths[0];
  const missing = copy('missing');
  fs.rmSync(path.join(missing, shard));
  await expectError('missing shard', 'MODEL_LOAD', () => tc.loadModel(path.join(missing, 'model.json')), new RegExp(shard.replace('.', '\\.')));
  const short = copy('short');
  fs.writeFileSync(path.join(short, shard), fs.readFileSync(path.join(short, shard)).subarray(0, 10));
  await expectError('truncated shard', 'MODEL_LOAD', () => tc.loadModel(path.join(short, 'model.json')));
  await expectError('no such path', 'MODEL_LOAD', () => tc.loadModel(path.join(dir, 'nope', 'model.json')));
  await expectError('too large', 'MODEL_TOO_LARGE', () => tc.loadModel(path.join(dir, 'ok', 'model.json'), { maxWeightBytes: 100 }));
  const back = await tc.loadModel(path.join(dir, 'ok'));
  const a = (back.predict(good) as tc.tf.Tensor);
  const b = (model.predict(good) as tc.tf.Tensor);
  assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));
  tf.dispose([a, b]);
  back.dispose();
});

test('URLs: a refused connection and an HTML page', async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>Sign in</title>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await expectError('HTML instead of model.json', 'MODEL_LOAD', () => tc.loadModel(`http://127.0.0.1:${port}/model.json`), /HTML/i);
  await new Promise<void>((r) => server.close(() => r()));
  await expectError('refused', 'MODEL_LOAD', () => tc.loadModel(`http://127.0.0.1:${port}/model.json`));
});

test('all-zero gradients give a zero map (never NaN); a saturated softmax keeps its gradient through pre-softmax scores', () => {
  // Scale the head so the softmax saturates: probabilities are 0/1 to float32 precision.
  const sat = gapNet({ size: 16, head: 'softmax', classes: 4, seed: 8 });
  const dense = sat.getLayer('predictions');
  const [k, b] = dense.getWeights();
  const big = [tf.mul(k, 1e4), b];
  dense.setWeights(big);
  tf.dispose(big[0]);
  const img = randomImages(1, 16, 2);
  const probs = sat.predict(img) as tc.tf.Tensor;
  assert.ok(Math.max(...probs.dataSync()) === 1, 'softmax saturated');
  probs.dispose();
  const viaProbs = tc.gradCam(sat, img, { scores: 'probabilities' });
  assert.ok(viaProbs.raw.data.every((v) => v === 0) && viaProbs.normalized.data.every((v) => v === 0), 'saturated probabilities: zero map, not NaN');
  const viaLogits = tc.gradCam(sat, img);
  assert.ok(viaLogits.raw.data.some((v) => v > 0), 'pre-softmax scores keep the gradient alive');
  assert.ok(viaLogits.normalized.data.every((v) => v >= 0 && v <= 1));
  img.dispose();
  sat.dispose();
});
