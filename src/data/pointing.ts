import { NUM_CLASSES } from './mnist';
import { Box, Scene, inBox } from './scenes';

/**
 * The pointing game (Zhang et al., "Top-down neural attention by excitation backprop"): a map
 * "points" at its maximum; it scores a hit when that pixel lies inside the target object's box.
 * Here the box is the digit's tight ink box, scored strictly and also with the original protocol's
 * tolerance (15 px on 224 px images there; POINTING_TOLERANCE px here, the same fraction of a
 * 64 px scene, which is also half a cell of an 8×8 map). Pure bookkeeping: the
 * maps come from the explain layer (scripts/evaluate.ts), which src/data must not import.
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
