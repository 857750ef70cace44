import * as tf from '@tensorflow/tfjs';
import { BuiltinKind, buildModel } from './architectures';
import { scenesToTargets, scenesToTensor } from './batch';
import { loadMnist } from './mnist';
import { ProgressFn } from './progress';
import { generateScenes } from './scenes';
import { withTrainingKernels } from './trainKernels';

export interface TrainOptions {
  readonly kind: BuiltinKind;
  /** Seeds the initial weights and the stream of training scenes. */
  readonly seed?: number;
  /** Optimiser steps (one batch each; every batch is fresh scenes, so there are no epochs). */
  readonly steps?: number;
  readonly batchSize?: number;
  /** Adam's starting rate; it is held for 60% of the steps, then cosine-decayed to 5%. */
  readonly learningRate?: number;
  readonly onProgress?: ProgressFn;
  /**
   * Cycle through only this many scenes instead of fresh ones every step: the smoke test uses a
   * small pool so a few steps visibly lower the loss.
   */
  readonly poolSize?: number;
  /**
   * Start from these weights instead of fresh seeded ones (continuing a finished run for more
   * steps); the easy-scene warm-up is then skipped.
   */
  readonly initialWeights?: tf.LayersModel;
}

export interface TrainResult {
  readonly model: tf.LayersModel;
  /** Loss of every step (see multiLabelLoss). */
  readonly losses: readonly number[];
  readonly seconds: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly learningRate: number;
  readonly backend: string;
}

export const DEFAULT_TRAIN = { seed: 1, steps: 1200, batchSize: 32, learningRate: 2e-3 } as const;

/** Adam whose rate can change between steps (tfjs keeps the rate in a protected field). */
class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }
}

/** Rate at `step`: flat, then a cosine down to 5% of the start, which settles the last steps. */
export function learningRateAt(step: number, steps: number, base: number): number {
  const flat = Math.floor(steps * 0.6);
  if (step < flat) return base;
  const t = (step - flat) / Math.max(1, steps - flat);
  return base * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/**
 * Cross-entropy of the softmax output against the multi-hot target normalised to sum 1 (1 for a
 * single digit, 1/2 each for two). Probabilities are clipped away from 0 to keep the log finite.
 */
export function multiLabelLoss(targets: tf.Tensor2D, probs: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const t = tf.div(targets, tf.maximum(tf.sum(targets, 1, true), 1));
    const p = tf.clipByValue(probs, 1e-7, 1);
    return tf.neg(tf.mean(tf.sum(tf.mul(t, tf.log(p)), 1))) as tf.Scalar;
  });
}

/** Steps at the start that see only easy scenes (one digit, light clutter) to get learning going. */
export function warmupSteps(steps: number): number {
  return Math.floor(steps * 0.15);
}

/**
 * Train one built-in architecture on fresh training-split scenes. With the same seed, options
 * and backend the result is the same: the weights' initialisers and the scenes are seeded and
 * there is no dropout. Different backends (wasm, cpu) round differently, so their weights differ.
 */
export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const seed = options.seed ?? DEFAULT_TRAIN.seed;
  const steps = options.steps ?? DEFAULT_TRAIN.steps;
  const batchSize = options.batchSize ?? DEFAULT_TRAIN.batchSize;
  const learningRate = options.learningRate ?? DEFAULT_TRAIN.learningRate;
  const set = loadMnist();
  const model = buildModel(options.kind, seed);
  if (options.initialWeights) model.setWeights(options.initialWeights.getWeights());
  const warmup = options.initialWeights ? 0 : warmupSteps(steps);
  const optimizer = new ScheduledAdam(learningRate, 0.9, 0.999, 1e-7);
  const losses: number[] = [];
  const start = Date.now();
  await withTrainingKernels(async () => {
  try {
    for (let step = 0; step < steps; step++) {
      optimizer.setLearningRate(learningRateAt(step, steps, learningRate));
      const first = step * batchSize;
      const scenes = options.poolSize
        ? Array.from({ length: batchSize }, (_, j) => generateScenes({ split: 'train', seed }, (first + j) % (options.poolSize ?? 1), 1, set)[0])
        : generateScenes({ split: 'train', seed, ...(step < warmup ? { count: 1 as const, clutter: 'light' as const } : {}) }, first, batchSize, set);
      const x = scenesToTensor(scenes);
      const y = scenesToTargets(scenes);
      const loss = optimizer.minimize(() => multiLabelLoss(y, model.apply(x, { training: true }) as tf.Tensor2D), true);
      losses.push(loss ? (await loss.data())[0] : NaN);
      tf.dispose([x, y]);
      if (loss) loss.dispose();
      if (options.onProgress) {
        const recent = losses.slice(-20);
        options.onProgress(step + 1, steps, `loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)}`);
      }
    }
  } finally {
    optimizer.dispose();
  }
  });
  return { model, losses, seconds: (Date.now() - start) / 1000, steps, batchSize, seed, learningRate, backend: tf.getBackend() };
}
