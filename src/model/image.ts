import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { loadImage as decodeWithCanvas, type Image } from '@napi-rs/canvas';
import { TslabCamError } from '../errors';
import { relativeTo } from '../host';
import { ModelMeta, modelMetaOf } from './builtin';
import { CanvasSlot, canvasPixels } from './canvas';
import { ensureBackend } from './backend';

/**
 * Images in, model input out: decode a PNG/JPEG (path, URL or bytes) with @napi-rs/canvas, resize
 * it to the model's input size and scale it as the model's metadata says.
 */

/** A file path, an http(s) or data: URL, or the encoded bytes of a PNG/JPEG. */
export type ImageSource = string | URL | Uint8Array | ArrayBuffer;

export interface LoadImageOptions {
  /**
   * The model the image is for: its attached metadata (from loadModel) or its input shape decides
   * size and channels. A ModelMeta object may be passed directly.
   */
  readonly model?: tf.LayersModel | ModelMeta;
  /** Output size: a side for a square, or [height, width]. Overrides the model's. */
  readonly size?: number | readonly [number, number];
  /** Scaling of bytes 0…255 to [lo, hi]; overrides the model's. Default [0, 1]. */
  readonly inputRange?: readonly [number, number];
  /** Abort a URL download after this many ms (default 30000). */
  readonly timeoutMs?: number;
}

/** What loadImage decided, for callers that want to say how the image was prepared. */
export interface Preprocessing {
  readonly height: number;
  readonly width: number;
  readonly channels: 1 | 3;
  readonly inputRange: readonly [number, number];
}

/** Format of encoded bytes from their first bytes, or null when not a format we decode. */
export function sniffFormat(bytes: Uint8Array): 'png' | 'jpeg' | 'gif' | 'webp' | 'bmp' | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'gif';
  if (b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'webp';
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return 'bmp';
  return null;
}

function describeBytes(bytes: Uint8Array): string {
  const head = Array.from(bytes.subarray(0, 8)).map((x) => x.toString(16).padStart(2, '0')).join(' ');
  const text = Buffer.from(bytes.subarray(0, 40)).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return bytes.length === 0 ? 'no bytes at all' : `${bytes.length} bytes starting ${head} ("${text}")`;
}

function isHttpUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

async function fetchBytes(url: string, timeoutMs: number): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new TslabCamError('BAD_IMAGE', `Could not download ${url} (${(e as Error).message}).`,
      'Check the URL and the network, or download the image and pass its file path.', { cause: e });
  }
  if (!response.ok) {
    throw new TslabCamError('BAD_IMAGE', `Downloading ${url} failed with HTTP ${response.status} ${response.statusText}.`,
      'Check the URL; it must point at a PNG or JPEG file itself, not a web page.');
  }
  return new Uint8Array(await response.arrayBuffer());
}

function readPath(file: string): Uint8Array {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TslabCamError('BAD_IMAGE', `Cannot read the image file ${file} (${code ?? (e as Error).message}).`,
      code === 'ENOENT' ? `Check the path (${relativeTo()}).` : 'Check the path and its permissions.', { cause: e });
  }
}

function dataUrlBytes(url: string): Uint8Array {
  const m = /^data:[^,]*?(;base64)?,(.*)$/s.exec(url);
  if (!m) throw new TslabCamError('BAD_IMAGE', 'The data: URL is malformed.', 'Pass data:image/png;base64,… or the file path.');
  return m[1] ? Buffer.from(m[2], 'base64') : Buffer.from(decodeURIComponent(m[2]), 'latin1');
}

/** The encoded bytes of a source: read, downloaded (only the URL given) or taken as is. */
export async function imageBytes(source: ImageSource, timeoutMs = 30000): Promise<{ bytes: Uint8Array; from: string }> {
  if (source instanceof Uint8Array) return { bytes: source, from: 'the given bytes' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), from: 'the given bytes' };
  const text = source instanceof URL ? source.href : source;
  if (typeof text !== 'string') {
    throw new TslabCamError('BAD_IMAGE', `loadImage got ${Object.prototype.toString.call(source)}, not an image source.`,
      'Pass a file path, an http(s) URL, or a Buffer / Uint8Array holding a PNG or JPEG.');
  }
  if (isHttpUrl(text)) return { bytes: await fetchBytes(text, timeoutMs), from: text };
  if (/^data:/i.test(text)) return { bytes: dataUrlBytes(text), from: 'the data: URL' };
  if (/^file:\/\//i.test(text)) return { bytes: readPath(new URL(text).pathname), from: text };
  return { bytes: readPath(text), from: text };
}

