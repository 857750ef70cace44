/**
 * Test-time augmentation smoothing, as pytorch-grad-cam's aug_smooth does it (its default ttach
 * transforms): every image is explained in 6 copies, {as is, flipped left–right} × pixel
 * intensities ×{1, 0.9, 1.1}; each copy's normalised map is flipped back and the 6 are averaged.
 * Note that pytorch-grad-cam's "Multiply" scales pixel values, not the image size.
 *
 * Here the 6N copies go through ONE engine pass. The maps are flipped back at the layer's
 * resolution: a left–right flip commutes with the half-pixel bilinear upsampling (the sampling
 * grid is symmetric), so this equals flipping the upsampled maps as pytorch-grad-cam does.
 * pytorch-grad-cam lets each copy pick its own top-1 class when none is given; we explain the
 * top-1 class of the unaugmented image in every copy (one extra forward pass of the N originals).
 */
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { chooseClasses, runEngine } from '../model/engine';
import { runGraph } from '../model/graph';
import { toBatch } from './input';
import { mapForms } from './maps';
import type { ExplainableModel, MethodOptions } from './registry';
import type { MapForms, NDArray } from './types';

/** The intensity factors and flips of the copies, in the order the batch holds them (the identity first). */
export const AUGMENTATIONS: ReadonlyArray<{ readonly flip: boolean; readonly factor: number }> = [
  { flip: false, factor: 1 }, { flip: false, factor: 0.9 }, { flip: false, factor: 1.1 },
  { flip: true, factor: 1 }, { flip: true, factor: 0.9 }, { flip: true, factor: 1.1 },
];

/** (6N, H, W, C): augmentation a of image i at row a·N + i. */
export function augmentBatch(batch: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const flipped = tf.reverse(batch, 2);
    return tf.concat(AUGMENTATIONS.map((a) => tf.mul(a.flip ? flipped : batch, a.factor)), 0) as tf.Tensor4D;
  });
}

/** An (h, w) map flipped left–right. */
export function flipMap(m: Float32Array, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = m[y * w + (w - 1 - x)];
  return out;
}

/** The mean of the copies' normalised maps, each flipped back: (h, w). */
export function averageAugmented(normalized: readonly NDArray[]): Float32Array {
  const [h, w] = normalized[0].shape;
  const out = new Float32Array(h * w);
  normalized.forEach((m, a) => {
    const back = AUGMENTATIONS[a].flip ? flipMap(m.data, h, w) : m.data;
    for (let i = 0; i < out.length; i++) out[i] += back[i] / normalized.length;
  });
  return out;
}

/** Top-1 classes of a graph model's images: a forward pass to the scores (no gradient). */
function topClassesOfGraph(model: tf.GraphModel, batch: tf.Tensor4D, options: MethodOptions): number[] {
  const out = runEngine(model, batch, { layer: options.layer, scores: options.scores, gradients: false });
  try {
    return out.classIndices;
  } finally {
    out.dispose();
  }
}

/** The options for the pass over the copies: one class per copy, the original image's. */
function copyOptions(model: ExplainableModel, batch: tf.Tensor4D, options: MethodOptions): MethodOptions {
  const n = batch.shape[0];
  const rest: MethodOptions = { ...options, augSmooth: false };
  const t = options.target;
  // A target function applies to every copy's output as it is (a segmentation mask is not flipped).
  if (t !== undefined && typeof t !== 'number' && !Array.isArray(t)) return rest;
  if (t !== undefined && options.classIndex !== undefined) {
    throw new TslabCamError('BAD_OPTION', 'Both classIndex and target were given; a call explains one of them.', 'Keep one: classIndex for a class, target for anything else.');
  }
  const choice = (t as number | readonly number[] | undefined) ?? options.classIndex;
  let classes: number[];
  if (choice === undefined || choice === 'top1') {
    classes = model instanceof tf.GraphModel ? topClassesOfGraph(model, batch, options) : tf.tidy(() => chooseClasses('top1', runGraph(model, batch, { capture: [], scoreKind: options.scores ?? 'logits' }).scores as tf.Tensor2D));
  } else if (typeof choice === 'number') {
    classes = new Array<number>(n).fill(choice);
  } else {
    if (choice.length !== n) {
      throw new TslabCamError('BAD_CLASS', `classIndex lists ${choice.length} classes for ${n} images.`, 'Give exactly one class per image, a single number for all, or omit it.');
    }
    classes = [...choice];
  }
  const { target: _t, ...noTarget } = rest;
  return { ...noTarget, classIndex: AUGMENTATIONS.flatMap(() => classes) };
}

/**
 * Runs `run` (a method's batch entry point) on the 6N augmented copies of `images` and returns
 * one result per image: the unaugmented copy's result with its map forms replaced by the
 * augmentation average (raw = the average of the copies' normalised maps).
 */
export function augSmoothed<R extends MapForms>(model: ExplainableModel, images: tf.Tensor, options: MethodOptions,
  run: (model: ExplainableModel, images: tf.Tensor, options: MethodOptions) => R[][], checkBatch?: (batch: tf.Tensor4D) => void): Array<Array<R & { readonly augmentations: number; readonly smoothed: 'aug' }>> {
  const batch = toBatch(model, images);
  try {
    checkBatch?.(batch);
    const n = batch.shape[0];
    const opts = copyOptions(model, batch, options);
    const copies = augmentBatch(batch);
    let perMethod: R[][];
    try {
      perMethod = run(model, copies, opts);
    } finally {
      copies.dispose();
    }
    return perMethod.map((results) => Array.from({ length: n }, (_, i) => {
      const own = AUGMENTATIONS.map((_a, a) => results[a * n + i]);
      const [h, w] = own[0].raw.shape;
      const up = own[0].upsampled.shape;
      const raw = averageAugmented(own.map((r) => r.normalized));
      return { ...own[0], ...mapForms(raw, h, w, [up[0], up[1]]), augmentations: AUGMENTATIONS.length, smoothed: 'aug' as const };
    }));
  } finally {
    batch.dispose();
  }
}
