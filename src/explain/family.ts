/**
 * What the gradient CAM methods after Grad-CAM share: their ε option, and turning per-channel
 * element-wise terms e_k(x,y) (e.g. ∂S_c/∂f_k ⊙ f_k) into a map, as a sum over channels or, with
 * eigenSmooth, as their first principal component. Pure math, no tfjs.
 */
import { TslabCamError } from '../errors';
import { channelSum, firstPrincipalProjection } from './eigen';
import { reluMap } from './maps';
import type { MethodOptions } from './registry';
import type { NDArray } from './types';

/** Options of the methods whose equation has a stabilising ε in a denominator. */
export interface EpsilonOptions extends MethodOptions {
  /** ε in the denominator (default: pytorch-grad-cam's value; 0 gives the paper's equation). */
  readonly epsilon?: number;
}

/** The ε a call uses: the caller's (a finite number ≥ 0, else BAD_OPTION) or the default. */
export function epsilonOf(options: MethodOptions, fallback: number, method: string): number {
  const e = (options as EpsilonOptions).epsilon;
  if (e === undefined) return fallback;
  if (typeof e !== 'number' || !Number.isFinite(e) || e < 0) {
    throw new TslabCamError('BAD_OPTION', `${method}'s epsilon must be a finite number ≥ 0, got ${String(e)}.`,
      `Leave it out for pytorch-grad-cam's ${fallback}, or pass 0 for the paper's equation.`);
  }
  return e;
}

/**
 * The map of element-wise terms e (h, w, K): ReLU(Σ_k e_k(x,y)), or with eigenSmooth the ReLU of
 * their projection on the first principal component (pytorch-grad-cam's get_2d_projection).
 */
export function elementwiseMap(e: NDArray, options: MethodOptions): Float32Array {
  return reluMap(options.eigenSmooth ? firstPrincipalProjection(e) : channelSum(e));
}

/** ∂S_c/∂f of a gradient method's pass (the runner fills it for methods that need gradients). */
export function gradsOf(p: { readonly grads: NDArray | null }): NDArray {
  if (!p.grads) throw new Error('a gradient method ran without gradients');
  return p.grads;
}
