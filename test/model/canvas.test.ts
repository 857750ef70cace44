import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CanvasSlot, canvasPixels, encodeRgbaJpeg, encodeRgbaPng, putPixels } from '../../src/model/canvas';
import { readPngPixels } from '../../src/model/pngRead';
import { mulberry32 } from '../../src/data/prng';

test('a slot gives its canvas back in the state of a new one: transparent, default style', () => {
  const slot = new CanvasSlot();
  const a = slot.fresh(6, 4);
  a.ctx.fillStyle = '#ff0000';
  a.ctx.font = 'bold 30px serif';
  a.ctx.fillRect(0, 0, 6, 4);
  assert.deepEqual([...canvasPixels(a.canvas).px.subarray(0, 4)], [255, 0, 0, 255]);
  const b = slot.fresh(6, 4);
  assert.equal(b.canvas, a.canvas, 'one canvas per slot');
  assert.equal(b.ctx.fillStyle, '#000000');
  assert.equal(b.ctx.font, '10px sans-serif');
  const back = canvasPixels(b.canvas);
  assert.deepEqual([back.width, back.height], [6, 4]);
  assert.ok(back.px.every((v) => v === 0), 'every pixel transparent black');
  const c = slot.fresh(3, 9);
  assert.deepEqual([c.canvas.width, c.canvas.height], [3, 9]);
});

test('pixels put in come out unchanged; the PNG encoder forgets the previous image', () => {
  const w = 4, h = 3;
  const px = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i++) px.set([i * 20, 255 - i * 20, (i * 73) % 256, 255], i * 4);
  encodeRgbaPng(new Uint8ClampedArray(9 * 9 * 4).fill(255), 9, 9);
  assert.deepEqual([...readPngPixels(encodeRgbaPng(px, w, h)).px], [...px]);
  const slot = new CanvasSlot();
  const { canvas, ctx } = slot.fresh(w, h);
  putPixels(ctx, px, w, h);
  assert.deepEqual([...canvasPixels(canvas).px], [...px]);
  const jpeg = encodeRgbaJpeg(px, w, h, 80);
  assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
});

test('encoding in one synchronous loop holds no memory per image (300 noisy 448×448 PNGs)', (t) => {
  // canvas.toBuffer's Buffer is native memory freed on a later event-loop turn: this loop held
  // +200 MiB with it (each PNG is ~700 KB of noise). Through toDataURL it measured ~0. The bound
  // is far from both; gc, when exposed, only trims noise.
  const S = 448;
  const px = new Uint8ClampedArray(S * S * 4);
  const rand = mulberry32(1);
  for (let i = 0; i < px.length; i++) px[i] = i % 4 === 3 ? 255 : Math.floor(rand() * 256);
  for (let i = 0; i < 3; i++) encodeRgbaPng(px, S, S);
  global.gc?.();
  const before = process.memoryUsage().rss;
  let bytes = 0;
  for (let i = 0; i < 300; i++) bytes += encodeRgbaPng(px, S, S).length;
  global.gc?.();
  const grew = (process.memoryUsage().rss - before) / 2 ** 20;
  t.diagnostic(`RSS grew ${grew.toFixed(1)} MiB over 300 encodes of ${(bytes / 300 / 1024).toFixed(0)} KiB PNGs`);
  assert.ok(bytes > 300 * 500_000, 'the PNGs are large');
  assert.ok(grew < 70, `RSS grew ${grew.toFixed(1)} MiB (bound 70 MiB; with toBuffer: ~200 MiB)`);
});
