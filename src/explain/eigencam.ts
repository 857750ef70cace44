import * as tf from '@tensorflow/tfjs';
import { defineMapMethod } from './mapmethod';
import { firstPrincipalProjection } from './eigen';
import { reluMap } from './maps';
import type { ExplainableModel, MethodOptions } from './registry';
import type { MapResult, NDArray } from './types';

/** What an Eigen-CAM result carries: the common map fields and the signed projection before the ReLU. */
export interface EigenCamResult extends MapResult {
  readonly method: 'eigenCam';
  /** p(x,y), the projection on the first principal component, before the ReLU: (h, w). */
  readonly projection: NDArray;
}

/**
 * Eigen-CAM (Muhammad & Yeasin, Eigen-CAM: Class Activation Map using Principal Components,
 * IJCNN 2020, arXiv:2008.00299): the projection of the layer's activations on their first
 * principal component, map = ReLU(p), p(x,y) = Σ_k (f_k(x,y) − f̄_k) v_k with v the first right
 * singular vector of the centred (Z × K) matrix. Class-agnostic and gradient-free: one forward pass.
 *
 * The paper takes the SVD of the raw activations; pytorch-grad-cam centres each channel first
 * (without it the map comes out mostly negative) and we do the same. An SVD's sign is arbitrary;
 * ours is fixed so that p correlates positively with the channel mean of f (src/explain/eigen.ts),
 * so the same input gives the same map on every run and backend. eigenSmooth changes nothing here
 * (the map already is a first principal component).
 */
export const EIGEN_CAM = defineMapMethod<{ readonly projection: NDArray }>({
  name: 'eigenCam',
  label: 'Eigen-CAM',
  latex: 'L(x,y) = \\mathrm{ReLU}\\Big(\\sum_k (f_k(x,y) - \\bar f_k)\\, v_k\\Big),\\quad v = \\text{first right singular vector of } (f - \\bar f)',
  paper: 'Muhammad & Yeasin, Eigen-CAM, IJCNN 2020 (arXiv:2008.00299)',
  needs: 'forward',
  smoothing: { eigen: true },
  map: (p) => {
    const projection = firstPrincipalProjection(p.f);
    return { map: reluMap(projection), parts: { projection: { data: projection, shape: [p.h, p.w] } } };
  },
});

/**
 * Eigen-CAM for one image (the method and its equations: EIGEN_CAM).
 * @param model a tf.LayersModel or tf.GraphModel (scores are read before softmax/sigmoid unless scores: 'probabilities')
 * @param image (H, W, C) or (1, H, W, C) float32, as the model takes it (the batch form takes (N, H, W, C))
 * @param options layer, scores (classIndex/target only choose the S reported; the map is class-agnostic), augSmooth
 * @returns raw (h, w) = ReLU(p), projection p (h, w) before the ReLU, normalized, upsampled (H, W); f; S
 */
export function eigenCam(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): EigenCamResult {
  return EIGEN_CAM.single(model, image, options) as EigenCamResult;
}

/** Eigen-CAM for a batch: one forward pass, one result per image. */
export function eigenCamBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): EigenCamResult[] {
  return EIGEN_CAM.batch(model, images, options) as EigenCamResult[];
}

declare module './registry' {
  interface MethodResults {
    eigenCam: EigenCamResult;
  }
}
