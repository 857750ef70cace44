import * as tf from '@tensorflow/tfjs';
import type { ExplainableModel } from './registry';
import { defineWeightsMethod, type WeightParts } from './mapmethod';
import { EpsilonOptions, epsilonOf, gradsOf } from './family';
import type { LayerPass } from './runner';
import type { MapResult, NDArray } from './types';
import { gradCamPlusPlusIdentities } from './verify';

/** pytorch-grad-cam's ε in Grad-CAM++'s denominator (1.5.x); dropping it moved digits maps by 2–5%. */
export const GRAD_CAM_PLUS_PLUS_EPSILON = 1e-6;

/**
 * α_k^c of Grad-CAM++ in pytorch-grad-cam's closed form: with g = ∂S_c/∂f_k(x,y) and
 * Σf_k = Σ_{a,b} f_k(a,b), a_{xy}^k = g² / (2g² + Σf_k·g³ + ε), set to 0 where g = 0, and
 * α_k^c = Σ_{x,y} a_{xy}^k · ReLU(g). Accumulated in float64.
 */
export function gradCamPlusPlusWeights(f: NDArray, grads: NDArray, epsilon: number): Float32Array {
  const [h, w, K] = f.shape;
  const sumF = new Float64Array(K);
  for (let p = 0; p < h * w; p++) for (let k = 0; k < K; k++) sumF[k] += f.data[p * K + k];
  const alpha = new Float64Array(K);
  for (let p = 0; p < h * w; p++) {
    for (let k = 0; k < K; k++) {
      const g = grads.data[p * K + k];
      if (!(g > 0)) continue; // ReLU(g) = 0, and a = 0 where g = 0
      const g2 = g * g;
      const den = 2 * g2 + sumF[k] * g2 * g + epsilon;
      if (den !== 0) alpha[k] += (g2 / den) * g;
    }
  }
  return Float32Array.from(alpha);
}

/** What a Grad-CAM++ result carries: the common map fields, α, Σ_k α_k f_k, ∂S_c/∂f and the ε used. */
export interface GradCamPlusPlusResult extends MapResult, WeightParts {
  readonly method: 'gradCamPlusPlus';
  readonly grads: NDArray;
  readonly epsilon: number;
}

/**
 * Grad-CAM++ (Chattopadhyay et al., Grad-CAM++: Improved Visual Explanations for Deep
 * Convolutional Networks, WACV 2018, arXiv:1710.11063):
 *   α_k^c = Σ_{x,y} a_{xy}^{kc} ReLU(∂S_c/∂f_k(x,y)),
 *   a_{xy}^{kc} = (∂S_c/∂f_k)² / (2 (∂S_c/∂f_k)² + Σ_{a,b} f_k(a,b) (∂S_c/∂f_k)³ + ε),
 *   map = ReLU(Σ_k α_k^c f_k).
 * The paper derives a from second and third derivatives of exp(S_c) and replaces them by powers
 * of the first derivative (its Eq. 19); pytorch-grad-cam computes exactly that closed form with
 * the score S_c itself, adds ε = 1e-6 to the denominator and sets a = 0 where the gradient is 0.
 * We match it. Options: `epsilon` (default 1e-6; 0 gives the paper's Eq. 19 with 0/0 taken as 0),
 * eigenSmooth, augSmooth, target.
 *
 * On a GAP → Dense head (∂S_c/∂f_k = w_k^c / Z everywhere, Σf_k = Z F_k) the sum over Z equal
 * terms gives α_k^c = ReLU(w_k^c) (w_k^c)² / ((w_k^c)² (2 + w_k^c F_k) + ε Z²), which is
 * ReLU(w_k^c) / (2 + w_k^c F_k) when ε = 0 (verify() identity 10). The ε Z² term is not small on
 * the digits models (Z = 64: ε Z² ≈ 4·10⁻³ against 2w² ≈ 10⁻²), which is why ε moves the map.
 */
export const GRAD_CAM_PLUS_PLUS = defineWeightsMethod<{ readonly epsilon: number }>({
  name: 'gradCamPlusPlus',
  label: 'Grad-CAM++',
  latex: '\\alpha_k^c = \\sum_{x,y}\\frac{g^2}{2g^2 + \\sum_{a,b} f_k(a,b)\\, g^3 + \\varepsilon}\\,\\mathrm{ReLU}(g),\\quad g = \\frac{\\partial S_c}{\\partial f_k(x,y)}',
  paper: 'Chattopadhyay et al., Grad-CAM++, WACV 2018 (arXiv:1710.11063)',
  needs: 'gradients',
  check: ({ options }) => void epsilonOf(options, GRAD_CAM_PLUS_PLUS_EPSILON, 'gradCamPlusPlus'),
  weights: (p: LayerPass) => gradCamPlusPlusWeights(p.f, gradsOf(p), epsilonOf(p.options, GRAD_CAM_PLUS_PLUS_EPSILON, 'gradCamPlusPlus')),
  parts: (p) => ({ epsilon: epsilonOf(p.options, GRAD_CAM_PLUS_PLUS_EPSILON, 'gradCamPlusPlus') }),
  verify: (r, ctx) => gradCamPlusPlusIdentities(r as GradCamPlusPlusResult, ctx),
});

/**
 * Grad-CAM++ for one image (the method and its equations: GRAD_CAM_PLUS_PLUS).
 * @param model a tf.LayersModel or tf.GraphModel (scores are read before softmax/sigmoid unless scores: 'probabilities')
 * @param image (H, W, C) or (1, H, W, C) float32, as the model takes it (the batch form takes (N, H, W, C))
 * @param options layer (default: the last spatial feature map), classIndex or target, scores,
 *   epsilon (default 1e-6; 0 = the paper's Eq. 19), eigenSmooth, augSmooth
 * @returns raw (h, w) = ReLU(Σ_k α_k f_k), normalized, upsampled (H, W); alpha (K); weightedSum (h, w);
 *   grads ∂S_c/∂f (h, w, K); f; S; epsilon
 */
export function gradCamPlusPlus(model: ExplainableModel, image: tf.Tensor, options: EpsilonOptions = {}): GradCamPlusPlusResult {
  return GRAD_CAM_PLUS_PLUS.single(model, image, options) as GradCamPlusPlusResult;
}

/** Grad-CAM++ for a batch: one forward and one backward pass, one result per image. */
export function gradCamPlusPlusBatch(model: ExplainableModel, images: tf.Tensor, options: EpsilonOptions = {}): GradCamPlusPlusResult[] {
  return GRAD_CAM_PLUS_PLUS.batch(model, images, options) as GradCamPlusPlusResult[];
}

declare module './registry' {
  interface MethodOptionsOf {
    gradCamPlusPlus: EpsilonOptions;
  }
  interface MethodResults {
    gradCamPlusPlus: GradCamPlusPlusResult;
  }
}
