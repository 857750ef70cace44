/** Ground truth and model access a metric needs, or a BAD_SAMPLE / BAD_OPTION error saying how to give it. */
import { TslabCamError } from '../../errors';
import { targetBox } from '../geometry';
import type { Box, Forward, MetricInput } from '../types';

const name = (i: MetricInput): string => (i.sample.name ? `sample '${i.sample.name}'` : 'this sample');

/** The sample's box (or the box around its mask). */
export function boxOf(input: MetricInput, metric: string): Box {
  const b = targetBox(input.sample);
  if (!b) {
    throw new TslabCamError('BAD_SAMPLE', `The metric '${metric}' needs a ground-truth box or mask, and ${name(input)} has neither.`,
      `Give each sample a box {x, y, width, height} or a mask, or leave '${metric}' out of metrics.`);
  }
  return b;
}

/** The sample's mask. */
export function maskOf(input: MetricInput, metric: string): Uint8Array {
  if (!input.sample.mask) {
    throw new TslabCamError('BAD_SAMPLE', `The metric '${metric}' needs a ground-truth mask, and ${name(input)} has none.`,
      `Give each sample a mask (height·width values, non-zero on the object), or leave '${metric}' out of metrics.`);
  }
  return input.sample.mask;
}

/** The forward function (scores of the target class on a stack of images). */
export function forwardOf(input: MetricInput, metric: string): Forward {
  if (!input.forward) {
    throw new TslabCamError('BAD_OPTION', `The metric '${metric}' runs the model on perturbed images and got no forward function.`,
      'Run it through evaluate(model, samples, …), or pass forward: (images, count) => scores of the class.');
  }
  return input.forward;
}

/** The map on the randomised model. */
export function randomisedOf(input: MetricInput, metric: string): Float32Array {
  if (!input.randomisedMap) {
    throw new TslabCamError('BAD_OPTION', `The metric '${metric}' compares with the map on a randomised copy of the model and got none.`,
      'Run it through evaluate(model, samples, …), which makes the randomised copy.');
  }
  return input.randomisedMap;
}
