import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { mulberry32 } from '../data/prng';
import { LongRunOptions, checkBatchSize, chunkSize, forChunks, forwardBytesPerImage } from './chunks';
import { GUIDED_BACKPROP } from './guided';
import { toBatch } from './input';
import { displayGradient } from './maps';
import { MethodOptions, registerMethod, type ExplainableModel } from './registry';
import { runLayerMethods } from './runner';
import type { GuidedBackpropResult, ResultMeta } from './types';
import type { NDArray } from './types';

/** SmoothGrad's options. */
export interface SmoothGradOptions extends MethodOptions, LongRunOptions {
  /** Noisy copies per image (default 25). */
  readonly samples?: number;
  /** Noise level σ as a share of each image's value range (default 0.15): std = σ·(max − min). */
  readonly sigma?: number;
  /** Integer seed of the noise (default 0). */
  readonly seed?: number;
}

export interface SmoothGradResult extends ResultMeta {
  readonly method: 'smoothGrad';
  /** (H, W, C) the mean guided gradient over the noisy copies. */
  readonly gradient: NDArray;
  /** (H, W, C) scaled for display (centred at 0.5), in [0,1]. */
  readonly image: NDArray;
  /** S_c of the clean image. */
  readonly S: number;
  readonly samples: number;
  readonly sigma: number;
  readonly seed: number;
}

function checkOptions(o: SmoothGradOptions): { samples: number; sigma: number; seed: number } {
  const samples = o.samples ?? 25;
  const sigma = o.sigma ?? 0.15;
  const seed = o.seed ?? 0;
  if (!Number.isInteger(samples) || samples < 1 || samples > 10000) {
    throw new TslabCamError('BAD_OPTION', `SmoothGrad: samples must be a whole number from 1 to 10000, got ${String(samples)}.`, 'Pass e.g. {samples: 25} (the paper uses 50).');
  }
  if (typeof sigma !== 'number' || !Number.isFinite(sigma) || sigma < 0 || sigma > 1) {
    throw new TslabCamError('BAD_OPTION', `SmoothGrad: sigma must be a number in [0, 1] (a share of the image's value range), got ${String(sigma)}.`, 'Pass e.g. {sigma: 0.15}; the paper finds 0.1–0.2 best.');
  }
  if (!Number.isInteger(seed)) throw new TslabCamError('BAD_OPTION', `SmoothGrad: seed must be an integer, got ${String(seed)}.`, 'Pass e.g. {seed: 1}.');
  return { samples, sigma, seed };
}

/** Seeded standard normal numbers (Box–Muller on mulberry32), so a seed repeats on every backend. */
export function gaussian(n: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rng();
    const v = rng();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/**
 * SmoothGrad (Smilkov et al., SmoothGrad: removing noise by adding noise, 2017,
 * arXiv:1706.03825) of guided backprop: the mean of the guided gradient over noisy copies,
 *   Ĝ = (1/n) Σ_{j=1..n} G(x + ε_j),  ε_j ~ N(0, (σ·(max x − min x))²),
 * explaining the clean image's class c in every copy. Noise pattern j depends on (seed, j) only,
 * scaled by each image's own range, so a batch equals its singles. The copies run through guided backprop in
 * chunks of batchSize copies (sized from memory by default), cancellable between chunks.
 */
function smoothGradRun(model: ExplainableModel, images: tf.Tensor, options: SmoothGradOptions = {}, single?: string): SmoothGradResult[] {
  const { samples, sigma, seed } = checkOptions(options);
  const batchSize = checkBatchSize(options.batchSize, 'SmoothGrad');
  const clean = runLayerMethods([GUIDED_BACKPROP.def], model, images, options, single)[0] as GuidedBackpropResult[];
  const batch = toBatch(model, images);
  try {
    const [n, H, W, C] = batch.shape;
    const size = H * W * C;
    const sums = Array.from({ length: n }, () => new Float64Array(size));
    const total = n * samples;
    const chunk = chunkSize(total, 2 * forwardBytesPerImage(model), batchSize);
    const ranges = clean.map((r) => {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of r.input.data) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      return hi - lo;
    });
    forChunks({
      total, chunk, label: 'SmoothGrad', unit: 'noisy copies', signal: options.signal, onProgress: options.onProgress,
      detail: (done) => `image ${Math.min(n, Math.floor(done / samples) + 1)}/${n} · samples ${done === total ? samples : done % samples}/${samples}`,
    }, (start, end) => {
      const who = Array.from({ length: end - start }, (_, r) => ({ i: Math.floor((start + r) / samples), j: (start + r) % samples }));
      const noise = new Float32Array(who.length * size);
      who.forEach(({ i, j }, r) => {
        const g = gaussian(size, (seed * 7919 + j * 1299709) >>> 0);
        const std = sigma * ranges[i];
        for (let p = 0; p < size; p++) noise[r * size + p] = clean[i].input.data[p] + std * g[p];
      });
      const noisy = tf.tensor4d(noise, [who.length, H, W, C]);
      const out = runLayerMethods([GUIDED_BACKPROP.def], model, noisy, { ...options, classIndex: who.map(({ i }) => clean[i].classIndex) })[0] as GuidedBackpropResult[];
      out.forEach((g, r) => {
        const s = sums[who[r].i];
        for (let p = 0; p < size; p++) s[p] += g.gradient.data[p];
      });
    });
    return clean.map((c, i) => {
      const gradient = Float32Array.from(sums[i], (v) => v / samples);
      const { gradient: _g, image: _im, ...meta } = c;
      return {
        ...meta, method: 'smoothGrad' as const, gradient: { data: gradient, shape: [H, W, C] }, image: { data: displayGradient(gradient), shape: [H, W, C] },
        S: c.S, samples, sigma, seed,
      };
    });
  } finally {
    batch.dispose();
  }
}

/** SmoothGrad of guided backprop as a registered method (see smoothGradRun). */
// Its result has guided backprop's shape (an input-sized gradient image) under its own method tag.
export const SMOOTH_GRAD = registerMethod({
  name: 'smoothGrad',
  label: 'SmoothGrad (guided)',
  latex: '\\hat G = \\frac{1}{n}\\sum_{j=1}^{n} G\\big(x + \\varepsilon_j\\big),\\quad \\varepsilon_j \\sim \\mathcal N\\big(0, \\sigma^2 (x_{\\max} - x_{\\min})^2\\big)',
  paper: 'Smilkov et al., SmoothGrad: removing noise by adding noise, 2017 (arXiv:1706.03825)',
  needs: 'input-gradients',
  explainBatch: (model, images, options = {}) => smoothGradRun(model, images, options) as unknown as GuidedBackpropResult[],
});

/** SmoothGrad of guided backprop for one image. */
export function smoothGrad(model: tf.LayersModel, image: tf.Tensor, options: SmoothGradOptions = {}): SmoothGradResult {
  return smoothGradRun(model, image, options, 'smoothGrad')[0];
}

/** SmoothGrad of guided backprop for a batch: the noisy copies of all images in chunks. */
export function smoothGradBatch(model: tf.LayersModel, images: tf.Tensor, options: SmoothGradOptions = {}): SmoothGradResult[] {
  return smoothGradRun(model, images, options);
}

declare module './registry' {
  interface MethodResults {
    smoothGrad: SmoothGradResult;
  }
}