/** Decode PNG/JPEG bytes into an Image; BAD_IMAGE with what the bytes look like otherwise. */
export async function decodeImage(bytes: Uint8Array, from = 'the image'): Promise<Image> {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new TslabCamError('BAD_IMAGE', `${from} is not a PNG or JPEG: ${describeBytes(bytes)}.`,
      'Pass a PNG or JPEG file (a URL must point at the image itself, not a web page).');
  }
  try {
    const img = await decodeWithCanvas(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    if (!img.width || !img.height) throw new Error('decoded to an empty image');
    return img;
  } catch (e) {
    throw new TslabCamError('BAD_IMAGE', `${from} looks like ${format.toUpperCase()} but cannot be decoded (${(e as Error).message}).`,
      'The file is probably truncated or corrupt; re-save or re-download it.', { cause: e });
  }
}

function sizePair(size: number | readonly [number, number]): [number, number] {
  const pair: [number, number] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
  if (!pair.every((v) => Number.isInteger(v) && v > 0 && v <= 8192)) {
    throw new TslabCamError('BAD_OPTION', `size ${JSON.stringify(size)} is not a valid image size.`,
      'Give a whole number of pixels (a square side) or [height, width], each 1–8192.');
  }
  return pair;
}

function isLayersModel(m: tf.LayersModel | ModelMeta): m is tf.LayersModel {
  return typeof (m as tf.LayersModel).predict === 'function';
}

/**
 * Decide size, channels and scaling: explicit options first, then the model's metadata, then the
 * model's input shape, then the image's own size, RGB and [0, 1].
 */
export function resolvePreprocessing(options: LoadImageOptions, natural: [number, number]): Preprocessing {
  const model = options.model;
  const meta: ModelMeta | null = model ? (isLayersModel(model) ? modelMetaOf(model) : model) : null;
  let size: [number, number] | null = options.size !== undefined ? sizePair(options.size) : meta ? [meta.inputSize[0], meta.inputSize[1]] : null;
  let channels: 1 | 3 = meta ? meta.channels : 3;
  if (model && isLayersModel(model)) {
    const shape = model.inputs[0].shape;
    if (!size && shape.length === 4 && typeof shape[1] === 'number' && typeof shape[2] === 'number') size = [shape[1], shape[2]];
    if (!meta && shape.length === 4 && shape[3] === 1) channels = 1;
  }
  const range = options.inputRange ?? meta?.inputRange ?? [0, 1];
  const [height, width] = size ?? natural;
  return { height, width, channels, inputRange: [range[0], range[1]] };
}

/**
 * RGBA bytes (as canvas gives them) → (1, H, W, C) float32, byte v mapped to lo + (hi−lo)·v/255.
 * One channel means luminance (ITU-R BT.601 weights).
 */
export function rgbaToTensor(rgba: Uint8ClampedArray | Uint8Array, height: number, width: number, channels: 1 | 3,
  inputRange: readonly [number, number]): tf.Tensor4D {
  const [lo, hi] = inputRange;
  const k = (hi - lo) / 255;
  const out = new Float32Array(height * width * channels);
  for (let i = 0; i < height * width; i++) {
    const r = rgba[i * 4], g = rgba[i * 4 + 1], b = rgba[i * 4 + 2];
    if (channels === 3) {
      out[i * 3] = lo + k * r; out[i * 3 + 1] = lo + k * g; out[i * 3 + 2] = lo + k * b;
    } else {
      out[i] = lo + k * (0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  return tf.tensor4d(out, [1, height, width, channels]);
}

/**
 * The canvas every loadImage resizes on: reused, and read back without getImageData, so loading
 * images in a loop holds no native memory per image (model/canvas.ts). The decoded Image itself
 * is still freed by its finaliser; decoding awaits, so the event loop turns between images.
 */
const resizeSlot = new CanvasSlot();

/**
 * Load an image as the input a model expects: decode (PNG/JPEG from a path, an http(s) URL — only
 * that URL is fetched — or bytes), resize to the model's input size (bilinear-quality canvas
 * scaling; transparent pixels over white) and scale by its inputRange. Returns a (1, H, W, C)
 * float32 tensor the caller disposes. Undecodable data throws TslabCamError 'BAD_IMAGE'.
 */
export async function loadImage(source: ImageSource, options: LoadImageOptions = {}): Promise<tf.Tensor4D> {
  await ensureBackend();
  const { bytes, from } = await imageBytes(source, options.timeoutMs);
  const img = await decodeImage(bytes, from);
  const prep = resolvePreprocessing(options, [img.height, img.width]);
  // From here to the pixels nothing awaits, so the shared canvas is this call's alone.
  const { canvas, ctx } = resizeSlot.fresh(prep.width, prep.height);
  // White under transparency, the way image viewers show a PNG with alpha.
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, prep.width, prep.height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(img, 0, 0, prep.width, prep.height);
  const { px } = canvasPixels(canvas);
  return rgbaToTensor(px, prep.height, prep.width, prep.channels, prep.inputRange);
}
