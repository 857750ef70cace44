/**
 * Pure geometry over maps and ground truth: boxes, masks, thresholds, connected regions, and the
 * checks that turn bad ground truth into typed errors before any model runs.
 */
import { TslabCamError } from '../errors';
import type { Box, EvalSample } from './types';

/** Whether pixel (x, y) lies in the box. */
export function inside(box: Box, x: number, y: number): boolean {
  return x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
}

/** Intersection over union of two boxes (pixel counts). */
export function boxIoU(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  const inter = Math.max(0, w) * Math.max(0, h);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** The tight box around a mask's non-zero pixels, or null for an empty mask. */
export function maskBox(mask: ArrayLike<number>, width: number): Box | null {
  let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    const x = i % width, y = Math.floor(i / width);
    if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** The sample's box: its own, or the one around its mask. */
export function targetBox(s: EvalSample): Box | null {
  return s.box ?? (s.mask ? maskBox(s.mask, s.width) : null);
}

/** Largest value of a map. */
export function maxOf(map: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < map.length; i++) if (map[i] > m) m = map[i];
  return m;
}

/** 1 where map ≥ fraction · max(map) (and the map is not all ≤ 0), else 0. */
export function thresholdMap(map: ArrayLike<number>, fraction: number): Uint8Array {
  const m = maxOf(map);
  const out = new Uint8Array(map.length);
  if (!(m > 0)) return out;
  const t = fraction * m;
  for (let i = 0; i < map.length; i++) out[i] = map[i] >= t ? 1 : 0;
  return out;
}

/**
 * The box around the largest 8-connected region of a binary mask (ties: the region found first
 * in row-major order), or null when the mask is empty.
 */
export function largestRegionBox(mask: Uint8Array, width: number): Box | null {
  const height = mask.length / width;
  const seen = new Uint8Array(mask.length);
  const stack = new Int32Array(mask.length);
  let best: Box | null = null, bestSize = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    let top = 0, size = 0, x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
    stack[top++] = start; seen[start] = 1;
    while (top) {
      const i = stack[--top];
      const x = i % width, y = (i - x) / width;
      size++;
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx, ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (mask[j] && !seen[j]) { seen[j] = 1; stack[top++] = j; }
        }
      }
    }
    if (size > bestSize) { bestSize = size; best = { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 }; }
  }
  return best;
}

/** Intersection over union of two binary masks; 0 when both are empty. */
export function maskIoU(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0, union = 0;
  for (let i = 0; i < a.length; i++) {
    const p = a[i] ? 1 : 0, q = b[i] ? 1 : 0;
    inter += p & q; union += p | q;
  }
  return union ? inter / union : 0;
}

const where = (s: EvalSample, i: number): string => (s.name ? `Sample '${s.name}'` : `Sample ${i}`);

/**
 * Checks a sample's pixels, box and mask (sizes, box inside the image); throws BAD_SAMPLE with
 * the fix. `index` names the sample in the message.
 */
export function checkSample(s: EvalSample, index: number): void {
  const w = where(s, index);
  if (!(s.pixels instanceof Float32Array) || !(s.width > 0) || !(s.height > 0) || !(s.channels > 0) || s.pixels.length !== s.width * s.height * s.channels) {
    throw new TslabCamError('BAD_SAMPLE', `${w} has ${s.pixels?.length ?? 0} pixel values for ${s.height}×${s.width}×${s.channels}.`,
      'Pass pixels as a Float32Array of height·width·channels values (row-major, as the model takes them).');
  }
  if (s.box) {
    const b = s.box;
    const ok = [b.x, b.y, b.width, b.height].every(Number.isInteger) && b.width > 0 && b.height > 0 && b.x >= 0 && b.y >= 0 &&
      b.x + b.width <= s.width && b.y + b.height <= s.height;
    if (!ok) {
      throw new TslabCamError('BAD_SAMPLE', `${w}'s box {x: ${b.x}, y: ${b.y}, width: ${b.width}, height: ${b.height}} is not inside the ${s.width}×${s.height} image.`,
        'Give boxes in pixels of the image the model sees (whole numbers, 0 ≤ x, x + width ≤ image width, same for y); rescale boxes when you resize images.');
    }
  }
  if (s.mask) {
    if (s.mask.length !== s.width * s.height) {
      throw new TslabCamError('BAD_SAMPLE', `${w}'s mask has ${s.mask.length} values; the image has ${s.height}×${s.width} = ${s.width * s.height} pixels.`,
        'Give one mask value per pixel of the image the model sees (height·width, row-major); resize the mask with the image.');
    }
  }
}
