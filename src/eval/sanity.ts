/**
 * The model-parameter randomisation test (Adebayo et al., "Sanity checks for saliency maps",
 * NeurIPS 2018), cascading: on a COPY of the model, randomise the weights of the top layer, then
 * one more layer down at each stage, recompute each method's map and compare it with the map of
 * the trained model by Spearman's ρ and SSIM. An explanation of the model must change when the
 * model is destroyed; a method whose map still correlates (ρ ≥ SANITY_THRESHOLD) with its original
 * after every layer is randomised FAILS. The user's model is never touched.
 */
import * as tf from '@tensorflow/tfjs';
import { gaussian, mulberry32 } from '../data/prng';
import { CancelledError, TslabCamError } from '../errors';
import { methodOf } from '../explain/registry';
import { attachModelMeta, modelMetaOf } from '../model/builtin';
import { saliencyOf } from './saliency';
import { spearman, ssim, estimate } from './stats';
import { checkSample } from './geometry';
import { samplesToBatch } from './samples';
import type { EvalSample, Estimate } from './types';

/** A method fails the check when its mean ρ with the original map stays at or above this with every layer randomised. */
export const SANITY_THRESHOLD = 0.5;

/** A copy of the model with its own weights (through an in-memory save / load). */
export async function copyModel(model: tf.LayersModel): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  if (!saved) throw new TslabCamError('UNSUPPORTED', 'The model could not be copied for the sanity check.', 'Pass a tf.LayersModel (loadModel gives one).');
  const copy = await tf.loadLayersModel(tf.io.fromMemory(saved));
  const meta = modelMetaOf(model);
  if (meta) attachModelMeta(copy, meta);
  return copy;
}

/** Layers with trainable weights, from the output down (the order of the cascade). */
export function cascadeLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((l) => l.trainableWeights.length > 0).reverse();
}

/**
 * Re-draws a layer's trainable weights: each tensor from N(0, σ²) with σ its own standard deviation
 * (or the layer's first tensor's, for a constant one such as zero biases), from a seeded generator.
 * Batch-norm moving statistics are not trainable and stay.
 */
export function randomiseLayer(layer: tf.layers.Layer, seed: number): void {
  const rng = mulberry32(seed);
  const values = layer.trainableWeights.map((w) => w.read().dataSync() as Float32Array);
  const std = (v: Float32Array): number => {
    let m = 0; for (const x of v) m += x / v.length;
    let s = 0; for (const x of v) s += (x - m) ** 2 / v.length;
    return Math.sqrt(s);
  };
  const fallback = std(values[0]) || 0.05;
  layer.trainableWeights.forEach((w, i) => {
    const sigma = std(values[i]) || fallback;
    const next = Float32Array.from(values[i], () => sigma * gaussian(rng));
    const t = tf.tensor(next, w.read().shape);
    w.write(t);
    t.dispose();
  });
}

/** One stage of the cascade for one method. */
export interface SanityStage {
  /** Layers randomised so far, top first. */
  readonly layers: readonly string[];
  readonly spearman: Estimate;
  readonly ssim: Estimate;
}

/** The cascade of one method: stage 0 is the trained model (ρ = 1). */
export interface SanityCurve {
  readonly method: string;
  readonly stages: readonly SanityStage[];
  /** Mean ρ with every layer randomised. */
  readonly finalSpearman: number;
  readonly passed: boolean;
  /** Plain words for the display: passed or FAILED and why. */
  readonly verdict: string;
}

export interface SanityReport {
  readonly curves: readonly SanityCurve[];
  readonly threshold: number;
  readonly samples: number;
}

export interface SanityOptions {
  readonly methods: readonly string[];
  /** The class to explain on every image (default: each sample's classIndex, else the trained model's top-1). */
  readonly classIndex?: number;
  /** Seed of the random weights. */
  readonly seed?: number;
  /** Hears (stage, stages) after each stage. */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}


function mapsOf(model: tf.LayersModel, method: string, x: tf.Tensor4D, classes: number[]): Float32Array[] {
  return methodOf(method).explainBatch(model, x, { classIndex: classes }).map(saliencyOf);
}

/** Plain words on a cascade's outcome. */
export function sanityVerdict(label: string, finalSpearman: number, threshold = SANITY_THRESHOLD): string {
  const rho = finalSpearman.toFixed(2);
  return finalSpearman >= threshold
    ? `${label} FAILS the sanity check: with every layer randomised its map still correlates with the original (ρ = ${rho} ≥ ${threshold}). It does not explain this model.`
    : `${label} passes the sanity check: with every layer randomised its map no longer resembles the original (ρ = ${rho} < ${threshold}).`;
}

/**
 * Runs the cascade on a copy of `model` for each method: stage k has the top k layers randomised;
 * the mean Spearman ρ and SSIM of each method's maps against its maps on the trained model.
 */
export async function sanityCheck(model: tf.LayersModel, samples: readonly EvalSample[], options: SanityOptions): Promise<SanityReport> {
  if (!samples.length) throw new TslabCamError('BAD_SAMPLE', 'The sanity check got no samples.', 'Pass at least one sample (e.g. a few built-in scenes).');
  samples.forEach(checkSample);
  options.methods.forEach((m) => methodOf(m));
  const x = samplesToBatch(samples);
  let copy: tf.LayersModel | null = null;
  try {
    const top1 = tf.tidy(() => (model.predict(x) as tf.Tensor).argMax(-1).dataSync());
    const classes = samples.map((s, i) => options.classIndex ?? s.classIndex ?? top1[i]);
    const original = options.methods.map((m) => mapsOf(model, m, x, classes));
    copy = await copyModel(model);
    const layers = cascadeLayers(copy);
    const W = samples[0].width;
    const stages: SanityStage[][] = options.methods.map(() => [{ layers: [], spearman: estimate(samples.map(() => 1)), ssim: estimate(samples.map(() => 1)) }]);
    for (let k = 0; k < layers.length; k++) {
      if (options.signal?.aborted) throw new CancelledError({ label: 'The sanity check', done: k, total: layers.length, unit: 'stages', reason: 'signal' });
      randomiseLayer(layers[k], (options.seed ?? 2018) + k);
      const names = layers.slice(0, k + 1).map((l) => l.name);
      options.methods.forEach((m, j) => {
        const maps = mapsOf(copy as tf.LayersModel, m, x, classes);
        stages[j].push({
          layers: names,
          spearman: estimate(maps.map((mp, i) => spearman(original[j][i], mp))),
          ssim: estimate(maps.map((mp, i) => ssim(original[j][i], mp, W))),
        });
      });
      options.onProgress?.(k + 1, layers.length);
      await new Promise((r) => setImmediate(r));
    }
    const curves = options.methods.map((m, j): SanityCurve => {
      const finalSpearman = stages[j][stages[j].length - 1].spearman.mean;
      const passed = !(finalSpearman >= SANITY_THRESHOLD);
      return { method: m, stages: stages[j], finalSpearman, passed, verdict: sanityVerdict(methodOf(m).label, finalSpearman) };
    });
    return { curves, threshold: SANITY_THRESHOLD, samples: samples.length };
  } finally {
    x.dispose();
    copy?.dispose();
  }
}
