import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TslabCamError } from '../../src/errors';
import { colormap, colormapTable } from '../../src/render/colormap';
import { overlayPng, saveOverlayPng, type ArrayWithShape, type OverlayPngOptions } from '../../src/render/overlay';
import { readPngPixels } from '../../src/model/pngRead';

/** RGB triples of the decoded overlay, pixel by pixel. */
function rgbOf(png: Uint8Array): number[][] {
  const { px, width, height } = readPngPixels(png);
  return Array.from({ length: width * height }, (_, i) => [px[i * 4], px[i * 4 + 1], px[i * 4 + 2]]);
}

const nd = (values: number[], shape: number[]) => ({ data: Float32Array.from(values), shape });
// A 2×2 RGB image in [0, 1] and a 2×2 map in [0, 1].
const image = nd([0, 0.2, 1, 0.5, 0.5, 0.5, 1, 1, 1, 0.2, 0.2, 0.2], [2, 2, 3]);
const imageBytes = [[0, 51, 255], [128, 128, 128], [255, 255, 255], [51, 51, 51]];
const map = nd([0, 1, 0.25, 1], [2, 2]);

test('opacity 0 gives the image exactly, opacity 1 the colour map exactly', () => {
  assert.deepEqual(rgbOf(overlayPng(image, map, { opacity: 0 })), imageBytes);
  assert.deepEqual(rgbOf(overlayPng(image, map, { opacity: 1 })), [0, 1, 0.25, 1].map((t) => [...colormap('viridis', t)]));
  const jet = colormapTable('jet');
  assert.deepEqual(rgbOf(overlayPng(image, map, { opacity: 1, colormap: 'jet' }))[2], [...jet.subarray(64 * 3, 64 * 3 + 3)]);
});

test('opacity a blends (1 − a)·image + a·colour per channel, rounded', () => {
  // Pixel 3: grey 0.2 (51) under viridis(1) = #fde725 (253, 231, 37).
  assert.deepEqual(rgbOf(overlayPng(image, map))[3], [152, 141, 44]);
  assert.deepEqual(rgbOf(overlayPng(image, map, { opacity: 0.25 }))[3], [Math.round(51 * 0.75 + 253 * 0.25), Math.round(51 * 0.75 + 231 * 0.25), Math.round(51 * 0.75 + 37 * 0.25)]);
});

test('the map is resized bilinearly to the image (half-pixel centres)', () => {
  // A 1×2 map [0, 1] over a 1×4 image samples it at 0, 0.25, 0.75, 1.
  const row = rgbOf(overlayPng(nd(new Array(12).fill(0), [1, 4, 3]), nd([0, 1], [1, 2]), { opacity: 1 }));
  const lut = colormapTable('viridis');
  assert.deepEqual(row, [0, 64, 191, 255].map((k) => [...lut.subarray(k * 3, k * 3 + 3)]));
});

test('range maps chosen values to the ends; auto uses the map\'s own minimum and maximum', () => {
  const raw = nd([-2, 8, 3, 8], [2, 2]);
  const lut = colormapTable('viridis');
  assert.deepEqual(rgbOf(overlayPng(image, raw, { opacity: 1, range: [-2, 8] })), [0, 255, 128, 255].map((k) => [...lut.subarray(k * 3, k * 3 + 3)]));
  assert.deepEqual(overlayPng(image, raw, { range: 'auto' }), overlayPng(image, raw, { range: [-2, 8] }));
  // The default [0, 1] clamps: −2 takes the low end, 8 the high end.
  assert.deepEqual(rgbOf(overlayPng(image, raw, { opacity: 1 }))[0], [...colormap('viridis', 0)]);
});

test('images: grey, 0–255, alpha, a batch of one and tensors (anything with dataSync) all work', () => {
  const grey = overlayPng(nd([0, 0.2, 0.5, 1], [2, 2]), map, { opacity: 0 });
  assert.deepEqual(rgbOf(grey), [[0, 0, 0], [51, 51, 51], [128, 128, 128], [255, 255, 255]]);
  const bytes = nd(imageBytes.flat(), [2, 2, 3]);
  assert.deepEqual(rgbOf(overlayPng(bytes, map, { opacity: 0 })), imageBytes);
  const rgba = nd(imageBytes.flatMap((p) => [...p.map((v) => v / 255), 0.3]), [1, 2, 2, 4]);
  assert.deepEqual(rgbOf(overlayPng(rgba, map, { opacity: 0 })), imageBytes);
  const tensorLike = { shape: [1, 2, 2, 3], dataSync: () => image.data };
  const mapTensorLike = { shape: [1, 2, 2, 1], dataSync: () => map.data };
  assert.deepEqual(overlayPng(tensorLike, mapTensorLike), overlayPng(image, map));
  const { width, height } = readPngPixels(overlayPng(nd(new Array(5 * 3 * 3).fill(0.5), [5, 3, 3]), map));
  assert.deepEqual([width, height], [3, 5]);
});

function throwsCode(f: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof TslabCamError, `expected TslabCamError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    assert.match(e.message, /Fix: /);
    return true;
  });
}

test('bad input is a TslabCamError that says what is wrong and what to pass', () => {
  throwsCode(() => overlayPng(nd([1, 2, 3], [3]), map), 'BAD_IMAGE', /shape \[3\], not \(H, W, C\)/);
  throwsCode(() => overlayPng(nd(new Array(8).fill(0), [2, 2, 2]), map), 'BAD_IMAGE', /1, 3 or 4 channels/);
  throwsCode(() => overlayPng(nd([], [0, 2, 3]), map), 'BAD_IMAGE', /no pixels/);
  throwsCode(() => overlayPng(nd([1, 2], [2, 2, 3]), map), 'BAD_OPTION', /2 values but shape \[2, 2, 3\]/);
  throwsCode(() => overlayPng(null as unknown as ArrayWithShape, map), 'BAD_OPTION', /not an array with a shape/);
  throwsCode(() => overlayPng(image, nd(new Array(8).fill(0), [2, 2, 2])), 'BAD_OPTION', /map has shape \[2, 2, 2\], not \(h, w\)/);
  throwsCode(() => overlayPng(image, map, { opacity: 1.5 }), 'BAD_OPTION', /opacity 1.5 is not a number from 0 to 1/);
  throwsCode(() => overlayPng(image, map, { opacity: NaN }), 'BAD_OPTION', /opacity null/);
  throwsCode(() => overlayPng(image, map, { opacity: '0.5' } as unknown as OverlayPngOptions), 'BAD_OPTION', /opacity "0.5"/);
  throwsCode(() => overlayPng(image, map, { colormap: 'hot' } as unknown as OverlayPngOptions), 'BAD_OPTION', /colormap "hot"/);
  throwsCode(() => overlayPng(image, map, { range: [1, 1] }), 'BAD_OPTION', /range \[1,1\]/);
});

test('saveOverlayPng writes the same bytes (folders created) and returns the absolute path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-overlay-'));
  try {
    const out = saveOverlayPng(path.join(dir, 'sub', 'cam.png'), image, map, { colormap: 'jet', opacity: 0.4 });
    assert.ok(path.isAbsolute(out));
    assert.deepEqual(new Uint8Array(fs.readFileSync(out)), new Uint8Array(overlayPng(image, map, { colormap: 'jet', opacity: 0.4 })));
    fs.writeFileSync(path.join(dir, 'file'), 'x');
    throwsCode(() => saveOverlayPng(path.join(dir, 'file', 'cam.png'), image, map), 'BAD_OPTION', /Cannot write the overlay .*\((ENOTDIR|EEXIST)\)/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
