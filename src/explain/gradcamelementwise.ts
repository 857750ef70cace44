import * as tf from '@tensorflow/tfjs';
import { defineMapMethod } from './mapmethod';
import { hadamard } from './eigen';
import { elementwiseMap, gradsOf } from './family';
import { reluMap } from './maps';
import type { ExplainableModel, MethodOptions } from './registry';
import type { MapResult, NDArray } from './types';
import { elementwiseIdentities } from './verify';

/** What an element-wise Grad-CAM result carries. */
export interface GradCamElementWiseResult extends MapResult {
  readonly method: 'gradCamElementWise';
  readonly grads: NDArray;
}

/**
 * Element-wise Grad-CAM (pytorch-grad-cam's GradCAMElementWise; no paper of its own, a HiResCAM
 * variant): map(x,y) = Σ_k ReLU(∂S_c/∂f_k(x,y) · f_k(x,y)) — each channel's product is clipped
 * before the sum, so a channel cannot cancel another one's positive evidence.
 *
 * On a GAP → Dense head with f ≥ 0 (after a ReLU), ReLU(w_k^c f_k / Z) = ReLU(w_k^c) f_k / Z,
 * so the map is Σ_k ReLU(w_k^c) f_k / Z, the same as LayerCAM's (verify() identity 9).
 */
export const GRAD_CAM_ELEMENT_WISE = defineMapMethod<object>({
  name: 'gradCamElementWise',
  label: 'Element-wise Grad-CAM',
  latex: 'L_c(x,y) = \\sum_k \\mathrm{ReLU}\\Big(\\frac{\\partial S_c}{\\partial f_k(x,y)} f_k(x,y)\\Big)',
  paper: 'pytorch-grad-cam (Gildenblat et al.), GradCAMElementWise; after Draelos & Carin 2020 (arXiv:2011.08891)',
  needs: 'gradients',
  smoothing: { eigen: true },
  map: (p) => {
    const e = hadamard(gradsOf(p), p.f);
    return { map: elementwiseMap({ data: reluMap(e.data), shape: e.shape }, p.options), parts: {} };
  },
  verify: (r, ctx) => elementwiseIdentities(r as GradCamElementWiseResult, ctx),
});

/**
 * Element-wise Grad-CAM for one image (the method and its equations: GRAD_CAM_ELEMENT_WISE).
 * @param model a tf.LayersModel or tf.GraphModel (scores are read before softmax/sigmoid unless scores: 'probabilities')
 * @param image (H, W, C) or (1, H, W, C) float32, as the model takes it (the batch form takes (N, H, W, C))
 * @param options layer, classIndex or target, scores, eigenSmooth, augSmooth
 * @returns raw (h, w) = Σ_k ReLU(∂S_c/∂f_k ⊙ f_k), normalized, upsampled (H, W); grads (h, w, K); f; S
 */
export function gradCamElementWise(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): GradCamElementWiseResult {
  return GRAD_CAM_ELEMENT_WISE.single(model, image, options) as GradCamElementWiseResult;
}

/** Element-wise Grad-CAM for a batch: one forward and one backward pass, one result per image. */
export function gradCamElementWiseBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): GradCamElementWiseResult[] {
  return GRAD_CAM_ELEMENT_WISE.batch(model, images, options) as GradCamElementWiseResult[];
}

declare module './registry' {
  interface MethodResults {
    gradCamElementWise: GradCamElementWiseResult;
  }
}
