/**
 * One (H, W) map per explain result, whatever the method, for the metrics: a map method's
 * normalised upsampled map; for an input-gradient method (guided backprop, guided Grad-CAM) the
 * channel sum of |gradient| scaled to [0, 1], as Adebayo et al. compare them. Decided by shape.
 */
import { TslabCamError } from '../errors';
import { hasInputImage, hasMapForms } from '../explain/shapes';
import type { ExplainResult, NDArray } from '../explain/types';

function absChannelSum(a: NDArray): Float32Array {
  const C = a.shape[2] ?? 1, out = new Float32Array(a.data.length / C);
  for (let i = 0; i < a.data.length; i++) out[Math.floor(i / C)] += Math.abs(a.data[i]);
  let m = 0;
  for (const v of out) if (v > m) m = v;
  if (m > 0) for (let i = 0; i < out.length; i++) out[i] /= m;
  return out;
}

/** The result's map over the input in [0, 1], or BAD_OPTION for a method with no map (GAP). */
export function saliencyOf(r: ExplainResult): Float32Array {
  if (hasMapForms(r)) return r.upsampled.data;
  if (hasInputImage(r)) {
    const raw = (r as { gradient?: NDArray; product?: NDArray }).gradient ?? (r as { product?: NDArray }).product ?? r.image;
    return absChannelSum(raw);
  }
  throw new TslabCamError('BAD_OPTION', `The method '${r.method}' gives no map over the input to measure.`,
    'Evaluate map methods (gradCam, cam, …) or input-gradient methods (guidedBackprop); leave this one out of methods.');
}
