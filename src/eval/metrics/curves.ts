/**
 * Deletion and insertion (Petsiuk et al., RISE, BMVC 2018): switch pixels in the map's order, most
 * relevant first, `steps` times (1/steps of the pixels each), and record the class score after each
 * step; the metric is the area under that curve over x ∈ [0, 1]. Deletion goes from the image
 * towards the baseline (a sharp drop — a low AUC — is good); insertion from the baseline towards the
 * image (a fast rise — a high AUC — is good). The steps+1 images of a curve run as one batch.
 */
import { registerMetric } from '../registry';
import { auc, baselineImage, checkSteps, curveImages, orderByMap } from '../perturb';
import type { Baseline, MetricInput, MetricOptions, MetricValue } from '../types';
import { forwardOf } from './require';

/** Default number of steps (64 pixels a step on a 64×64 image). */
export const DEFAULT_STEPS = 64;

/** A deletion or insertion curve and its AUC for one image. */
export function perturbationCurve(i: MetricInput, options: MetricOptions, kind: 'deletion' | 'insertion'): MetricValue {
  const steps = options.steps ?? DEFAULT_STEPS;
  const { sample } = i;
  checkSteps(steps, sample.width * sample.height);
  const baseline: Baseline = options.baseline ?? (kind === 'deletion' ? 'zero' : 'blur');
  const images = curveImages(sample, orderByMap(i.map), steps, baselineImage(sample, baseline), kind);
  const curve = Array.from(forwardOf(i, kind)(images, steps + 1));
  return { value: auc(curve), curve };
}

const paper = 'Petsiuk et al., RISE, BMVC 2018 (arXiv:1806.07421)';

registerMetric({
  name: 'deletion', label: 'Deletion AUC', needs: ['forward'], direction: 'lower', unit: '', paper,
  description: 'Area under the class score as the most relevant pixels are removed first (towards the baseline).',
  score: (i: MetricInput, o: MetricOptions) => perturbationCurve(i, o, 'deletion'),
});

registerMetric({
  name: 'insertion', label: 'Insertion AUC', needs: ['forward'], direction: 'higher', unit: '', paper,
  description: 'Area under the class score as the most relevant pixels are put back first (from the baseline).',
  score: (i: MetricInput, o: MetricOptions) => perturbationCurve(i, o, 'insertion'),
});
