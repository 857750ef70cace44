import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { encodePng8 } from '../../src/render/png8';
import { renderScenePng, sceneSize } from '../../src/render/png';
import { overlayFigure } from '../../src/render/figures';
import { syntheticExample } from '../../src/render/synthetic';

async function decode(png: Buffer): Promise<{ px: Uint8ClampedArray; w: number; h: number }> {
  const img = await loadImage(png);
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return { px: ctx.getImageData(0, 0, img.width, img.height).data, w: img.width, h: img.height };
}

test('PNG-8 is lossless for ≤ 256 colours', async () => {
  const w = 17;
  const h = 9;
  const px = new Uint8ClampedArray(w * h * 4);
  for (let i = 0; i < w * h; i++) px.set([(i * 37) % 256, (i * 11) % 200, i % 7 * 30, 255], i * 4);
  const png = encodePng8(px, w, h);
  assert.equal(png[25], 3, 'colour type 3 (palette)');
  const back = await decode(png);
  assert.deepEqual([back.w, back.h], [w, h]);
  assert.deepEqual(Array.from(back.px), Array.from(px));
});

test('PNG-8 quantises many colours closely (mean error of a few levels)', async () => {
  const w = 64;
  const h = 64;
  const px = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([x * 4, y * 4, 255 - 2 * (x + y), 255], (y * w + x) * 4);
  const back = await decode(encodePng8(px, w, h));
  let err = 0;
  for (let i = 0; i < px.length; i += 4) for (let c = 0; c < 3; c++) err += Math.abs(back.px[i + c] - px[i + c]);
  assert.ok(err / (w * h * 3) < 6, `mean abs error ${err / (w * h * 3)}`);
});

test('a textured 224×224 overlay fallback stays small and decodes at the scene size', async () => {
  const ex = syntheticExample({ size: 224, layerSize: 7 });
  let s = 7;
  const data = Float32Array.from(ex.input.data, (v, i) => {
    s = (s * 16807) % 2147483647;
    return Math.min(1, Math.max(0, v + 0.15 * Math.sin(i * 0.37) + 0.02 * (s / 2147483647 - 0.5)));
  });
  const fig = overlayFigure({ ...ex.gradCam, input: { data, shape: ex.input.shape } });
  const auto = renderScenePng(fig.scene);
  const truecolor = renderScenePng(fig.scene, { encoding: 'truecolor' });
  assert.ok(auto.length < truecolor.length / 2, `${auto.length} vs ${truecolor.length}`);
  const back = await decode(auto);
  assert.deepEqual({ width: back.w, height: back.h }, sceneSize(fig.scene));
});
