/**
 * The pointing game (Zhang et al., "Top-down neural attention by excitation backprop", ECCV 2016):
 * a hit (1) when the map's maximum lies in the object's box, else 0; a constant map is a miss.
 * Strict, and with the original protocol's tolerance of 15 px at 224 px scaled to the image.
 */
import { argmax2d } from '../pointing';
import { inside } from '../geometry';
import { registerMetric } from '../registry';
import type { Box, MetricInput } from '../types';
import { boxOf } from './require';

/** The tolerance for an image: 15 px at 224 px, scaled by the longer side (4 px at 64 px). */
export function pointingTolerance(width: number, height: number): number {
  return Math.round((15 * Math.max(width, height)) / 224);
}

/** 1 when the map's maximum falls in the box grown by `tolerance` pixels, else 0. */
export function pointingHit(map: Float32Array, width: number, box: Box, tolerance: number): number {
  const m = argmax2d(map, width);
  const grown = { x: box.x - tolerance, y: box.y - tolerance, width: box.width + 2 * tolerance, height: box.height + 2 * tolerance };
  return !m.flat && inside(grown, m.x, m.y) ? 1 : 0;
}

const common = {
  needs: ['box'] as const, direction: 'higher' as const, unit: '' as const,
  paper: 'Zhang et al., Top-down neural attention by excitation backprop, ECCV 2016 (arXiv:1608.00507)',
};

registerMetric({
  ...common, name: 'pointing', label: 'Pointing game',
  description: "1 when the map's maximum lies inside the object's box, else 0.",
  score: (i: MetricInput) => ({ value: pointingHit(i.map, i.sample.width, boxOf(i, 'pointing'), 0) }),
});

registerMetric({
  ...common, name: 'pointingTolerant', label: 'Pointing game (±15 px @224)',
  description: "As the pointing game, with the box grown by the original protocol's 15 px at 224 px, scaled to the image.",
  score: (i: MetricInput) => ({ value: pointingHit(i.map, i.sample.width, boxOf(i, 'pointingTolerant'), pointingTolerance(i.sample.width, i.sample.height)) }),
});
