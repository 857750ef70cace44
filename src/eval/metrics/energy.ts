/**
 * Energy-based pointing game (Wang et al., Score-CAM, CVPRW 2020): the share of the map's mass
 * inside the object, Σ_{p∈box} L(p) / Σ_p L(p), in %. The region is the box when the sample has one
 * (the paper's protocol), else its mask.
 */
import { inside } from '../geometry';
import { registerMetric } from '../registry';
import type { MetricInput } from '../types';
import { boxOf } from './require';

/** 100 · (map mass in the region) / (map mass); 0 for a map with no mass (it points nowhere, as a flat map misses the pointing game). */
export function energyShare(map: Float32Array, width: number, inRegion: (x: number, y: number, i: number) => boolean): number {
  let all = 0, inner = 0;
  for (let i = 0; i < map.length; i++) {
    const v = Math.max(0, map[i]);
    all += v;
    if (v && inRegion(i % width, Math.floor(i / width), i)) inner += v;
  }
  return all > 0 ? (100 * inner) / all : 0;
}

registerMetric({
  name: 'energyPointing', label: 'Energy pointing %', needs: ['box'], direction: 'higher', unit: '%',
  paper: 'Wang et al., Score-CAM, CVPR Workshops 2020 (arXiv:1910.01279)',
  description: "Share of the map's mass inside the object's box (or mask when there is no box).",
  score: (i: MetricInput) => {
    const { sample } = i;
    if (!sample.box && sample.mask) { const m = sample.mask; return { value: energyShare(i.map, sample.width, (_x, _y, p) => m[p] !== 0) }; }
    const box = boxOf(i, 'energyPointing');
    return { value: energyShare(i.map, sample.width, (x, y) => inside(box, x, y)) };
  },
});
