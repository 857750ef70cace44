import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { overlayFigure } from '../../src/render/figures';
import { encodePng, imageDataUri, renderScenePng, sceneSize } from '../../src/render/png';
import { syntheticExample } from '../../src/render/synthetic';
import { readPngPixels } from '../../src/model/pngRead';

const MiB = 2 ** 20;

test('rendering in one synchronous loop holds no memory per figure (150 figures of a 448×448 input)', (t) => {
  // Before the canvases were reused, @napi-rs/canvas kept every canvas and ImageData of this loop
  // until the event loop turned: +930 MiB RSS for these 150 iterations (measured; +533 MiB for the
  // scene PNGs alone). Reused, the growth measured ~1 MiB. The bound sits far from both, so
  // allocator noise cannot flip the result; gc, when exposed, only trims the noise further.
  const ex = syntheticExample({ size: 448, layerSize: 14 });
  const render = () => {
    const fig = overlayFigure(ex.gradCam); // the input as a JPEG data: URI for plotly
    return renderScenePng(fig.scene); // the PNG fallback: scene, panel tiles, colour bar, read-back
  };
  for (let i = 0; i < 3; i++) render();
  global.gc?.();
  const before = process.memoryUsage().rss;
  let bytes = 0;
  for (let i = 0; i < 150; i++) bytes += render().length;
  global.gc?.();
  const grew = (process.memoryUsage().rss - before) / MiB;
  t.diagnostic(`RSS grew ${grew.toFixed(1)} MiB over 150 renders`);
  assert.ok(bytes > 150 * 10_000, 'real PNGs were made');
  assert.ok(grew < 150, `RSS grew ${grew.toFixed(1)} MiB over 150 renders (bound 150 MiB; unfixed: ~930 MiB)`);
});

test('a reused canvas starts fresh: a figure renders to the same bytes before and after other sizes', () => {
  const small = overlayFigure(syntheticExample({ size: 32, layerSize: 4 }).gradCam);
  const large = overlayFigure(syntheticExample({ size: 224, layerSize: 7, seed: 4 }).cam, { colormap: 'jet' });
  const first = renderScenePng(small.scene);
  renderScenePng(large.scene);
  assert.deepEqual(renderScenePng(small.scene), first);
  assert.deepEqual(sceneSize(small.scene), { width: readPngPixels(first).width, height: readPngPixels(first).height });
});

test('encodePng and imageDataUri keep the pixels given, whatever was encoded before', () => {
  const px = new Uint8ClampedArray(3 * 2 * 4);
  for (let i = 0; i < 6; i++) px.set([i * 40, 255 - i * 40, (i * 97) % 256, 255], i * 4);
  encodePng(new Uint8ClampedArray(5 * 7 * 4).fill(9), 5, 7);
  const back = readPngPixels(encodePng(px, 3, 2));
  assert.equal(back.width, 3);
  assert.equal(back.height, 2);
  assert.deepEqual([...back.px], [...px]);
  const img = { data: Float32Array.from([0, 0.5, 1, 1, 0.5, 0]), shape: [1, 2, 3] };
  const uri = imageDataUri(img, 'png');
  const decoded = readPngPixels(Buffer.from(uri.slice('data:image/png;base64,'.length), 'base64'));
  assert.deepEqual([...decoded.px], [0, 128, 255, 255, 255, 128, 0, 255]);
  assert.match(imageDataUri(img, 'jpeg'), /^data:image\/jpeg;base64,\/9j\//);
});
