/**
 * Perturbed images for the faithfulness metrics, as plain arrays: pixel orders from a map,
 * baselines (blur, zero, mean), the deletion / insertion image stacks, and ROAD's noisy linear
 * imputation.
 */
import { TslabCamError } from '../errors';
import { gaussian, mulberry32 } from '../data/prng';
import type { Baseline, EvalSample } from './types';

/** Pixel indices by decreasing map value; ties keep row-major order (a stable sort). */
export function orderByMap(map: ArrayLike<number>): Int32Array {
  const idx = Array.from({ length: map.length }, (_, i) => i);
  idx.sort((a, b) => (map[b] - map[a]) || (a - b));
  return Int32Array.from(idx);
}

/**
 * Gaussian blur per channel, separable, edges clamped. σ defaults to RISE's 5 px at 224 px scaled
 * to the image (about 1.4 px at 64).
 */
export function blurImage(s: EvalSample, sigma = Math.max(1, 5 * Math.max(s.width, s.height) / 224)): Float32Array {
  const { width: W, height: H, channels: C } = s;
  const r = Math.ceil(3 * sigma);
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) { k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma)); sum += k[i + r]; }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const tmp = new Float32Array(s.pixels.length), out = new Float32Array(s.pixels.length);
  const clamp = (v: number, hi: number): number => (v < 0 ? 0 : v > hi ? hi : v);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) {
    let v = 0;
    for (let i = -r; i <= r; i++) v += k[i + r] * s.pixels[(y * W + clamp(x + i, W - 1)) * C + c];
    tmp[(y * W + x) * C + c] = v;
  }
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) {
    let v = 0;
    for (let i = -r; i <= r; i++) v += k[i + r] * tmp[(clamp(y + i, H - 1) * W + x) * C + c];
    out[(y * W + x) * C + c] = v;
  }
  return out;
}

/** The image removed pixels are taken from: blurred, zeros, or the per-channel mean. */
export function baselineImage(s: EvalSample, baseline: Baseline): Float32Array {
  if (baseline === 'zero') return new Float32Array(s.pixels.length);
  if (baseline === 'blur') return blurImage(s);
  if (baseline === 'mean') {
    const C = s.channels, P = s.width * s.height, mean = new Float64Array(C);
    for (let i = 0; i < s.pixels.length; i++) mean[i % C] += s.pixels[i] / P;
    return Float32Array.from({ length: s.pixels.length }, (_, i) => mean[i % C]);
  }
  throw new TslabCamError('BAD_OPTION', `Unknown baseline '${String(baseline)}'.`, "Use 'blur', 'zero' or 'mean'.");
}

/** Checks a step count: a whole number from 1 to the number of pixels. */
export function checkSteps(steps: number, pixels: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > pixels) {
    throw new TslabCamError('BAD_OPTION', `steps must be a whole number from 1 to ${pixels} (the image's pixels), got ${steps}.`,
      'Pass e.g. {steps: 64}: the curve then has 65 points, removing 1/64 of the pixels at each step.');
  }
}

/**
 * The n+1 images of a deletion (from the image towards the baseline) or insertion (from the
 * baseline towards the image) curve, stacked: at step k the first round(k·P/n) pixels of
 * `order` are switched.
 */
export function curveImages(s: EvalSample, order: Int32Array, steps: number, baseline: Float32Array, kind: 'deletion' | 'insertion'): Float32Array {
  const P = s.width * s.height, C = s.channels, size = P * C;
  const from = kind === 'deletion' ? s.pixels : baseline, to = kind === 'deletion' ? baseline : s.pixels;
  const out = new Float32Array((steps + 1) * size);
  const current = Float32Array.from(from);
  let switched = 0;
  for (let k = 0; k <= steps; k++) {
    const upto = Math.round((k * P) / steps);
    for (; switched < upto; switched++) {
      const p = order[switched] * C;
      for (let c = 0; c < C; c++) current[p + c] = to[p + c];
    }
    out.set(current, k * size);
  }
  return out;
}

/** Area under a curve sampled at x = 0, 1/n, …, 1 (trapezoid rule). */
export function auc(y: ArrayLike<number>): number {
  const n = y.length - 1;
  if (n < 1) return NaN;
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i];
  return (s - (y[0] + y[n]) / 2) / n;
}

/** The 8 neighbours of ROAD's noisy linear imputation with their weights (1/6 sides, 1/12 corners). */
const NEIGHBOURS: readonly (readonly [number, number, number])[] = [
  [1, 1, 1 / 12], [0, 1, 1 / 6], [-1, 1, 1 / 12], [1, -1, 1 / 12], [0, -1, 1 / 6], [-1, -1, 1 / 12], [1, 0, 1 / 6], [-1, 0, 1 / 6],
];

/**
 * ROAD's noisy linear imputation (Rong et al., "A consistent and efficient evaluation strategy
 * for attribution methods", ICML 2022; as pytorch-grad-cam's NoisyLinearImputer): each removed
 * pixel becomes the weighted mean of its in-image neighbours, known or themselves imputed — the
 * solution of one sparse linear system, solved here by successive over-relaxation — plus
 * Gaussian noise of σ = `noise` from a seeded generator (so a batch equals single runs).
 */
export function imputeLinear(s: EvalSample, removed: Uint8Array, noise = 0.01, seed = 13): Float32Array {
  const { width: W, height: H, channels: C } = s;
  const out = Float32Array.from(s.pixels);
  const ids: number[] = [];
  for (let i = 0; i < removed.length; i++) if (removed[i]) ids.push(i);
  if (!ids.length) return out;
  const total = new Float64Array(ids.length);
  ids.forEach((p, j) => {
    const x = p % W, y = (p - x) / W;
    for (const [dy, dx, w] of NEIGHBOURS) if (x + dx >= 0 && x + dx < W && y + dy >= 0 && y + dy < H) total[j] += w;
  });
  const mean = new Float64Array(C);
  for (let i = 0; i < out.length; i++) mean[i % C] += out[i] / (W * H);
  for (const p of ids) for (let c = 0; c < C; c++) out[p * C + c] = mean[c];
  const omega = 1.9;
  for (let iter = 0; iter < 500; iter++) {
    let change = 0;
    ids.forEach((p, j) => {
      const x = p % W, y = (p - x) / W;
      for (let c = 0; c < C; c++) {
        let v = 0;
        for (const [dy, dx, w] of NEIGHBOURS) {
          const nx = x + dx, ny = y + dy;
          if (nx >= 0 && nx < W && ny >= 0 && ny < H) v += w * out[(ny * W + nx) * C + c];
        }
        const next = out[p * C + c] + omega * (v / total[j] - out[p * C + c]);
        change = Math.max(change, Math.abs(next - out[p * C + c]));
        out[p * C + c] = next;
      }
    });
    if (change < 1e-5) break;
  }
  const rng = mulberry32(seed);
  for (const p of ids) for (let c = 0; c < C; c++) out[p * C + c] += noise * gaussian(rng);
  return out;
}
