import * as tf from '@tensorflow/tfjs';
import { NUM_CLASSES } from '../data/mnist';
import { Box, Scene, inBox } from '../data/scenes';
import { scenesToTensor } from '../data/batch';
import { explain } from '../explain/explain';
import { hasMapForms } from '../explain/shapes';
import { TslabCamError } from '../errors';

/**
 * The pointing game (Zhang et al., "Top-down neural attention by excitation backprop"): a map
 * "points" at its maximum; it scores a hit when that pixel lies inside the target object's box.
 * Here the box is the digit's tight ink box, scored strictly and also with the original protocol's
 * tolerance (15 px on 224 px images there; POINTING_TOLERANCE px here, the same fraction of a
 * 64 px scene, which is also half a cell of an 8×8 map). The eval layer: the maps come from any
 * registered map method of the explain layer.
 */

/** Row and column of the maximum of an (height, width) map; the first one on ties. */
export function argmax2d(map: Float32Array, width: number): { x: number; y: number; value: number; flat: boolean } {
  let best = 0;
  let min = Infinity;
  for (let i = 0; i < map.length; i++) {
    if (map[i] > map[best]) best = i;
    if (map[i] < min) min = map[i];
  }
  return { x: best % width, y: Math.floor(best / width), value: map[best], flat: map[best] === min };
}

/** Tolerance of the lenient score, in pixels around the box. */
export const POINTING_TOLERANCE = 4;

/** The box grown by `margin` pixels on every side. */
export function grow(box: Box, margin: number): Box {
  return { x: box.x - margin, y: box.y - margin, width: box.width + 2 * margin, height: box.height + 2 * margin };
}

/** Whether the map's maximum falls inside the box (grown by `tolerance`). A constant map points nowhere: a miss. */
export function pointsInto(map: Float32Array, width: number, box: Box, tolerance = 0): boolean {
  const m = argmax2d(map, width);
  return !m.flat && inBox(grow(box, tolerance), m.x, m.y);
}

/** Hits and trials, overall and per class. */
export interface PointingTally {
  hits: number;
  /** Hits with the POINTING_TOLERANCE margin. */
  hitsTolerant: number;
  trials: number;
  /** Maps that were constant (e.g. Grad-CAM's ReLU removed everything): counted as misses. */
  flat: number;
  readonly perClass: { hits: number; trials: number }[];
}

/** A tally with no trials yet. */
export function emptyTally(): PointingTally {
  return { hits: 0, hitsTolerant: 0, trials: 0, flat: 0, perClass: Array.from({ length: NUM_CLASSES }, () => ({ hits: 0, trials: 0 })) };
}

/** Record one map aimed at digit `digit` of `scene`. */
export function recordPointing(t: PointingTally, scene: Scene, digit: number, map: Float32Array): void {
  const d = scene.digits[digit];
  const hit = pointsInto(map, scene.width, d.box);
  t.trials++;
  t.perClass[d.label].trials++;
  if (hit) { t.hits++; t.perClass[d.label].hits++; }
  if (pointsInto(map, scene.width, d.box, POINTING_TOLERANCE)) t.hitsTolerant++;
  if (argmax2d(map, scene.width).flat) t.flat++;
}

/** hits / trials, NaN for no trials. */
export function rate(t: { hits: number; trials: number }): number {
  return t.trials ? t.hits / t.trials : NaN;
}

/** A registered method whose results are maps (CAM, Grad-CAM, …). */
export type Method = string;

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
      for (const r of explain(model, x, { ...options, method })) {
        if (!hasMapForms(r)) {
          throw new TslabCamError('BAD_OPTION', `The pointing game needs a map method; '${method}' gives no map.`, 'Use a CAM-style method such as gradCam or cam.');
        }
        out.push(r.upsampled.data);
      }
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
