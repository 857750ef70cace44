import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadImage, resolvePreprocessing, sniffFormat } from '../../src/model/image';
import { ModelMeta, attachModelMeta } from '../../src/model/builtin';
import { TslabCamError } from '../../src/errors';
import { generateScene } from '../../src/data/scenes';
import { rgbToPng } from '../../src/data/png';
import { createCanvas } from '@napi-rs/canvas';

const scene = generateScene({ split: 'test', seed: 11, index: 0, labels: [1, 8] });
const png = rgbToPng(scene.pixels, scene.width, scene.height);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-image-'));
const pngPath = path.join(dir, 'scene.png');
fs.writeFileSync(pngPath, png);

const meta: ModelMeta = { inputSize: [64, 64], channels: 3, inputRange: [0, 1] };

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TslabCamError, `expected TslabCamError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test('a PNG path gives the scene back exactly (to 1/255) as a (1, 64, 64, 3) tensor', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const x = await loadImage(pngPath, { model: meta });
  assert.deepEqual(x.shape, [1, 64, 64, 3]);
  const data = await x.data();
  let worst = 0;
  for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(data[i] - scene.pixels[i]));
  assert.ok(worst <= 0.5 / 255 + 1e-6, `max difference ${worst}`);
  x.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('bytes (Buffer, Uint8Array, ArrayBuffer) work like the path; size and inputRange apply', async () => {
  const a = await loadImage(png, { size: 64 });
  const b = await loadImage(new Uint8Array(png), { model: meta });
  const ab = png.buffer.slice(png.byteOffset, png.byteOffset + png.byteLength);
  const c = await loadImage(ab, { model: meta, inputRange: [-1, 1] });
  assert.deepEqual(await a.data(), await b.data());
  const cd = await c.data(), ad = await a.data();
  assert.ok(Math.abs(cd[5] - (ad[5] * 2 - 1)) < 1e-6);
  const small = await loadImage(png, { size: [32, 48] });
  assert.deepEqual(small.shape, [1, 32, 48, 3]);
  tf.dispose([a, b, c, small]);
});

test('a JPEG is decoded and resized to the model input size; one-channel models get luminance', async () => {
  const canvas = createCanvas(100, 80);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ff0000';
  ctx.fillRect(0, 0, 100, 80);
  const jpeg = canvas.toBuffer('image/jpeg');
  assert.equal(sniffFormat(jpeg), 'jpeg');
  const x = await loadImage(jpeg, { model: meta });
  assert.deepEqual(x.shape, [1, 64, 64, 3]);
  const d = await x.data();
  assert.ok(d[0] > 0.9 && d[1] < 0.1 && d[2] < 0.1, `red stays red: ${d[0]}, ${d[1]}, ${d[2]}`);
  const gray = await loadImage(jpeg, { model: { ...meta, channels: 1, inputSize: [28, 28] } });
  assert.deepEqual(gray.shape, [1, 28, 28, 1]);
  assert.ok(Math.abs((await gray.data())[0] - 0.299) < 0.03);
  tf.dispose([x, gray]);
});

test('a LayersModel decides the size from attached metadata, else from its input shape', async () => {
  const input = tf.input({ shape: [40, 30, 3] });
  const model = tf.model({ inputs: input, outputs: tf.layers.flatten().apply(input) as tf.SymbolicTensor });
  assert.deepEqual(resolvePreprocessing({ model }, [64, 64]), { height: 40, width: 30, channels: 3, inputRange: [0, 1] });
  attachModelMeta(model, { inputSize: [40, 30], channels: 3, inputRange: [-1, 1] });
  assert.deepEqual(resolvePreprocessing({ model }, [64, 64]).inputRange, [-1, 1]);
  const x = await loadImage(pngPath, { model });
  assert.deepEqual(x.shape, [1, 40, 30, 3]);
  x.dispose();
  model.dispose();
});

test('undecodable data, missing files and bad sizes give clear TslabCamErrors', async () => {
  await rejectsWith(loadImage(Buffer.from('<html>not an image</html>')), 'BAD_IMAGE', /not a PNG or JPEG.*<html>/);
  await rejectsWith(loadImage(new Uint8Array(0)), 'BAD_IMAGE', /no bytes/);
  await rejectsWith(loadImage(png.subarray(0, 60)), 'BAD_IMAGE', /looks like PNG but cannot be decoded/);
  const missing = path.join(dir, 'missing.png');
  await assert.rejects(loadImage(missing), { message: `Cannot read the image file ${missing} (ENOENT). Fix: Check the path (a relative path is relative to the current directory, ${process.cwd()}).` });
  await rejectsWith(loadImage(png, { size: 0 }), 'BAD_OPTION');
  await rejectsWith(loadImage(42 as unknown as string), 'BAD_IMAGE');
});

test('an http URL is fetched (that URL only); HTTP errors are BAD_IMAGE', async () => {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/scene.png') { res.writeHead(200, { 'content-type': 'image/png' }); res.end(png); return; }
    res.writeHead(404); res.end('nope');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const x = await loadImage(`http://127.0.0.1:${port}/scene.png`, { model: meta });
    const fromFile = await loadImage(pngPath, { model: meta });
    assert.deepEqual(await x.data(), await fromFile.data());
    tf.dispose([x, fromFile]);
    await rejectsWith(loadImage(`http://127.0.0.1:${port}/other.png`), 'BAD_IMAGE', /HTTP 404/);
    assert.deepEqual(requests, ['/scene.png', '/other.png']);
  } finally {
    server.close();
  }
});
