import * as tf from '@tensorflow/tfjs';
import { runGraph } from '../model/graph';
import { LongRunOptions, checkBatchSize, chunkSize, forChunks, forwardBytesPerImage } from './chunks';
import { defineWeightsMethod } from './mapmethod';
import type { MethodOptions } from './registry';
import { layersOnly, type BatchContext } from './runner';
import type { MapResult } from './types';
import type { WeightParts } from './mapmethod';

/** Score-CAM's options: the usual ones plus how its K masked forward passes per image run. */
export interface ScoreCamOptions extends MethodOptions, LongRunOptions {}

/** What Score-CAM's results carry beyond a channel-weight result: the masked inputs' scores. */
export interface ScoreCamParts extends WeightParts {
  /** S_c(X ⊙ H_k) for every channel k: (K). */
  readonly maskedScores: Float32Array;
}
export interface ScoreCamResult extends MapResult, ScoreCamParts {
  readonly method: 'scoreCam';
}

/**
 * The masks of channels [k0, k1) of one image: each f_k resized to the input with corner-aligned
 * bilinear sampling and min-max scaled on its own, H_k = (u_k − min u_k) / (max u_k − min u_k + 1e-8),
 * returned as (k1 − k0, H, W, 1).
 */
export function scoreMasks(f: tf.Tensor3D, k0: number, k1: number, size: readonly [number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const slice = tf.slice(f, [0, 0, k0], [-1, -1, k1 - k0]).expandDims(0) as tf.Tensor4D;
    // align_corners=True, as pytorch-grad-cam's UpsamplingBilinear2d: the half-pixel sampling of
    // resizeBilinear's default correlated only 0.35–0.9 with its maps on the built-in models.
    const up = tf.image.resizeBilinear(slice, [size[0], size[1]], true);
    const lo = tf.min(up, [1, 2], true);
    const hi = tf.max(up, [1, 2], true);
    const masks = tf.div(tf.sub(up, lo), tf.add(tf.sub(hi, lo), 1e-8));
    return tf.transpose(masks, [3, 1, 2, 0]) as tf.Tensor4D;
  });
}

/** Softmax over one image's K scores (max-shifted, in float64). */
function softmax(s: Float32Array): Float32Array {
  let m = -Infinity;
  for (const v of s) m = Math.max(m, v);
  const e = Float64Array.from(s, (v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  return Float32Array.from(e, (v) => v / z);
}

/**
 * S_c(X_i ⊙ H_k) for every image i and channel k, as (N) arrays of (K): the masked copies of all
 * images run through the model in chunks of batchSize copies (sized from memory by default), each
 * chunk in its own tidy; the signal is checked and progress reported between chunks.
 */
function maskedScores(ctx: BatchContext): Float32Array[] {
  const model = layersOnly(ctx.model, 'Score-CAM');
  const options = ctx.options as ScoreCamOptions;
  const [n, H, W] = ctx.images.shape;
  const K = ctx.pass.f.shape[3];
  const batchSize = checkBatchSize(options.batchSize, 'Score-CAM');
  const total = n * K;
  const chunk = chunkSize(total, forwardBytesPerImage(model), batchSize);
  const out = Array.from({ length: n }, () => new Float32Array(K));
  forChunks({
    total, chunk, label: 'Score-CAM', unit: 'masked images', signal: options.signal, onProgress: options.onProgress,
    detail: (done) => `image ${Math.min(n, Math.floor(done / K) + 1)}/${n} · channels ${done === total ? K : done % K}/${K}`,
  }, (start, end) => {
    // One forward pass for the whole chunk, which may span two images.
    const groups: Array<{ i: number; k0: number; k1: number }> = [];
    for (let u = start; u < end;) {
      const k0 = u % K;
      const k1 = Math.min(K, k0 + (end - u));
      groups.push({ i: Math.floor(u / K), k0, k1 });
      u += k1 - k0;
    }
    const masked = tf.concat(groups.map(({ i, k0, k1 }) => {
      const f = tf.slice(ctx.pass.f, [i, 0, 0, 0], [1, -1, -1, -1]).squeeze([0]) as tf.Tensor3D;
      const x = tf.slice(ctx.images, [i, 0, 0, 0], [1, -1, -1, -1]);
      return tf.mul(x, scoreMasks(f, k0, k1, [H, W]));
    }));
    const scores = runGraph(model, masked, { capture: [], scoreKind: ctx.pass.scoreKind }).scores.dataSync() as Float32Array;
    const classes = scores.length / (end - start);
    let row = 0;
    for (const { i, k0, k1 } of groups) {
      for (let k = k0; k < k1; k++, row++) out[i][k] = scores[row * classes + ctx.pass.classIndices[i]];
    }
  });
  return out;
}

/**
 * Score-CAM (Wang et al., Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural
 * Networks, CVPR Workshops 2020, arXiv:1910.01279). Each feature map f_k, upsampled to the input
 * and min-max scaled, is a mask H_k; the channel weight is the score of the masked input,
 * softmaxed over channels:
 *   α_k^c = softmax_k S_c(X ⊙ H_k),  L = ReLU(Σ_k α_k^c f_k).
 * No gradient: K extra forward passes per image, batched.
 *
 * pytorch-grad-cam's convention, followed here: the upsampling aligns corners, the scaling adds
 * 1e-8 to the range, the input is multiplied by the mask with no baseline, and the scores of the
 * masked inputs themselves are softmaxed (the paper subtracts the baseline image's score first,
 * S_c(X ⊙ H_k) − S_c(X_b), which the softmax over k cancels when X_b is one image for all k).
 *
 * Options: `batchSize` (masked copies per forward pass; default from the memory available),
 * `signal` (AbortSignal: stops between batches with CANCELLED), `onProgress` (count, rate, ETA).
 */
export const SCORE_CAM = defineWeightsMethod<{ readonly maskedScores: Float32Array }, Float32Array>({
  name: 'scoreCam',
  label: 'Score-CAM',
  latex: '\\alpha_k^c = \\operatorname{softmax}_k\\, S_c\\big(X \\odot H_k\\big),\\quad H_k = \\frac{\\mathrm{up}(f_k) - \\min}{\\max - \\min},\\qquad L = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k^c f_k\\Big)',
  paper: 'Wang et al., Score-CAM, CVPR Workshops 2020 (arXiv:1910.01279)',
  needs: 'forward',
  batch: maskedScores,
  weights: (p) => softmax(p.extra),
  parts: (p) => ({ maskedScores: p.extra }),
});

/** Score-CAM for one image (see SCORE_CAM). */
export function scoreCam(model: tf.LayersModel, image: tf.Tensor, options: ScoreCamOptions = {}): ScoreCamResult {
  return SCORE_CAM.single(model, image, options) as unknown as ScoreCamResult;
}

/** Score-CAM for a batch: one forward pass for f, then the masked copies of all images in chunks. */
export function scoreCamBatch(model: tf.LayersModel, images: tf.Tensor, options: ScoreCamOptions = {}): ScoreCamResult[] {
  return SCORE_CAM.batch(model, images, options) as unknown as ScoreCamResult[];
}

declare module './registry' {
  interface MethodResults {
    scoreCam: ScoreCamResult;
  }
}
