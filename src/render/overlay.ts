/**
 * A map laid over an image as PNG bytes, for scripts and pipelines outside notebooks: the
 * counterpart of pytorch-grad-cam's `show_cam_on_image`, with this library's colour maps.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TslabCamError } from '../errors';
import type { NDArray } from '../explain/types';
import { DEFAULT_COLORMAP, isColormapName, type ColormapName } from './colormap';
import { encodePng, overlayPixels } from './png';
import { range } from './spec';

/** An array with a shape: this library's NDArray, or anything with `dataSync()` such as a tf.Tensor. */
export type ArrayWithShape =
  | { readonly data: ArrayLike<number>; readonly shape: readonly number[] }
  | { readonly shape: readonly number[]; dataSync(): ArrayLike<number> };

/** How the map is coloured and blended. */
export interface OverlayPngOptions {
  /** Colour map of the map (default 'viridis'; 'jet' looks like the Grad-CAM paper and pytorch-grad-cam). */
  readonly colormap?: ColormapName;
  /** Weight a of the map's colour, in [0, 1] (default 0.5): pixel = (1 − a)·image + a·colour. */
  readonly opacity?: number;
  /**
   * Map values that get the colour map's two ends (default [0, 1], the range of a result's
   * `normalized` and `upsampled` maps; values outside are clamped). 'auto' uses the map's own
   * finite minimum and maximum.
   */
  readonly range?: readonly [number, number] | 'auto';
}

function toNDArray(a: ArrayWithShape, what: string, fix: string): NDArray {
  const ok = typeof a === 'object' && a !== null && Array.isArray(a.shape) &&
    ('data' in a ? a.data !== undefined && typeof a.data.length === 'number' : typeof (a as { dataSync?: unknown }).dataSync === 'function');
  if (!ok) throw new TslabCamError('BAD_OPTION', `${what} is not an array with a shape.`, fix);
  const values = 'data' in a ? a.data : a.dataSync();
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  const size = a.shape.reduce((p, d) => p * d, 1);
  if (data.length !== size || a.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TslabCamError('BAD_OPTION', `${what} has ${data.length} values but shape [${a.shape.join(', ')}].`, fix);
  }
  return { data, shape: a.shape };
}

/** (H, W, C) with C 1, 3 or 4 (alpha ignored) from (H, W), (H, W, C) or (1, H, W, C). */
function imageOf(image: ArrayWithShape): NDArray {
  const fix = 'Pass the (H, W, 3) or (H, W, 1) image, e.g. result.input or the tensor loadImage returned.';
  const a = toNDArray(image, 'The image', fix);
  let shape = a.shape;
  if (shape.length === 4 && shape[0] === 1) shape = shape.slice(1);
  if (shape.length === 2) shape = [shape[0], shape[1], 1];
  if (shape.length !== 3 || ![1, 3, 4].includes(shape[2])) {
    throw new TslabCamError('BAD_IMAGE', `The image has shape [${a.shape.join(', ')}], not (H, W, C) with 1, 3 or 4 channels.`, fix);
  }
  if (shape[0] === 0 || shape[1] === 0) throw new TslabCamError('BAD_IMAGE', 'The image has no pixels.', fix);
  return { data: a.data, shape };
}

/** (h, w) from (h, w), (h, w, 1), (1, h, w) or (1, h, w, 1). */
function mapOf(map: ArrayWithShape): NDArray {
  const fix = 'Pass one (h, w) map, e.g. result.upsampled or result.normalized (any size: it is resized to the image).';
  const a = toNDArray(map, 'The map', fix);
  const shape = a.shape.filter((d, i) => !(d === 1 && (i === 0 || i === a.shape.length - 1) && a.shape.length > 2));
  if (shape.length !== 2 || shape[0] === 0 || shape[1] === 0) {
    throw new TslabCamError('BAD_OPTION', `The map has shape [${a.shape.join(', ')}], not (h, w).`, fix);
  }
  return { data: a.data, shape };
}

