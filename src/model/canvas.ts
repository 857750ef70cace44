/**
 * The library's only @napi-rs/canvas objects: a few canvases reused for every image, and pixels
 * and encoded images moved in and out of them without native memory that outlives the call.
 *
 * Why: @napi-rs/canvas 1.1.1 frees a canvas's surface, every ImageData it hands out and every
 * Buffer its encoders return only in a finaliser that runs on a later event-loop turn. A notebook
 * cell or script that renders in one synchronous loop never yields, so all of it stayed: 150
 * renders of a 448×448 overlay figure grew RSS by 921 MiB. Measured per operation, 300 in a loop
 * on 448×448 canvases:
 * - a new canvas per PNG: +237 MiB; `getImageData`, `createImageData` or `canvas.data()`: +308 MiB;
 * - `toBuffer('image/png')` of one noisy canvas: +200 MiB (the 700 KB PNGs themselves);
 * - on one reused canvas: `toDataURL` (the same PNG bytes, and the same JPEG bytes as
 *   `encodeSync` at the same quality, as a JavaScript string): −0.3 MiB;
 *   `putImageData(new ImageData(jsArray))`: a one-off +32 MiB, the same for 100 or 1,000 calls;
 *   a new size each time: −0.6 MiB (assigning a size frees the old surface at once).
 *
 * So: one canvas per role (`CanvasSlot`), reset for each use; pixels go in as an ImageData over a
 * JavaScript array; encoded images come out through `toDataURL`; pixels come out by decoding the
 * canvas's own lossless PNG (`readPngPixels`). Memory held between calls: the last surface of
 * each slot. Everything here is synchronous, so a slot is never used by two callers at once (each
 * worker thread has its own module instance).
 */
import { createCanvas, ImageData, type Canvas, type SKRSContext2D } from '@napi-rs/canvas';
import { readPngPixels, type RgbaPixels } from './pngRead';

/** A canvas kept for one role (scene, tile, encoder, decoder), created on first use. */
export class CanvasSlot {
  private canvas: Canvas | null = null;

  /**
   * The slot's canvas at `width`×`height`, in the state of a new canvas: transparent pixels,
   * default context state. At the same size `ctx.reset()` does that and keeps the surface; a new
   * size is assigned, which resets too (HTML canvas rule, followed by @napi-rs/canvas) and frees
   * the previous surface now.
   */
  fresh(width: number, height: number): { canvas: Canvas; ctx: SKRSContext2D } {
    if (!this.canvas) this.canvas = createCanvas(width, height);
    else if (this.canvas.width === width && this.canvas.height === height) this.canvas.getContext('2d').reset();
    else {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    return { canvas: this.canvas, ctx: this.canvas.getContext('2d') };
  }
}

/** Writes straight RGBA pixels into `ctx` at (0, 0) without a native ImageData allocation. */
export function putPixels(ctx: SKRSContext2D, px: Uint8ClampedArray, width: number, height: number): void {
  ctx.putImageData(new ImageData(px, width, height), 0, 0);
}

const PNG_URI = 'data:image/png;base64,';
const JPEG_URI = 'data:image/jpeg;base64,';

/** The canvas as PNG bytes (Skia's encoder, as toBuffer('image/png')), in memory the GC owns. */
export function canvasPng(canvas: Canvas): Buffer {
  const uri = canvas.toDataURL('image/png');
  if (!uri.startsWith(PNG_URI)) throw new Error(`canvas.toDataURL gave ${uri.slice(0, 30)}…, not a PNG data: URI`);
  return Buffer.from(uri.slice(PNG_URI.length), 'base64');
}

/** The canvas as JPEG bytes at `quality` 0–100 (as encodeSync('jpeg', quality)), in memory the GC owns. */
export function canvasJpeg(canvas: Canvas, quality: number): Buffer {
  const uri = canvas.toDataURL('image/jpeg', quality / 100);
  if (!uri.startsWith(JPEG_URI)) throw new Error(`canvas.toDataURL gave ${uri.slice(0, 30)}…, not a JPEG data: URI`);
  return Buffer.from(uri.slice(JPEG_URI.length), 'base64');
}

/**
 * A canvas's pixels as straight RGBA, read back from its PNG encoding (lossless) instead of
 * `getImageData`, whose native buffer would outlive the call. For opaque pixels the two agree
 * exactly; both un-premultiply the same way where alpha < 255.
 */
export function canvasPixels(canvas: Canvas): RgbaPixels {
  return readPngPixels(canvasPng(canvas));
}

const encoder = new CanvasSlot();

/** RGBA pixels as PNG bytes, encoded by the canvas (Skia's PNG encoder) on a reused canvas. */
export function encodeRgbaPng(px: Uint8ClampedArray, width: number, height: number): Buffer {
  const { canvas, ctx } = encoder.fresh(width, height);
  putPixels(ctx, px, width, height);
  return canvasPng(canvas);
}

/** RGBA pixels as JPEG bytes at `quality` (0–100), on the same reused canvas. */
export function encodeRgbaJpeg(px: Uint8ClampedArray, width: number, height: number, quality: number): Buffer {
  const { canvas, ctx } = encoder.fresh(width, height);
  putPixels(ctx, px, width, height);
  return canvasJpeg(canvas, quality);
}
