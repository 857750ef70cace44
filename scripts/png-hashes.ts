/**
 * SHA-256 of every image the library encodes or decodes, for a representative set of figures,
 * the built-in samples and loadImage: prints one "name  hash" line each. Run it before and after
 * a change to the PNG/canvas code and diff the two outputs; any changed line is a changed byte.
 *
 *   node -r ts-node/register scripts/png-hashes.ts > before.txt
 *   (change the code)
 *   node -r ts-node/register scripts/png-hashes.ts > after.txt && diff before.txt after.txt
 *
 * Covered: every figure kind's bundle (image/png, and the plotly JSON with its embedded PNG/JPEG
 * data: URIs), renderScenePng with each encoding, encodePng / imageDataUri directly, photograph-like
 * inputs (1/f noise, which takes the JPEG and 256-colour paths), the committed sample PNGs as
 * rgbToPng writes them, loadImage on PNG, JPEG and alpha inputs with resizing, and real
 * explanations of the built-in digits-gap model (walkthrough steps included).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { createCanvas } from '@napi-rs/canvas';
import * as tc from '../src/index';
import type { NDArray } from '../src/explain/types';
import {
  barsFigure, classDropdownFigure, comparisonFigure, featureMapsFigure, galleryFigure, guidedFigure, heatmapFigure, imageFigure,
  imageGridFigure, layerSliderFigure, overlayFigure, resultFeatureMapsFigure,
} from '../src/render/figures';
import { encodePng, imageDataUri, overlayPixels, renderScenePng } from '../src/render/png';
import type { Figure } from '../src/render/spec';
import { syntheticExample } from '../src/render/synthetic';
import { toBundle } from '../src/notebook';
import { rgbToPng } from '../src/data/png';
import { SAMPLE_SPECS, sampleScene } from '../src/data/samples';
import { mulberry32 } from '../src/data/prng';

const lines: string[] = [];

function sha(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

function put(name: string, bytes: Uint8Array | string): void {
  lines.push(`${name.padEnd(44)} ${sha(bytes)} ${typeof bytes === 'string' ? bytes.length : bytes.byteLength}`);
}

/** A photograph-like (size, size, 3) image: 1/f noise, many colours, poor PNG compression. */
function pinkNoise(size: number, seed: number): NDArray {
  const rand = mulberry32(seed);
  const data = new Float32Array(size * size * 3);
  // Sum of octaves of bilinearly interpolated random grids, amplitude halving per octave.
  for (let c = 0; c < 3; c++) {
    for (let octave = 1, amp = 0.5; octave <= size; octave *= 2, amp /= 2) {
      const g = octave + 1;
      const grid = Float32Array.from({ length: g * g }, () => rand() - 0.5);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const u = (x / size) * octave, v = (y / size) * octave;
          const x0 = Math.floor(u), y0 = Math.floor(v), fx = u - x0, fy = v - y0;
          const at = (i: number, j: number) => grid[Math.min(g - 1, j) * g + Math.min(g - 1, i)];
          const val = (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) + fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1));
          data[(y * size + x) * 3 + c] += amp * val;
        }
      }
    }
  }
  for (let i = 0; i < data.length; i++) data[i] = Math.min(1, Math.max(0, 0.5 + data[i]));
  return { data, shape: [size, size, 3] };
}

function figureEntries(name: string, fig: Figure): void {
  const b = toBundle(fig, { pngMime: true });
  put(`${name}/bundle.png`, b.data['image/png'] ?? '');
  put(`${name}/plotly`, JSON.stringify(b.data['application/vnd.plotly.v1+json']));
  put(`${name}/scene.truecolor`, renderScenePng(fig.scene, { encoding: 'truecolor' }));
  put(`${name}/scene.indexed`, renderScenePng(fig.scene, { encoding: 'indexed' }));
}

function syntheticFigures(): void {
  const ex = syntheticExample({ size: 32, layerSize: 4, channels: 6, className: 'cat' });
  const other = syntheticExample({ size: 32, layerSize: 4, channels: 6, classIndex: 7, className: 'dog', seed: 5 });
  const deep = syntheticExample({ size: 32, layerSize: 8, channels: 6, layer: 'mid', seed: 1 });
  const big = syntheticExample({ size: 224, layerSize: 7 });
  const huge = syntheticExample({ size: 448, layerSize: 14, channels: 12, seed: 3 });
  const photo = pinkNoise(224, 7);
  const photoResult = { ...big.gradCam, input: photo };
  const figures: Record<string, Figure> = {
    heatmap: heatmapFigure(ex.cam.raw, { title: 'M_c <raw> & "quoted"' }),
    heatmapJet: heatmapFigure(huge.gradCam.raw, { colormap: 'jet' }),
    overlay32: overlayFigure(ex.gradCam),
    overlay224: overlayFigure(big.gradCam, { opacity: 0.3 }),
    overlay224input: overlayFigure(big.cam, { resolution: 'input', colormap: 'jet' }),
    overlay448: overlayFigure(huge.gradCam),
    overlayPhoto: overlayFigure(photoResult),
    classes: classDropdownFigure([ex.gradCam, other.gradCam]),
    layers: layerSliderFigure([ex.gradCam, deep.gradCam]),
    featureMapsW: resultFeatureMapsFigure(ex.cam, { count: 4 }),
    featureMapsAlpha: resultFeatureMapsFigure(huge.gradCam),
    featureMapsRaw: featureMapsFigure(deep.cam.f, Array.from({ length: 6 }, (_, k) => (k % 3) - 1), 'alpha'),
    comparison: comparisonFigure(ex),
    comparison224: comparisonFigure(big),
    guided: guidedFigure(ex.guided),
    guidedGradCam: guidedFigure(big.guidedGradCam),
    image: imageFigure(ex.input),
    imagePhoto: imageFigure(photo),
    bars: barsFigure([1, NaN, 3, -2], { labels: ['a', 'b', 'c', 'd'] }),
    gallery: galleryFigure([ex.gradCam, other.gradCam, deep.gradCam, ex.guided, other.cam]),
    gallery224: galleryFigure([big.gradCam, photoResult, big.guidedGradCam]),
    imageGrid: imageGridFigure([ex.input, other.input, photo]),
  };
  for (const [name, fig] of Object.entries(figures)) figureEntries(name, fig);
  // The encoders directly.
  for (const [name, img] of Object.entries({ syn32: ex.input, syn224: big.input, photo224: photo })) {
    put(`imageDataUri/${name}.png`, imageDataUri(img, 'png'));
    put(`imageDataUri/${name}.jpeg`, imageDataUri(img, 'jpeg'));
    const o = overlayPixels(img, big.gradCam.normalized, 'viridis', 0, 1, 0.5);
    put(`overlayPixels/${name}`, new Uint8Array(o.px.buffer));
    put(`encodePng/${name}`, encodePng(o.px, o.width, o.height));
  }
}

