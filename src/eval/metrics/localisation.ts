/**
 * The Grad-CAM paper's weakly-supervised localisation (Selvaraju et al. 2017, §4.1): threshold the
 * map at 15% of its maximum, box the largest connected region, and count an error unless that box
 * overlaps the object's box with IoU ≥ 0.5. Value: 1 for an error, 0 for a hit (mean = error rate).
 */
import { boxIoU, largestRegionBox, thresholdMap } from '../geometry';
import { registerMetric } from '../registry';
import type { Box, MetricInput } from '../types';
import { boxOf } from './require';

/** The Grad-CAM paper's box: around the largest region of map ≥ 15% of its maximum (null for a map ≤ 0). */
export function localisationBox(map: Float32Array, width: number, fraction = 0.15): Box | null {
  return largestRegionBox(thresholdMap(map, fraction), width);
}

registerMetric({
  name: 'localisationError', label: 'Localisation error', needs: ['box'], direction: 'lower', unit: '',
  paper: 'Selvaraju et al., Grad-CAM, ICCV 2017 (arXiv:1610.02391), §4.1',
  description: 'Box around the largest region above 15% of the maximum; an error unless IoU with the object box ≥ 0.5.',
  score: (i: MetricInput) => {
    const truth = boxOf(i, 'localisationError');
    const box = localisationBox(i.map, i.sample.width);
    return { value: box && boxIoU(box, truth) >= 0.5 ? 0 : 1 };
  },
});
