/**
 * What a result IS, read from its fields: figures, summaries and the notebook layer choose by
 * these, never by method names, so a method added later displays with no display code.
 */
import type { ExplainResult, GapResult, GuidedBackpropResult, GuidedGradCamResult, MapResult, NDArray } from './types';

function isArrayLike(x: unknown): x is NDArray {
  if (typeof x !== 'object' || x === null) return false;
  const a = x as Partial<NDArray>;
  return Array.isArray(a.shape) && (a.data instanceof Float32Array || Array.isArray(a.data));
}

/** True for the explain layer's per-image results: a method tag, a class and the input image. */
export function isExplainResult(x: unknown): x is ExplainResult {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as { method?: unknown; classIndex?: unknown; input?: unknown };
  return typeof r.method === 'string' && typeof r.classIndex === 'number' && isArrayLike(r.input);
}

/** An image-sized result shown as an image (guided backprop, guided Grad-CAM, SmoothGrad …). */
export function hasInputImage(r: ExplainResult): r is GuidedBackpropResult | GuidedGradCamResult {
  const x = r as Partial<GuidedBackpropResult>;
  return isArrayLike(x.image) && x.image.shape.length === 3;
}

/** A map result: raw / normalised / upsampled forms of one map over the input (the CAM family). */
export function hasMapForms(r: ExplainResult): r is MapResult {
  const x = r as Partial<MapResult>;
  return !hasInputImage(r) && isArrayLike(x.raw) && isArrayLike(x.normalized) && isArrayLike(x.upsampled) && isArrayLike(x.f);
}

/** Feature maps and their averages F_k, with whether CAM applies (GAP's result). */
export function isLayerAverages(r: ExplainResult): r is GapResult {
  const x = r as Partial<GapResult>;
  return !hasInputImage(r) && isArrayLike(x.f) && x.F instanceof Float32Array && typeof x.hasGapHead === 'boolean';
}
