import * as tf from '@tensorflow/tfjs';
import { MapForms, NDArray } from './types';

/**
 * Min-max scaling to [0,1]: (m − min) / (max − min). A constant map (all zeros included) becomes
 * all zeros rather than 0/0 = NaN, so a blank explanation stays blank.
 */
export function normalizeMap(data: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(data.length);
  const range = hi - lo;
  if (!(range > 0) || !Number.isFinite(range)) return out;
  for (let i = 0; i < data.length; i++) out[i] = (data[i] - lo) / range;
  return out;
}

/** Bilinear resize of N maps (N, h, w) to (N, H, W) (half-pixel centres, like cv2.resize). */
export function upsampleMaps(maps: Float32Array, n: number, h: number, w: number, size: readonly [number, number]): Float32Array {
  return tf.tidy(() => {
    const t = tf.tensor4d(maps, [n, h, w, 1]);
    return tf.image.resizeBilinear(t, [size[0], size[1]], false, true).dataSync() as Float32Array;
  });
}

/**
 * The three forms of one (h, w) map: raw, normalised, and upsampled to (H, W). As in
 * pytorch-grad-cam (`scale_cam_image`: min-max, cv2 bilinear resize, min-max again), the resized
 * map is min-max scaled once more, so `upsampled` spans [0, 1] and reaches 1 at its peak: bilinear
 * resizing with half-pixel centres never samples a cell's centre exactly, so the resized peak
 * alone stays below 1 and an overlay would never reach the top of its colour scale. An all-zero
 * map stays all zero.
 */
export function mapForms(raw: Float32Array, h: number, w: number, size: readonly [number, number]): MapForms {
  const normalized = normalizeMap(raw);
  const up = normalizeMap(upsampleMaps(normalized, 1, h, w, size));
  return {
    raw: { data: raw, shape: [h, w] },
    normalized: { data: normalized, shape: [h, w] },
    upsampled: { data: up, shape: [size[0], size[1]] },
  };
}

/** Image i of a batch held as one flat array of shape (N, ...rest). */
export function sliceBatch(data: Float32Array, shape: readonly number[], i: number): NDArray {
  const rest = shape.slice(1);
  const size = rest.reduce((a, b) => a * b, 1);
  return { data: data.slice(i * size, (i + 1) * size), shape: rest };
}

/** F_k = (1/Z) Σ_{x,y} f_k(x,y) for one image's f of shape (h, w, K). */
export function gapOf(f: NDArray): Float32Array {
  const [h, w, k] = f.shape;
  const F = new Float64Array(k);
  for (let p = 0; p < h * w; p++) for (let c = 0; c < k; c++) F[c] += f.data[p * k + c];
  return Float32Array.from(F, (v) => v / (h * w));
}

/** Σ_k weights_k f_k(x,y) for one image's f (h, w, K): an (h, w) map (CAM's M_c, Grad-CAM's sum). */
export function weightedSum(f: NDArray, weights: ArrayLike<number>): Float32Array {
  const [h, w, k] = f.shape;
  const out = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let c = 0; c < k; c++) s += weights[c] * f.data[p * k + c];
    out[p] = s;
  }
  return out;
}
