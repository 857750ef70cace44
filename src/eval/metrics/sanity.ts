/**
 * The sanity check as a per-image metric (Adebayo et al., Sanity checks for saliency maps, NeurIPS
 * 2018): Spearman's ρ between the map and the same method's map on a copy of the model with every
 * layer's weights randomised. A map that still agrees with itself after the model is destroyed
 * does not explain the model: lower is better. The cascade stage by stage is sanityCheck().
 */
import { registerMetric } from '../registry';
import { spearman } from '../stats';
import type { MetricInput } from '../types';
import { randomisedOf } from './require';

registerMetric({
  name: 'sanity', label: 'Sanity ρ (all layers randomised)', needs: ['randomised'], direction: 'lower', unit: '',
  paper: 'Adebayo et al., Sanity checks for saliency maps, NeurIPS 2018 (arXiv:1810.03292)',
  description: "Spearman's rank correlation of the map with the map of a fully randomised copy of the model.",
  score: (i: MetricInput) => ({ value: spearman(i.map, randomisedOf(i, 'sanity')) }),
});
