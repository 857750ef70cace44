/**
 * Reading PNG pixels in JavaScript. Its one job is to read back what a canvas has drawn without
 * `getImageData`: in @napi-rs/canvas 1.1.1 every ImageData it hands out is native memory freed
 * only by a finaliser on a later event-loop turn (300 reads of one 448×448 canvas in one
 * synchronous loop held +308 MiB), whereas the canvas's own PNG encoding is lossless and, taken
 * through `toDataURL`, is ordinary garbage-collected memory. So pixels = inflate + unfilter of it.
 *
 * Supports what an encoder of 8-bit images writes: bit depth 8, colour types 0 (grey),
 * 2 (RGB), 3 (palette), 4 (grey + alpha) and 6 (RGBA), no interlacing (PNG spec, ISO/IEC 15948).
 */
import { inflateSync } from 'zlib';

/** Straight (not premultiplied) RGBA pixels, row-major, 4 bytes a pixel. */
export interface RgbaPixels {
  readonly px: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** The Paeth predictor (PNG filter type 4): whichever of a, b, c is closest to a + b − c. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the per-row filters; `bpp` bytes per pixel, `stride` bytes per row. */
function unfilter(raw: Uint8Array, height: number, stride: number, bpp: number): Uint8Array {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    const first = y === 0;
    // One loop per filter type: this runs for every byte of every figure read back.
    switch (type) {
      case 0:
        out.set(raw.subarray(src, src + stride), row);
        break;
      case 1:
        for (let i = 0; i < stride; i++) out[row + i] = raw[src + i] + (i >= bpp ? out[row + i - bpp] : 0);
        break;
      case 2:
        for (let i = 0; i < stride; i++) out[row + i] = raw[src + i] + (first ? 0 : out[prev + i]);
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? out[row + i - bpp] : 0;
          out[row + i] = raw[src + i] + ((a + (first ? 0 : out[prev + i])) >> 1);
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? out[row + i - bpp] : 0;
          const b = first ? 0 : out[prev + i];
          const c = first || i < bpp ? 0 : out[prev + i - bpp];
          out[row + i] = raw[src + i] + paeth(a, b, c);
        }
        break;
      default:
        throw new Error(`PNG row ${y} has unknown filter type ${type}`);
    }
  }
  return out;
}

/**
 * The pixels of a PNG as straight RGBA. Throws a plain Error on anything it does not support:
 * its inputs come from encoders inside this library, never from users.
 */
export function readPngPixels(png: Uint8Array): RgbaPixels {
  if (png.length < 33 || SIGNATURE.some((b, i) => png[i] !== b)) throw new Error('not a PNG');
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let width = 0, height = 0, depth = 0, type = -1, interlace = 0;
  let palette: Uint8Array | null = null;
  let alphaOfPalette: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  for (let o = 8; o + 8 <= png.length;) {
    const len = view.getUint32(o);
    const name = String.fromCharCode(png[o + 4], png[o + 5], png[o + 6], png[o + 7]);
    const body = png.subarray(o + 8, o + 8 + len);
    if (name === 'IHDR') {
      width = view.getUint32(o + 8);
      height = view.getUint32(o + 12);
      depth = png[o + 16];
      type = png[o + 17];
      interlace = png[o + 20];
    } else if (name === 'PLTE') palette = body;
    else if (name === 'tRNS') alphaOfPalette = body;
    else if (name === 'IDAT') idat.push(body);
    else if (name === 'IEND') break;
    o += 12 + len;
  }
  const channels = CHANNELS[type];
  if (depth !== 8 || channels === undefined || interlace !== 0 || (type === 3 && !palette)) {
    throw new Error(`unsupported PNG: bit depth ${depth}, colour type ${type}, interlace ${interlace}`);
  }
  const stride = width * channels;
  const data = unfilter(inflateSync(Buffer.concat(idat)), height, stride, channels);
  const px = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const s = i * channels;
    const d = i * 4;
    if (type === 6) {
      px[d] = data[s]; px[d + 1] = data[s + 1]; px[d + 2] = data[s + 2]; px[d + 3] = data[s + 3];
    } else if (type === 2) {
      px[d] = data[s]; px[d + 1] = data[s + 1]; px[d + 2] = data[s + 2]; px[d + 3] = 255;
    } else if (type === 3) {
      const k = data[s];
      px[d] = palette![k * 3]; px[d + 1] = palette![k * 3 + 1]; px[d + 2] = palette![k * 3 + 2];
      px[d + 3] = alphaOfPalette && k < alphaOfPalette.length ? alphaOfPalette[k] : 255;
    } else {
      px[d] = px[d + 1] = px[d + 2] = data[s];
      px[d + 3] = type === 4 ? data[s + 1] : 255;
    }
  }
  return { px, width, height };
}
