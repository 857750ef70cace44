/**
 * The article's quantities as pure functions on plain arrays: no tfjs, so the render layer and
 * the synthetic examples use the very same equations as the methods (one home per equation).
 */
import type { MapForms, NDArray } from './types';

/**
 * Min-max scaling to [0,1]: (m − min) / (max − min). A constant map (all zeros included) becomes
 * all zeros rather than 0/0 = NaN, so a blank explanation stays blank.
 */
export function normalizeMap(data: Float32Array): Float32Array {
  return minMaxInto(data, new Float32Array(data.length));
}

/** normalizeMap's scaling written into `out` (which may be `data` itself); returns out. */
function minMaxInto(data: Float32Array, out: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = hi - lo;
  if (!(range > 0) || !Number.isFinite(range)) return out.fill(0);
  for (let i = 0; i < data.length; i++) out[i] = (data[i] - lo) / range;
  return out;
}

/**
 * Bilinear resize of one (h, w) map to (H, W) with half-pixel centres and edge clamping: the
 * same sampling as tf.image.resizeBilinear(…, alignCorners false, halfPixelCenters true) and
 * cv2.resize, which pytorch-grad-cam uses.
 */
export function resizeBilinear(map: NDArray, H: number, W: number): NDArray {
  const [h, w] = map.shape;
  if (map.shape.length !== 2) throw new RangeError(`resizeBilinear: expected an (h, w) map, got shape [${map.shape.join(', ')}]`);
  if (h === H && w === W) return map;
  const out = new Float32Array(H * W);
  const data = map.data;
  const sy = h / H;
  const sx = w / W;
  // Separable: every source row is first resized along x (in doubles, so each output value is
  // the same expression top·(1 − ty) + bottom·ty as sampling the four neighbours directly).
  const rows = new Float64Array(h * W);
  for (let X = 0; X < W; X++) {
    const fx = Math.min(w - 1, Math.max(0, (X + 0.5) * sx - 0.5));
    const x0 = Math.floor(fx);
    const x1 = Math.min(w - 1, x0 + 1);
    const tx = fx - x0;
    for (let y = 0; y < h; y++) rows[y * W + X] = data[y * w + x0] * (1 - tx) + data[y * w + x1] * tx;
  }
  for (let Y = 0; Y < H; Y++) {
    const fy = Math.min(h - 1, Math.max(0, (Y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const r0 = y0 * W;
    const r1 = Math.min(h - 1, y0 + 1) * W;
    const ty = fy - y0;
    const o = Y * W;
    for (let X = 0; X < W; X++) out[o + X] = rows[r0 + X] * (1 - ty) + rows[r1 + X] * ty;
  }
  return { data: out, shape: [H, W] };
}

/** Bilinear resize of N maps (N, h, w) to (N, H, W) (see resizeBilinear). */
export function upsampleMaps(maps: Float32Array, n: number, h: number, w: number, size: readonly [number, number]): Float32Array {
  const [H, W] = size;
  const out = new Float32Array(n * H * W);
  for (let i = 0; i < n; i++) {
    out.set(resizeBilinear({ data: maps.subarray(i * h * w, (i + 1) * h * w), shape: [h, w] }, H, W).data, i * H * W);
  }
  return out;
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
  const resized = resizeBilinear({ data: normalized, shape: [h, w] }, size[0], size[1]).data;
  // The resized map is a fresh array (scaled in place) unless no resizing was needed.
  const up = minMaxInto(resized, resized === normalized ? new Float32Array(resized.length) : resized);
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
  const z = h * w;
  const F = new Float32Array(k);
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let p = 0; p < z; p++) s += f.data[p * k + c];
    F[c] = s / z;
  }
  return F;
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

/** α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x,y) for one image's gradient of shape (h, w, K). */
export function alphaOf(grads: Float32Array, h: number, w: number, k: number): Float32Array {
  const z = h * w;
  const a = new Float32Array(k);
  // One channel at a time with the sum in a local: the same additions in the same order as
  // accumulating all channels row by row, ~3× faster than updating an array element per term.
  for (let c = 0; c < k; c++) {
    let s = 0;
    for (let p = 0; p < z; p++) s += grads[p * k + c];
    a[c] = s / z;
  }
  return a;
}

/** L_c(x,y) = ReLU(m(x,y)) element-wise: the map keeps only what raises the score. */
export function reluMap(m: Float32Array): Float32Array {
  return m.map((v) => (v > 0 ? v : 0));
}

/** The largest value of an array (a loop: spreading a 224×224 map into Math.max overflows the stack). */
export function maxOf(a: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}

/**
 * Scales a gradient image for display as the guided-backprop papers show it: centred at 0.5 with
 * a standard deviation of 0.1, clipped to [0,1]. A zero gradient becomes flat grey.
 */
export function displayGradient(g: Float32Array): Float32Array {
  let mean = 0;
  for (const v of g) mean += v;
  mean /= g.length || 1;
  let varSum = 0;
  for (const v of g) varSum += (v - mean) ** 2;
  const std = Math.sqrt(varSum / (g.length || 1));
  return g.map((v) => Math.min(1, Math.max(0, ((v - mean) / (std + 1e-12)) * 0.1 + 0.5)));
}

/** Guided Grad-CAM's product: guided(x,y,ch) · upsample(L_c)(x,y) per pixel and channel. */
export function guidedProduct(guided: NDArray, upsampledL: NDArray): Float32Array {
  const [h, w, ch] = guided.shape;
  const out = new Float32Array(h * w * ch);
  for (let p = 0; p < h * w; p++) for (let c = 0; c < ch; c++) out[p * ch + c] = guided.data[p * ch + c] * upsampledL.data[p];
  return out;
}
