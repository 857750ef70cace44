/**
 * Synthetic results with the exact shapes and relations of real ones (M = Σ_k w_k f_k,
 * α = w / Z, L = ReLU(M) / Z on a GAP → Dense head), computed without tfjs. They let the figures,
 * display tests and the display-check notebook run before or without a model.
 */
import type {
  CamResult, GradCamResult, GuidedBackpropResult, GuidedGradCamResult, NDArray,
} from '../explain/types';
import { alphaOf, displayGradient, gapOf, guidedProduct, mapForms, reluMap, weightedSum } from '../explain/maps';
import { mulberry32 as rng } from '../data/prng';

export interface SyntheticOptions {
  /** Input edge H = W (default 224). */
  size?: number;
  /** Layer edge h = w (default 7). */
  layerSize?: number;
  /** Channels K (default 8). */
  channels?: number;
  classIndex?: number;
  className?: string;
  layer?: string;
  /** Seed of the deterministic pseudo-random weights. */
  seed?: number;
}

export interface SyntheticExample {
  input: NDArray;
  cam: CamResult;
  gradCam: GradCamResult;
  guided: GuidedBackpropResult;
  guidedGradCam: GuidedGradCamResult;
}

/** A smooth colourful scene with a bright blob (the "object") and a weaker one. */
function syntheticImage(size: number, cx: number, cy: number): NDArray {
  const data = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = x / size;
      const v = y / size;
      const blob = Math.exp(-(((u - cx) ** 2 + (v - cy) ** 2) / 0.02));
      const i = (y * size + x) * 3;
      data[i] = 0.25 + 0.5 * blob + 0.2 * u;
      data[i + 1] = 0.3 + 0.4 * v * (1 - blob);
      data[i + 2] = 0.55 - 0.3 * blob + 0.1 * Math.sin(12 * u);
    }
  }
  return { data, shape: [size, size, 3] };
}

/** CAM, Grad-CAM and guided results of one synthetic image that satisfy the article's identities. */
export function syntheticExample(options: SyntheticOptions = {}): SyntheticExample {
  const size = options.size ?? 224;
  const h = options.layerSize ?? 7;
  const K = options.channels ?? 8;
  const Z = h * h;
  const rand = rng(options.seed ?? 1);
  const classIndex = options.classIndex ?? 3;
  const layer = options.layer ?? 'conv_last';
  const cx = 0.3 + 0.4 * rand();
  const cy = 0.3 + 0.4 * rand();
  const input = syntheticImage(size, cx, cy);
  // f_k: Gaussian bumps at random places, one near the object.
  const f = new Float32Array(Z * K);
  const centres = Array.from({ length: K }, (_, k) => (k === 0 ? [cx, cy] : [rand(), rand()]));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < h; x++) {
      for (let k = 0; k < K; k++) {
        const [kx, ky] = centres[k];
        const d = ((x + 0.5) / h - kx) ** 2 + ((y + 0.5) / h - ky) ** 2;
        f[(y * h + x) * K + k] = Math.max(0, 2 * Math.exp(-d / 0.03) - 0.1 * rand());
      }
    }
  }
  const w = new Float32Array(K);
  for (let k = 0; k < K; k++) w[k] = k === 0 ? 1.5 : rand() * 1.2 - 0.5;
  const b = 0.1;
  // The explain layer's own equations, on a GAP → Dense head where ∂S_c/∂f_k(x,y) = w_k / Z.
  const fArr: NDArray = { data: f, shape: [h, h, K] };
  const F = gapOf(fArr);
  const M = weightedSum(fArr, w);
  let S = b;
  for (let k = 0; k < K; k++) S += w[k] * F[k];
  const scores = new Float32Array(10).map((_, i) => (i === classIndex ? S : S * 0.3 * (i / 10)));
  const grads = new Float32Array(Z * K);
  for (let i = 0; i < Z; i++) for (let k = 0; k < K; k++) grads[i * K + k] = w[k] / Z;
  const alpha = alphaOf(grads, h, h, K);
  const weighted = weightedSum(fArr, alpha);
  const L = reluMap(weighted);
  const meta = {
    classIndex, className: options.className, layer, backend: 'synthetic', scoreKind: 'logits' as const, input,
  };
  const cam: CamResult = {
    ...meta, ...mapForms(M, h, h, [size, size]), method: 'cam', f: fArr, F, Z, w, b, M: { data: M, shape: [h, h] }, S, scores,
    channelWeights: { symbol: 'w', values: w },
  };
  const gradCam: GradCamResult = {
    ...meta, ...mapForms(L, h, h, [size, size]), method: 'gradCam', f: fArr, grads: { data: grads, shape: [h, h, K] },
    alpha, Z, weightedSum: { data: weighted, shape: [h, h] }, L: { data: L, shape: [h, h] }, S, scores,
    channelWeights: { symbol: 'α', values: alpha },
  };
  // A stand-in input gradient: edges of the image weighted towards the object.
  const gradient = new Float32Array(size * size * 3);
  for (let y = 1; y < size; y++) {
    for (let x = 1; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * size + x) * 3 + c;
        gradient[i] = (input.data[i] - input.data[i - 3]) + (input.data[i] - input.data[i - size * 3]) + 0.0005 * (rand() - 0.5);
      }
    }
  }
  const gradNd: NDArray = { data: gradient, shape: [size, size, 3] };
  const guided: GuidedBackpropResult = { ...meta, method: 'guidedBackprop', gradient: gradNd, image: { data: displayGradient(gradient), shape: gradNd.shape }, S };
  const product = guidedProduct(gradNd, gradCam.upsampled);
  const prodNd: NDArray = { data: product, shape: [size, size, 3] };
  const guidedGradCam: GuidedGradCamResult = {
    ...meta, method: 'guidedGradCam', product: prodNd, image: { data: displayGradient(product), shape: prodNd.shape }, guided, gradCam, S,
  };
  return { input, cam, gradCam, guided, guidedGradCam };
}
