/**
 * The pointing game on the built-in models, shared by scripts/evaluate.ts (the figures in README)
 * and test/model/builtin.test.ts (the CI floors). It lives beside the scripts because it needs
 * the explain layer, which src/data must not import.
 */
import * as tf from '@tensorflow/tfjs';
import { scenesToTensor } from '../src/data/batch';
import { PointingTally, emptyTally, recordPointing } from '../src/data/pointing';
import { Scene } from '../src/data/scenes';
import { camBatch, gradCamBatch } from '../src/explain';

export type Method = 'gradCam' | 'cam';

/** Pointing-game tallies of one method: single-digit scenes, and each digit of two-digit scenes. */
export interface PointingReport {
  readonly single: PointingTally;
  readonly firstOfTwo: PointingTally;
  readonly secondOfTwo: PointingTally;
}

const BATCH = 50;

/**
 * Maps for digit `which` of every scene (class = that digit's label), in batches: one engine
 * pass per batch. Only the upsampled (H, W) map is kept.
 */
function mapsFor(model: tf.LayersModel, method: Method, layer: string | undefined, scenes: readonly Scene[], which: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < scenes.length; i += BATCH) {
    const part = scenes.slice(i, i + BATCH);
    const x = scenesToTensor(part);
    try {
      const options = { layer, classIndex: part.map((s) => s.digits[which].label) };
      const results = method === 'cam' ? camBatch(model, x, options) : gradCamBatch(model, x, options);
      for (const r of results) out.push(r.upsampled.data);
    } finally {
      x.dispose();
    }
  }
  return out;
}

/**
 * The pointing game of one method on the held-out scenes: a map per single-digit scene, and one
 * for each digit's class of every two-digit scene. `onProgress` hears how many maps were added.
 */
export function pointingGame(model: tf.LayersModel, method: Method, layer: string | undefined, singles: readonly Scene[], doubles: readonly Scene[],
  onProgress?: (maps: number) => void): PointingReport {
  const report: PointingReport = { single: emptyTally(), firstOfTwo: emptyTally(), secondOfTwo: emptyTally() };
  const run = (scenes: readonly Scene[], which: number, tally: PointingTally): void => {
    for (let i = 0; i < scenes.length; i += 200) {
      const part = scenes.slice(i, i + 200);
      mapsFor(model, method, layer, part, which).forEach((m, j) => recordPointing(tally, part[j], which, m));
      onProgress?.(part.length);
    }
  };
  run(singles, 0, report.single);
  run(doubles, 0, report.firstOfTwo);
  run(doubles, 1, report.secondOfTwo);
  return report;
}

/** One tally of several (e.g. all three parts of a report). */
export function combined(...ts: PointingTally[]): PointingTally {
  const out = emptyTally();
  for (const t of ts) {
    out.hits += t.hits; out.hitsTolerant += t.hitsTolerant; out.trials += t.trials; out.flat += t.flat;
    t.perClass.forEach((c, i) => { out.perClass[i].hits += c.hits; out.perClass[i].trials += c.trials; });
  }
  return out;
}
