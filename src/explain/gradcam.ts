import * as tf from '@tensorflow/tfjs';
import { alphaOf } from './maps';
import { defineWeightsMethod } from './mapmethod';
import type { ExplainableModel, MethodOptions } from './registry';
import type { GradCamResult, NDArray } from './types';
import { gradCamIdentities } from './verify';

export { alphaOf };

/**
 * Grad-CAM (Selvaraju et al., Grad-CAM: Visual Explanations from Deep Networks via
 * Gradient-based Localization, ICCV 2017, arXiv:1610.02391):
 * α_k^c = (1/Z) Σ_{x,y} ∂S_c/∂f_k(x,y) and L_c = ReLU(Σ_k α_k^c f_k), at any layer of any CNN.
 * On a GAP → Dense head ∂S_c/∂f_k(x,y) = w_k^c / Z, so α_k^c = w_k^c / Z and L_c = ReLU(M_c) / Z.
 */
export const GRAD_CAM = defineWeightsMethod<{ readonly L: NDArray }>({
  name: 'gradCam',
  label: 'Grad-CAM',
  latex: '\\alpha_k^c = \\frac{1}{Z}\\sum_{x,y}\\frac{\\partial S_c}{\\partial f_k(x,y)},\\qquad L_c = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k^c f_k\\Big)',
  paper: 'Selvaraju et al., Grad-CAM, ICCV 2017 (arXiv:1610.02391)',
  needs: 'gradients',
  weights: (p) => alphaOf(p.grads!.data, p.h, p.w, p.K),
  parts: (_, raw) => ({ L: raw }),
  verify: (r, ctx) => gradCamIdentities(r as GradCamResult, ctx),
});

/** Grad-CAM for one image (see GRAD_CAM); explain() and gradCamBatch take batches. */
export function gradCam(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): GradCamResult {
  return GRAD_CAM.single(model, image, options) as GradCamResult;
}

/** Grad-CAM for a batch: one forward and one backward pass, one result per image. */
export function gradCamBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): GradCamResult[] {
  return GRAD_CAM.batch(model, images, options) as GradCamResult[];
}

declare module './registry' {
  interface MethodResults {
    gradCam: GradCamResult;
  }
}
