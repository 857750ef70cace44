import * as tf from '@tensorflow/tfjs';
import type { ExplainableModel } from './registry';
import { defineWeightsMethod, type WeightParts } from './mapmethod';
import { EpsilonOptions, epsilonOf, gradsOf } from './family';
import type { MapResult, NDArray } from './types';
import { xGradCamIdentities } from './verify';

/** pytorch-grad-cam's ε in XGrad-CAM's denominator (1.5.x). */
export const XGRAD_CAM_EPSILON = 1e-7;

/** α_k^c = Σ_{x,y} f_k(x,y) ∂S_c/∂f_k(x,y) / (Σ_{x,y} f_k(x,y) + ε), accumulated in float64. */
export function xGradCamWeights(f: NDArray, grads: NDArray, epsilon: number): Float32Array {
  const [h, w, K] = f.shape;
  const num = new Float64Array(K);
  const den = new Float64Array(K).fill(epsilon);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < K; k++) {
      const a = f.data[p * K + k];
      num[k] += a * grads.data[p * K + k];
      den[k] += a;
    }
  }
  return Float32Array.from(num, (v, k) => (den[k] !== 0 ? v / den[k] : 0));
}

/** What an XGrad-CAM result carries. */
export interface XGradCamResult extends MapResult, WeightParts {
  readonly method: 'xGradCam';
  readonly grads: NDArray;
  readonly epsilon: number;
}

/**
 * XGrad-CAM (Fu et al., Axiom-based Grad-CAM: Towards Accurate Visualization and Explanation of
 * CNNs, BMVC 2020, arXiv:2008.02312): α_k^c = Σ_{x,y} (f_k(x,y) / Σ_{a,b} f_k(a,b)) ∂S_c/∂f_k(x,y),
 * map = ReLU(Σ_k α_k^c f_k): the gradient averaged with the activation as weight (Grad-CAM
 * averages it uniformly). pytorch-grad-cam adds ε = 1e-7 to the denominator; so do we
 * (`epsilon` option; 0 gives the paper's equation, a channel with Σ f_k = 0 then gets α = 0).
 *
 * On a GAP → Dense head ∂S_c/∂f_k = w_k^c / Z, so α_k^c = w_k^c F_k / (Z F_k + ε)
 * (verify() identity 6, exact) — that is w_k^c / Z up to a relative ε/(Z F_k) — and the map is
 * ReLU(M_c) / Z = Grad-CAM's L_c (identity 6's second check).
 */
export const XGRAD_CAM = defineWeightsMethod<{ readonly epsilon: number }>({
  name: 'xGradCam',
  label: 'XGrad-CAM',
  latex: '\\alpha_k^c = \\sum_{x,y}\\frac{f_k(x,y)}{\\sum_{a,b} f_k(a,b) + \\varepsilon}\\frac{\\partial S_c}{\\partial f_k(x,y)}',
  paper: 'Fu et al., Axiom-based Grad-CAM (XGrad-CAM), BMVC 2020 (arXiv:2008.02312)',
  needs: 'gradients',
  check: ({ options }) => void epsilonOf(options, XGRAD_CAM_EPSILON, 'xGradCam'),
  weights: (p) => xGradCamWeights(p.f, gradsOf(p), epsilonOf(p.options, XGRAD_CAM_EPSILON, 'xGradCam')),
  parts: (p) => ({ epsilon: epsilonOf(p.options, XGRAD_CAM_EPSILON, 'xGradCam') }),
  verify: (r, ctx) => xGradCamIdentities(r as XGradCamResult, ctx),
});

/**
 * XGrad-CAM for one image (the method and its equations: XGRAD_CAM).
 * @param model a tf.LayersModel or tf.GraphModel (scores are read before softmax/sigmoid unless scores: 'probabilities')
 * @param image (H, W, C) or (1, H, W, C) float32, as the model takes it (the batch form takes (N, H, W, C))
 * @param options layer, classIndex or target, scores, epsilon (default 1e-7; 0 = the paper), eigenSmooth, augSmooth
 * @returns raw (h, w) = ReLU(Σ_k α_k f_k), normalized, upsampled (H, W); alpha (K); weightedSum; grads (h, w, K); epsilon
 */
export function xGradCam(model: ExplainableModel, image: tf.Tensor, options: EpsilonOptions = {}): XGradCamResult {
  return XGRAD_CAM.single(model, image, options) as XGradCamResult;
}

/** XGrad-CAM for a batch: one forward and one backward pass, one result per image. */
export function xGradCamBatch(model: ExplainableModel, images: tf.Tensor, options: EpsilonOptions = {}): XGradCamResult[] {
  return XGRAD_CAM.batch(model, images, options) as XGradCamResult[];
}

declare module './registry' {
  interface MethodOptionsOf {
    xGradCam: EpsilonOptions;
  }
  interface MethodResults {
    xGradCam: XGradCamResult;
  }
}
