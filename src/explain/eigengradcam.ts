import * as tf from '@tensorflow/tfjs';
import { defineMapMethod } from './mapmethod';
import { firstPrincipalProjection, hadamard } from './eigen';
import { gradsOf } from './family';
import { reluMap } from './maps';
import type { ExplainableModel, MethodOptions } from './registry';
import type { MapResult, NDArray } from './types';

/** What an Eigen-Grad-CAM result carries. */
export interface EigenGradCamResult extends MapResult {
  readonly method: 'eigenGradCam';
  readonly grads: NDArray;
  /** The projection of ∂S_c/∂f ⊙ f on its first principal component, before the ReLU: (h, w). */
  readonly projection: NDArray;
}

/**
 * Eigen-Grad-CAM (pytorch-grad-cam's EigenGradCAM, after Muhammad & Yeasin's Eigen-CAM,
 * arXiv:2008.00299): Eigen-CAM applied to the class-specific products ∂S_c/∂f_k(x,y) · f_k(x,y)
 * instead of f, so the component follows class c: map = ReLU(p), p the projection of the
 * channel-centred products on their first principal component, sign fixed as in Eigen-CAM.
 * On a GAP → Dense head the products are w_k^c f_k / Z: the first principal component of CAM's
 * per-channel terms (no closed form to check).
 */
export const EIGEN_GRAD_CAM = defineMapMethod<{ readonly projection: NDArray }>({
  name: 'eigenGradCam',
  label: 'Eigen-Grad-CAM',
  latex: 'L_c(x,y) = \\mathrm{ReLU}\\big(\\mathrm{PC}_1\\big(\\tfrac{\\partial S_c}{\\partial f} \\odot f\\big)(x,y)\\big)',
  paper: 'pytorch-grad-cam EigenGradCAM, after Muhammad & Yeasin, Eigen-CAM, IJCNN 2020 (arXiv:2008.00299)',
  needs: 'gradients',
  smoothing: { eigen: true },
  map: (p) => {
    const projection = firstPrincipalProjection(hadamard(gradsOf(p), p.f));
    return { map: reluMap(projection), parts: { projection: { data: projection, shape: [p.h, p.w] } } };
  },
});

/**
 * Eigen-Grad-CAM for one image (the method and its equations: EIGEN_GRAD_CAM).
 * @param model a tf.LayersModel or tf.GraphModel (scores are read before softmax/sigmoid unless scores: 'probabilities')
 * @param image (H, W, C) or (1, H, W, C) float32, as the model takes it (the batch form takes (N, H, W, C))
 * @param options layer, classIndex or target, scores, augSmooth
 * @returns raw (h, w) = ReLU(p), projection p (h, w) before the ReLU, normalized, upsampled (H, W); grads (h, w, K); f; S
 */
export function eigenGradCam(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): EigenGradCamResult {
  return EIGEN_GRAD_CAM.single(model, image, options) as EigenGradCamResult;
}

/** Eigen-Grad-CAM for a batch: one forward and one backward pass, one result per image. */
export function eigenGradCamBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): EigenGradCamResult[] {
  return EIGEN_GRAD_CAM.batch(model, images, options) as EigenGradCamResult[];
}

declare module './registry' {
  interface MethodResults {
    eigenGradCam: EigenGradCamResult;
  }
}
