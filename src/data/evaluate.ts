import * as tf from '@tensorflow/tfjs';
import { scenesToTensor } from './batch';
import { NUM_CLASSES, loadMnist } from './mnist';
import { runChunksAsync, type LongRunOptions } from '../run';
import { Scene, generateScenes } from './scenes';

/** The held-out scenes every accuracy figure is measured on: test-split digits only. */
export const EVAL_SEED = 20260;

export interface EvalSetOptions {
  /** Scenes with one digit, and scenes with two digits of different classes. */
  readonly singles: number;
  readonly doubles: number;
  readonly seed?: number;
}

/**
 * The held-out evaluation set: singles from (seed, test split, 1 digit), doubles from
 * (seed + 1, test split, 2 digits), each indexed from 0, so the first N are always the same.
 */
export function evaluationScenes(options: EvalSetOptions): Scene[] {
  const seed = options.seed ?? EVAL_SEED;
  const set = loadMnist();
  return [
    ...generateScenes({ split: 'test', seed, count: 1 }, 0, options.singles, set),
    ...generateScenes({ split: 'test', seed: seed + 1, count: 2 }, 0, options.doubles, set),
  ];
}

/**
 * Class scores (model outputs) for scenes, `batchSize` scenes per chunk so memory stays flat:
 * (n × 10) row-major. Long: it yields between chunks, stops on `signal` or the kernel interrupt
 * (CANCELLED), and shows a progress bar unless told otherwise.
 */
export async function predictScenes(model: tf.LayersModel, scenes: readonly Scene[], batchSize = 100,
  options: Omit<LongRunOptions, 'batchSize'> = {}): Promise<Float32Array> {
  const out = new Float32Array(scenes.length * NUM_CLASSES);
  await runChunksAsync({ ...options, total: scenes.length, chunk: batchSize, label: 'predict scenes', unit: 'scenes' }, (start, end) => {
    const y = model.predict(scenesToTensor(scenes.slice(start, end))) as tf.Tensor;
    out.set(y.dataSync(), start * NUM_CLASSES);
  });
  return out;
}

/** Classes ordered by score, highest first. */
export function ranking(scores: Float32Array, row: number): number[] {
  const s = scores.subarray(row * NUM_CLASSES, (row + 1) * NUM_CLASSES);
  return Array.from({ length: NUM_CLASSES }, (_, c) => c).sort((a, b) => s[b] - s[a] || a - b);
}

export interface AccuracyReport {
  readonly singles: number;
  /** Single-digit scenes whose top-1 class is the digit. */
  readonly singleTop1: number;
  readonly doubles: number;
  /** Two-digit scenes whose two top-scoring classes are exactly the two digits. */
  readonly doubleBothTop2: number;
  /** Per class: single-digit scenes of that class, and how many were top-1 right. */
  readonly perClass: readonly { readonly label: number; readonly scenes: number; readonly top1: number }[];
}

/** Accuracy of scores against the scenes' labels (scores in the order of scenes). */
export function accuracyOf(scenes: readonly Scene[], scores: Float32Array): AccuracyReport {
  let singles = 0, single = 0, doubles = 0, double = 0;
  const perClass = Array.from({ length: NUM_CLASSES }, (_, label) => ({ label, scenes: 0, top1: 0 }));
  scenes.forEach((s, i) => {
    const r = ranking(scores, i);
    if (s.labels.length === 1) {
      singles++;
      perClass[s.labels[0]].scenes++;
      if (r[0] === s.labels[0]) { single++; perClass[s.labels[0]].top1++; }
    } else {
      doubles++;
      if (s.labels.every((c) => r.slice(0, 2).includes(c))) double++;
    }
  });
  return {
    singles, singleTop1: singles ? single / singles : NaN, doubles, doubleBothTop2: doubles ? double / doubles : NaN, perClass,
  };
}

/** Predict and score in one go. */
export async function evaluateAccuracy(model: tf.LayersModel, scenes: readonly Scene[], options: LongRunOptions = {}): Promise<AccuracyReport> {
  return accuracyOf(scenes, await predictScenes(model, scenes, options.batchSize ?? 100, options));
}