function checkedOptions(options: OverlayPngOptions, map: NDArray): { colormap: ColormapName; opacity: number; lo: number; hi: number } {
  const colormap = options.colormap ?? DEFAULT_COLORMAP;
  if (typeof colormap !== 'string' || !isColormapName(colormap)) {
    throw new TslabCamError('BAD_OPTION', `colormap ${JSON.stringify(colormap)} is not one of this library's colour maps.`,
      "Use 'viridis', 'jet', 'gray' or 'rdbu'.");
  }
  const opacity = options.opacity ?? 0.5;
  if (typeof opacity !== 'number' || !(opacity >= 0 && opacity <= 1)) {
    throw new TslabCamError('BAD_OPTION', `opacity ${JSON.stringify(opacity)} is not a number from 0 to 1.`,
      'Give the weight of the map: 0 shows the image only, 1 the map only, 0.5 both equally.');
  }
  const span = options.range ?? [0, 1];
  if (span === 'auto') {
    const { min, max } = range(map.data);
    return { colormap, opacity, lo: min, hi: max };
  }
  if (!Array.isArray(span) || span.length !== 2 || !Number.isFinite(span[0]) || !Number.isFinite(span[1]) || !(span[0] < span[1])) {
    throw new TslabCamError('BAD_OPTION', `range ${JSON.stringify(span)} is not [low, high] with low < high.`,
      "Give the map values for the colour map's ends, e.g. [0, 1], or 'auto' for the map's own minimum and maximum.");
  }
  const [lo, hi] = span;
  return { colormap, opacity, lo, hi };
}

/**
 * The map laid over the image, as PNG bytes (truecolour, the image's size):
 *
 *   pixel = round((1 − a) · I + a · colormap((m − lo) / (hi − lo)))   per RGB channel, in 0…255,
 *
 * where I is the image in 0…255 (an image in [0, 1] is scaled by 255, one in [0, 255] kept, any
 * other range min-max scaled; grey is repeated to RGB; alpha is dropped), m the map resized
 * bilinearly to the image (half-pixel centres, as tf.image.resizeBilinear), a = `opacity`, and
 * [lo, hi] = `range`. So opacity 0 gives the image exactly and opacity 1 the coloured map.
 *
 * pytorch-grad-cam's `show_cam_on_image(img, mask, image_weight)` is the same blend with
 * a = 1 − image_weight and the jet map, except that it then divides by the brightest value;
 * this helper does not, so the image keeps its own brightness.
 *
 * @example
 *   const r = tc.gradCam(model, x);
 *   fs.writeFileSync('cam.png', tc.render.overlayPng(r.input, r.upsampled, { colormap: 'jet' }));
 * @throws TslabCamError BAD_IMAGE for an image that is not (H, W, C), BAD_OPTION for a map that is
 *   not (h, w), an opacity outside [0, 1], an unknown colour map or an empty range.
 */
export function overlayPng(image: ArrayWithShape, map: ArrayWithShape, options: OverlayPngOptions = {}): Uint8Array {
  const img = imageOf(image);
  const m = mapOf(map);
  const { colormap, opacity, lo, hi } = checkedOptions(options, m);
  const { px, width, height } = overlayPixels(img, m, colormap, lo, hi, opacity);
  return encodePng(px, width, height);
}

/**
 * Writes `overlayPng(image, map, options)` to `file` (folders are created) and returns its
 * absolute path.
 * @throws TslabCamError as overlayPng, and BAD_OPTION when the file cannot be written.
 */
export function saveOverlayPng(file: string, image: ArrayWithShape, map: ArrayWithShape, options: OverlayPngOptions = {}): string {
  const png = overlayPng(image, map, options);
  const out = path.resolve(file);
  try {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, png);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new TslabCamError('BAD_OPTION', `Cannot write the overlay to ${out} (${code}).`,
      'Choose a path in a folder you can write to.', { cause: e });
  }
  return out;
}
