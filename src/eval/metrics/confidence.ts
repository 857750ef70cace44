/**
 * Average Drop % and Increase in Confidence % (Chattopadhyay et al., Grad-CAM++, WACV 2018, §5.1):
 * Y = the class score on the full image, O = on the image × the map (upsampled, in [0,1]).
 * Average Drop = 100 · max(0, Y − O) / Y (lower is better); Increase in Confidence = 100 · [Y < O].
 */
import { registerMetric } from '../registry';
import type { MetricInput } from '../types';
import { forwardOf } from './require';

/** Y and O for one image: the full image and the image multiplied by the map, in one batch of two. */
export function confidencePair(i: MetricInput, metric: string): { y: number; o: number } {
  const { pixels, channels: C } = i.sample;
  const both = new Float32Array(2 * pixels.length);
  both.set(pixels, 0);
  for (let p = 0; p < pixels.length; p++) both[pixels.length + p] = pixels[p] * i.map[Math.floor(p / C)];
  const s = forwardOf(i, metric)(both, 2);
  return { y: s[0], o: s[1] };
}

const paper = 'Chattopadhyay et al., Grad-CAM++, WACV 2018 (arXiv:1710.11063)';

registerMetric({
  name: 'averageDrop', label: 'Average Drop %', needs: ['forward'], direction: 'lower', unit: '%', paper,
  description: 'How much the class score drops when only the map-weighted image is shown: 100·max(0, Y−O)/Y.',
  score: (i: MetricInput) => {
    const { y, o } = confidencePair(i, 'averageDrop');
    return { value: y > 0 ? (100 * Math.max(0, y - o)) / y : NaN };
  },
});

registerMetric({
  name: 'increaseInConfidence', label: 'Increase in Confidence %', needs: ['forward'], direction: 'higher', unit: '%', paper,
  description: 'Share of images whose class score rises when only the map-weighted image is shown: 100·[Y < O].',
  score: (i: MetricInput) => {
    const { y, o } = confidencePair(i, 'increaseInConfidence');
    return { value: o > y ? 100 : 0 };
  },
});
