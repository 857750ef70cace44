/**
 * ROAD, RemOve And Debias (Rong et al., ICML 2022), as pytorch-grad-cam offers it: impute a fraction
 * of the pixels by noisy linear imputation and report the change of the class score,
 * score(imputed) − score(image). Most relevant first (the top fraction by the map; a large drop,
 * i.e. a low value, is good) and least relevant first (the bottom fraction; a small change, i.e.
 * a high value, is good). The fraction defaults to 20% (pytorch-grad-cam's percentile 80 / 20).
 */
import { TslabCamError } from '../../errors';
import { registerMetric } from '../registry';
import { imputeLinear, orderByMap } from '../perturb';
import type { MetricInput, MetricOptions } from '../types';
import { forwardOf } from './require';

/** Score change after imputing the most (or least) relevant `fraction` of the pixels. */
export function roadChange(i: MetricInput, options: MetricOptions, most: boolean): number {
  const fraction = options.roadFraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) {
    throw new TslabCamError('BAD_OPTION', `roadFraction must be between 0 and 1, got ${fraction}.`, 'Pass e.g. {roadFraction: 0.2} (20% of the pixels imputed).');
  }
  const P = i.map.length, order = orderByMap(i.map), count = Math.round(fraction * P);
  const removed = new Uint8Array(P);
  for (let k = 0; k < count; k++) removed[order[most ? k : P - 1 - k]] = 1;
  const both = new Float32Array(2 * i.sample.pixels.length);
  both.set(i.sample.pixels, 0);
  both.set(imputeLinear(i.sample, removed), i.sample.pixels.length);
  const s = forwardOf(i, most ? 'roadMostRelevantFirst' : 'roadLeastRelevantFirst')(both, 2);
  return s[1] - s[0];
}

const paper = 'Rong et al., A consistent and efficient evaluation strategy for attribution methods (ROAD), ICML 2022 (arXiv:2202.00449)';

registerMetric({
  name: 'roadMostRelevantFirst', label: 'ROAD MoRF Δscore', needs: ['forward'], direction: 'lower', unit: '', paper,
  description: 'Class score change when the most relevant 20% of pixels are imputed from their neighbours.',
  score: (i: MetricInput, o: MetricOptions) => ({ value: roadChange(i, o, true) }),
});

registerMetric({
  name: 'roadLeastRelevantFirst', label: 'ROAD LeRF Δscore', needs: ['forward'], direction: 'higher', unit: '', paper,
  description: 'Class score change when the least relevant 20% of pixels are imputed from their neighbours.',
  score: (i: MetricInput, o: MetricOptions) => ({ value: roadChange(i, o, false) }),
});
