/**
 * The library's only @napi-rs/canvas objects: a few canvases reused for every image, and pixels
 * moved in and out of them without native memory that outlives the call.
 *
 * Why: @napi-rs/canvas 1.1.1 frees a canvas's surface, and every ImageData it hands out, only in
 * a finaliser that runs on a later event-loop turn. A notebook cell or script that renders in one
 * synchronous loop never yields, so all of it stayed: measured here, 150 renders of a 448×448
 * overlay figure's PNG grew RSS by 533 MiB (3.5 MiB each), `toBundle` of the same figure by
 * 944 MiB. Measured per operation (300 in a loop, 448×448): a new canvas per PNG +237 MiB,
 * `getImageData` / `createImageData` / `canvas.data()` +308 MiB each; on one reused canvas,
 * `toBuffer` +2 MiB and `putImageData(new ImageData(jsArray))` +4 MiB, and assigning a new size
 * frees the old surface at once (+3.6 MiB over 300 resizes across 7 sizes).
 *
 * So: one canvas per role (`CanvasSlot`), resized (which also resets it) for each use; pixels go
 * in as an ImageData over a JavaScript array and come out by decoding the canvas's own lossless
 * PNG (`readPngPixels`), never through `getImageData`. Memory held between calls: the last
 * surface of each slot. Everything here is synchronous, so a slot is never used by two callers
 * at once (each worker thread has its own module instance).
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

/**
 * A canvas's pixels as straight RGBA, read back from its PNG encoding (lossless) instead of
 * `getImageData`, whose native buffer would outlive the call. For opaque pixels the two agree
 * exactly; both un-premultiply the same way where alpha < 255.
 */
export function canvasPixels(canvas: Canvas): RgbaPixels {
  return readPngPixels(canvas.toBuffer('image/png'));
}

const encoder = new CanvasSlot();

/** RGBA pixels as PNG bytes, encoded by the canvas (Skia's PNG encoder) on a reused canvas. */
export function encodeRgbaPng(px: Uint8ClampedArray, width: number, height: number): Buffer {
  const { canvas, ctx } = encoder.fresh(width, height);
  putPixels(ctx, px, width, height);
  return canvas.toBuffer('image/png');
}

/** RGBA pixels as JPEG bytes at `quality` (0–100), on the same reused canvas. */
export function encodeRgbaJpeg(px: Uint8ClampedArray, width: number, height: number, quality: number): Buffer {
  const { canvas, ctx } = encoder.fresh(width, height);
  putPixels(ctx, px, width, height);
  return canvas.encodeSync('jpeg', quality);
}
