import * as tf from '@tensorflow/tfjs';
import { defineMapMethod } from './mapmethod';
import { hadamard } from './eigen';
import { elementwiseMap, gradsOf } from './family';
import type { ExplainableModel, MethodOptions } from './registry';
import type { MapResult, NDArray } from './types';
import { hiResCamIdentities } from './verify';

/** What a HiResCAM result carries. */
export interface HiResCamResult extends MapResult {
  readonly method: 'hiResCam';
  readonly grads: NDArray;
}

/**
 * HiResCAM (Draelos & Carin, Use HiResCAM instead of Grad-CAM for faithful explanations of
 * convolutional neural networks, arXiv:2011.08891, 2020):
 * map(x,y) = ReLU(Σ_k ∂S_c/∂f_k(x,y) · f_k(x,y)): the gradient multiplied element-wise, with no
 * averaging over positions (Grad-CAM's 1/Z Σ_{x,y}), so each position keeps its own gradient.
 * As in pytorch-grad-cam; eigenSmooth projects the products instead of summing them (the paper
 * warns this loses HiResCAM's faithfulness guarantee).
 *
 * On a GAP → Dense head ∂S_c/∂f_k(x,y) = w_k^c / Z, so the map is ReLU(Σ_k w_k^c f_k) / Z =
 * ReLU(M_c) / Z — the 1/Z comes from the GAP's own gradient — which is exactly Grad-CAM's L_c
 * there (verify() identity 7). Away from a GAP head they differ wherever the gradient varies
 * over positions.
 */
export const HIRES_CAM = defineMapMethod<object>({
  name: 'hiResCam',
  label: 'HiResCAM',
  latex: 'L_c(x,y) = \\mathrm{ReLU}\\Big(\\sum_k \\frac{\\partial S_c}{\\partial f_k(x,y)} f_k(x,y)\\Big)',
  paper: 'Draelos & Carin, HiResCAM, 2020 (arXiv:2011.08891)',
  needs: 'gradients',
  smoothing: { eigen: true },
  map: (p) => ({ map: elementwiseMap(hadamard(gradsOf(p), p.f), p.options), parts: {} }),
  verify: (r, ctx) => hiResCamIdentities(r as HiResCamResult, ctx),
});

/**
 * HiResCAM for one image (the method and its equations: HIRES_CAM).
 * @param model a tf.LayersModel or tf.GraphModel (scores are read before softmax/sigmoid unless scores: 'probabilities')
 * @param image (H, W, C) or (1, H, W, C) float32, as the model takes it (the batch form takes (N, H, W, C))
 * @param options layer, classIndex or target, scores, eigenSmooth, augSmooth
 * @returns raw (h, w) = ReLU(Σ_k ∂S_c/∂f_k ⊙ f_k), normalized, upsampled (H, W); grads (h, w, K); f; S
 */
export function hiResCam(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): HiResCamResult {
  return HIRES_CAM.single(model, image, options) as HiResCamResult;
}

/** HiResCAM for a batch: one forward and one backward pass, one result per image. */
export function hiResCamBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): HiResCamResult[] {
  return HIRES_CAM.batch(model, images, options) as HiResCamResult[];
}

declare module './registry' {
  interface MethodResults {
    hiResCam: HiResCamResult;
  }
}
