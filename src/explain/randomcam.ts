import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { mulberry32 } from '../data/prng';
import { defineWeightsMethod, type WeightParts } from './mapmethod';
import type { MethodOptions } from './registry';
import type { MapResult } from './types';

/** Random-CAM's options: the seed of its channel weights. */
export interface RandomCamOptions extends MethodOptions {
  /** Integer seed of the weights (default 0): the same seed and K give the same weights. */
  readonly seed?: number;
}

export interface RandomCamResult extends MapResult, WeightParts {
  readonly method: 'randomCam';
  readonly seed: number;
}

/** Checks the seed option: an integer, or absent (0). */
export function checkSeed(seed: unknown, label: string): number {
  if (seed === undefined) return 0;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new TslabCamError('BAD_OPTION', `${label}: seed must be an integer, got ${String(seed)}.`, 'Pass e.g. {seed: 1}, or leave it out (seed 0).');
  }
  return seed;
}

/** K weights uniform in (−1, 1) from a seeded mulberry32 stream. */
export function randomWeights(K: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: K }, () => 2 * rng() - 1);
}

/**
 * Random-CAM: channel weights drawn uniformly from (−1, 1), L = ReLU(Σ_k α_k f_k). Not an
 * explanation but the floor: a metric that cannot tell a method from this baseline does not
 * measure the explanation. As pytorch-grad-cam's RandomCAM, with a seed so runs repeat; every
 * image of a batch gets the same weights (so a batch equals its singles).
 */
export const RANDOM_CAM = defineWeightsMethod<{ readonly seed: number }, number>({
  name: 'randomCam',
  label: 'Random-CAM',
  latex: '\\alpha_k \\sim \\mathcal{U}(-1, 1),\\qquad L = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k f_k\\Big)',
  paper: 'a baseline (pytorch-grad-cam RandomCAM): random channel weights',
  needs: 'none',
  batch: (ctx) => {
    const seed = checkSeed((ctx.options as RandomCamOptions).seed, 'Random-CAM');
    return Array.from({ length: ctx.images.shape[0] }, () => seed);
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