async function samplesAndImages(): Promise<void> {
  for (const spec of SAMPLE_SPECS) {
    const scene = sampleScene(spec);
    const png = rgbToPng(scene.pixels, scene.width, scene.height);
    const committed = fs.readFileSync(path.join(__dirname, '..', 'samples', `${spec.name}.png`));
    put(`sample/${spec.name}.png`, png);
    lines.push(`${`sample/${spec.name}.png equals committed`.padEnd(44)} ${Buffer.compare(png, committed) === 0}`);
    put(`sample/${spec.name}.zoom3`, rgbToPng(scene.pixels, scene.width, scene.height, 3));
  }
  const samples = tc.builtinSamples();
  const model = await tc.loadModel('builtin:digits-gap');
  // Inputs for loadImage: the sample PNGs, a JPEG and a PNG with transparency (fixed bytes).
  const jpegCanvas = createCanvas(80, 60);
  const jctx = jpegCanvas.getContext('2d');
  const grad = jctx.createLinearGradient(0, 0, 80, 60);
  grad.addColorStop(0, '#204080');
  grad.addColorStop(1, '#f0c020');
  jctx.fillStyle = grad;
  jctx.fillRect(0, 0, 80, 60);
  jctx.fillStyle = '#fff';
  jctx.fillRect(20, 10, 15, 35);
  const jpeg = jpegCanvas.encodeSync('jpeg', 90);
  const alphaCanvas = createCanvas(40, 40);
  const actx = alphaCanvas.getContext('2d');
  actx.fillStyle = 'rgba(200, 30, 30, 0.5)';
  actx.fillRect(5, 5, 30, 20);
  const alphaPng = alphaCanvas.toBuffer('image/png');
  put('input/jpeg', jpeg);
  put('input/alpha.png', alphaPng);
  const tensorHash = async (name: string, t: Promise<tc.tf.Tensor>) => {
    const x = await t;
    put(`loadImage/${name}`, new Uint8Array((x.dataSync() as Float32Array).buffer));
    x.dispose();
  };
  for (const s of samples) await tensorHash(`${s.name}/model`, tc.loadImage(s.path, { model }));
  await tensorHash('two-digits/size100', tc.loadImage(samples[1].path, { size: 100 }));
  await tensorHash('two-digits/size17x23', tc.loadImage(samples[1].path, { size: [17, 23], inputRange: [-1, 1] }));
  await tensorHash('jpeg/native', tc.loadImage(jpeg));
  await tensorHash('jpeg/model', tc.loadImage(jpeg, { model }));
  await tensorHash('jpeg/size224', tc.loadImage(jpeg, { size: 224 }));
  await tensorHash('alpha/native', tc.loadImage(alphaPng));
  await tensorHash('alpha/size64gray', tc.loadImage(alphaPng, { model: { ...tc.model.modelMetaOf(model)!, channels: 1 } }));
  // Real explanations of the built-in model, shown as their renderers show them.
  const x = await tc.loadImage(samples[1].path, { model });
  const both = tc.tf.concat([x, x]);
  const real: Record<string, unknown> = {
    gradCam: tc.gradCam(model, x, { classIndex: 7 }),
    cam: tc.cam(model, x, { classIndex: 2 }),
    gap: tc.gap(model, x),
    guided: tc.guidedBackprop(model, x, { classIndex: 7 }),
    guidedGradCam: tc.guidedGradCam(model, x, { classIndex: 7 }),
    batch: tc.explain(model, both, { classIndex: [2, 7] }),
  };
  for (const [name, value] of Object.entries(real)) {
    const b = toBundle(value, { pngMime: true });
    put(`builtin/${name}/bundle.png`, b.data['image/png'] ?? '');
    put(`builtin/${name}/plotly`, JSON.stringify(b.data['application/vnd.plotly.v1+json'] ?? null));
  }
  const wt = tc.walkthrough(model, x, { classIndex: 7 });
  for (const s of wt.steps) {
    const b = toBundle(s, { pngMime: true });
    put(`builtin/walkthrough/step${s.index}.png`, b.data['image/png'] ?? '');
  }
  both.dispose();
  x.dispose();
  model.dispose();
}

async function main(): Promise<void> {
  await tc.initBackend({ backend: 'wasm' });
  syntheticFigures();
  await samplesAndImages();
  console.log(lines.join('\n'));
}

void main();
