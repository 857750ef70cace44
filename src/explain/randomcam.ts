import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { mulberry32 } from '../data/prng';
import { defineWeightsMethod, type WeightParts } from './mapmethod';
import type { MethodOptions } from './registry';
import type { MapResult } from './types';

/** Random-CAM's options: the seed of its channel weights. */
export interface RandomCamOptions extends MethodOptions {
  /**
   * Integer seed of the weights: the same seed and K give the same weights, for every image.
   * Default: a seed drawn from each image's pixels, so each image gets its own weights (as
   * pytorch-grad-cam draws anew on every call) and a run still repeats exactly.
   */
  readonly seed?: number;
}

export interface RandomCamResult extends MapResult, WeightParts {
  readonly method: 'randomCam';
  readonly seed: number;
}

/** Checks the seed option: an integer, or absent (undefined: a seed per image). */
export function checkSeed(seed: unknown, label: string): number | undefined {
  if (seed === undefined) return undefined;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new TslabCamError('BAD_OPTION', `${label}: seed must be an integer, got ${String(seed)}.`, 'Pass e.g. {seed: 1}, or leave it out (a draw per image, seeded by its pixels).');
  }
  return seed;
}

/**
 * A 32-bit seed from an image's pixels (FNV-1a over their float32 bits): the same image gives the
 * same seed, alone or inside a batch, and different images almost surely differ.
 */
export function pixelSeed(pixels: Float32Array): number {
  const bits = new Uint32Array(pixels.buffer, pixels.byteOffset, pixels.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) {
    h = Math.imul(h ^ (bits[i] & 0xffff), 0x01000193);
    h = Math.imul(h ^ (bits[i] >>> 16), 0x01000193);
  }
  return h | 0;
}

/** K weights uniform in (−1, 1) from a seeded mulberry32 stream. */
export function randomWeights(K: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: K }, () => 2 * rng() - 1);
}

/**
 * Random-CAM: channel weights drawn uniformly from (−1, 1), L = ReLU(Σ_k α_k f_k). Not an
 * explanation but the floor: a metric that cannot tell a method from this baseline does not
 * measure the explanation. As pytorch-grad-cam's RandomCAM, each image gets its own draw; the draw
 * is seeded by the image's pixels (or by `seed`, then the same for every image), so runs repeat and
 * a batch equals its singles. One fixed draw for every image would measure a single random
 * direction many times rather than the floor, and its scores would depend on which draw it was
 * (on the README's 500 scenes, pointing 0.29 with seed 0 for all, 0.41 with a draw per scene).
 */
export const RANDOM_CAM = defineWeightsMethod<{ readonly seed: number }, number>({
  name: 'randomCam',
  label: 'Random-CAM',
  latex: '\\alpha_k \\sim \\mathcal{U}(-1, 1),\\qquad L = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k f_k\\Big)',
  paper: 'a baseline (pytorch-grad-cam RandomCAM): random channel weights',
  needs: 'none',
  batch: (ctx) => {
    const seed = checkSeed((ctx.options as RandomCamOptions).seed, 'Random-CAM');
    const n = ctx.images.shape[0];
    if (seed !== undefined) return Array.from({ length: n }, () => seed);
    const pixels = ctx.images.dataSync() as Float32Array;
    const size = pixels.length / n;
    return Array.from({ length: n }, (_, i) => pixelSeed(pixels.subarray(i * size, (i + 1) * size)));
  },
  weights: (p) => randomWeights(p.K, p.extra),
  parts: (p) => ({ seed: p.extra }),
});

/** Random-CAM for one image (see RANDOM_CAM). */
export function randomCam(model: tf.LayersModel, image: tf.Tensor, options: RandomCamOptions = {}): RandomCamResult {
  return RANDOM_CAM.single(model, image, options) as unknown as RandomCamResult;
}

/** Random-CAM for a batch: one forward pass, one result per image. */
export function randomCamBatch(model: tf.LayersModel, images: tf.Tensor, options: RandomCamOptions = {}): RandomCamResult[] {
  return RANDOM_CAM.batch(model, images, options) as unknown as RandomCamResult[];
}

declare module './registry' {
  interface MethodResults {
    randomCam: RandomCamResult;
  }
}
