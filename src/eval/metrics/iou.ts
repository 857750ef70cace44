/** Mask IoU: |{map ≥ t·max}} ∩ mask| / |{map ≥ t·max} ∪ mask| at a chosen threshold t (default 0.5). */
import { TslabCamError } from '../../errors';
import { maskIoU, thresholdMap } from '../geometry';
import { registerMetric } from '../registry';
import type { MetricInput, MetricOptions } from '../types';
import { maskOf } from './require';

registerMetric({
  name: 'maskIoU', label: 'Mask IoU', needs: ['mask'], direction: 'higher', unit: '',
  paper: 'Intersection over union of the thresholded map with the object mask',
  description: "IoU of {map ≥ t·max(map)} with the object's mask (t = iouThreshold, default 0.5).",
  score: (i: MetricInput, o: MetricOptions) => {
    const t = o.iouThreshold ?? 0.5;
    if (!(t > 0 && t <= 1)) {
      throw new TslabCamError('BAD_OPTION', `iouThreshold must be in (0, 1], got ${t}.`, 'Pass a fraction of the map maximum, e.g. {iouThreshold: 0.5}.');
    }
    return { value: maskIoU(thresholdMap(i.map, t), maskOf(i, 'maskIoU')) };
  },
});
