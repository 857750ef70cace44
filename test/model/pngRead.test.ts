import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { deflateSync } from 'zlib';
import { createCanvas } from '@napi-rs/canvas';
import { readPngPixels } from '../../src/model/pngRead';
import { encodePng8, pngChunk } from '../../src/render/png8';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** A PNG written by hand: row y uses filter type y mod 5, so every filter is exercised. */
function handPng(samples: Uint8Array, width: number, height: number, colourType: number, channels: number,
  options: { depth?: number; interlace?: number } = {}): Buffer {
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const type = y % 5;
    raw[y * (stride + 1)] = type;
    for (let i = 0; i < stride; i++) {
      const x = samples[y * stride + i];
      const a = i >= channels ? samples[y * stride + i - channels] : 0;
      const b = y > 0 ? samples[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= channels ? samples[(y - 1) * stride + i - channels] : 0;
      const pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][type];
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = options.depth ?? 8;
  ihdr[9] = colourType;
  ihdr[12] = options.interlace ?? 0;
  return Buffer.concat([SIGNATURE, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', new Uint8Array(0))]);
}

/** Deterministic samples with large steps, so wrong predictors show. */
function samples(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 89 + ((i * i) % 251)) & 255);
}

test('all five row filters and colour types 0, 2, 4, 6 decode to the samples written', () => {
  const w = 7, h = 10;
  const rgba = samples(w * h * 4);
  assert.deepEqual([...readPngPixels(handPng(rgba, w, h, 6, 4)).px], [...rgba]);
  const rgb = samples(w * h * 3);
  const fromRgb = readPngPixels(handPng(rgb, w, h, 2, 3));
  for (let i = 0; i < w * h; i++) assert.deepEqual([...fromRgb.px.subarray(i * 4, i * 4 + 4)], [rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2], 255]);
  const grey = samples(w * h);
  const fromGrey = readPngPixels(handPng(grey, w, h, 0, 1));
  for (let i = 0; i < w * h; i++) assert.deepEqual([...fromGrey.px.subarray(i * 4, i * 4 + 4)], [grey[i], grey[i], grey[i], 255]);
  const ga = samples(w * h * 2);
  const fromGa = readPngPixels(handPng(ga, w, h, 4, 2));
  for (let i = 0; i < w * h; i++) assert.deepEqual([...fromGa.px.subarray(i * 4, i * 4 + 4)], [ga[i * 2], ga[i * 2], ga[i * 2], ga[i * 2 + 1]]);
  assert.deepEqual([fromGa.width, fromGa.height], [w, h]);
});

test('palette PNGs (this library\'s PNG-8) decode to their colours', () => {
  const px = new Uint8ClampedArray(5 * 3 * 4);
  for (let i = 0; i < 15; i++) px.set([(i * 50) % 256, 255 - i * 10, i % 2 ? 0 : 200, 255], i * 4);
  assert.deepEqual([...readPngPixels(encodePng8(px, 5, 3)).px], [...px]);
});

test('a canvas\'s own PNG decodes to exactly its getImageData pixels (text, gradients, scaling)', () => {
  const canvas = createCanvas(61, 37);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, 61, 37);
  const g = ctx.createLinearGradient(0, 0, 61, 37);
  g.addColorStop(0, '#2040a0');
  g.addColorStop(1, '#f0c020');
  ctx.fillStyle = g;
  ctx.fillRect(3, 3, 40, 20);
  ctx.fillStyle = '#111';
  ctx.font = '11px sans-serif';
  ctx.fillText('Grad-CAM 7', 2, 30);
  const expected = ctx.getImageData(0, 0, 61, 37).data;
  assert.deepEqual([...readPngPixels(canvas.toBuffer('image/png')).px], [...expected]);
});

test('what it does not read is refused, not misread', () => {
  assert.throws(() => readPngPixels(Buffer.from('not a png at all, clearly not, no no no')), /not a PNG/);
  assert.throws(() => readPngPixels(handPng(samples(8), 2, 2, 6, 4, { depth: 16 })), /bit depth 16/);
  assert.throws(() => readPngPixels(handPng(samples(16), 2, 2, 6, 4, { interlace: 1 })), /interlace 1/);
});
