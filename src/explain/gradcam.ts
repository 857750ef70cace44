import * as tf from '@tensorflow/tfjs';
import { runEngine } from '../model/engine';
import { assertLayersModel } from '../model/inspect';
import { EngineData, MethodOptions, assertSingle, fOf, inputSize, metaFor, readEngine, scoresOf } from './context';
import { toBatch } from './input';
import { mapForms, sliceBatch, weightedSum } from './maps';
import { GradCamResult } from './types';

/** α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x,y) for one image's gradient of shape (h, w, K). */
export function alphaOf(grads: Float32Array, h: number, w: number, k: number): Float32Array {
  const z = h * w;
  const a = new Float64Array(k);
  for (let p = 0; p < z; p++) for (let c = 0; c < k; c++) a[c] += grads[p * k + c];
  return Float32Array.from(a, (v) => v / z);
}

/** L_c(x,y) = ReLU(Σ_k α_k^c f_k(x,y)), given the weighted sum. */
export function reluMap(m: Float32Array): Float32Array {
  return m.map((v) => (v > 0 ? v : 0));
}

/** Grad-CAM results for every image of one engine pass. */
export function gradCamFromEngine(model: tf.LayersModel, d: EngineData): GradCamResult[] {
  const [n, h, w, k] = d.fShape;
  const out: GradCamResult[] = [];
  for (let i = 0; i < n; i++) {
    const f = fOf(d, i);
    const grads = sliceBatch(d.grads, d.fShape, i);
    const alpha = alphaOf(grads.data, h, w, k);
    const sum = weightedSum(f, alpha);
    const L = reluMap(sum);
    const forms = mapForms(L, h, w, inputSize(d));
    const scores = scoresOf(d, i);
    out.push({
      ...metaFor(model, d, i, 'gradCam'),
      ...forms,
      f, grads, alpha, Z: h * w,
      weightedSum: { data: sum, shape: [h, w] },
      L: forms.raw,
      S: scores[d.classIndices[i]],
      scores,
    });
  }
  return out;
}

/**
 * Grad-CAM (Selvaraju et al.): α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x,y) and
 * L_c = ReLU(Σ_k α_k^c f_k), at any layer of any LayersModel, for one image (explain() takes
 * batches).
 */
export function gradCam(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}): GradCamResult {
  return gradCamBatch(model, image, options, 'gradCam')[0];
}

/** Grad-CAM for a batch: one forward and one backward pass, one result per image. */
export function gradCamBatch(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}, single?: string): GradCamResult[] {
  assertLayersModel(model);
  const batch = toBatch(model, image);
  if (single) assertSingle(batch, single);
  try {
    const out = runEngine(model, batch, { layer: options.layer, classIndex: options.classIndex, scores: options.scores });
    try {
      return gradCamFromEngine(model, readEngine(out, batch));
    } finally {
      out.dispose();
    }
  } finally {
    batch.dispose();
  }
}
