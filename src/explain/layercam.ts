import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { defineMapMethod } from './mapmethod';
import { elementwiseMap, gradsOf } from './family';
import { mapForms, maxOf, resizeBilinear } from './maps';
import { ExplainableModel, MethodOptions, registerMethod } from './registry';
import type { MapResult, NDArray } from './types';
import { layerCamIdentities } from './verify';

/** LayerCAM's own options: several layers to fuse, and the paper's scaling factor γ. */
export interface LayerCamOptions extends MethodOptions {
  /** Layers to fuse (names, paths or indices), one engine pass each; instead of `layer`. */
  readonly layers?: ReadonlyArray<string | number>;
  /** γ of the paper's tanh scaling before the fusion (default 2, as in the paper). */
  readonly gamma?: number;
}

/** What a LayerCAM result carries; fused results add the layers and their scaled maps. */
export interface LayerCamResult extends MapResult {
  readonly method: 'layerCam';
  readonly grads: NDArray;
  /** Fused results: the layers, finest first as given, and each one's tanh-scaled map at the fused resolution. */
  readonly fused?: { readonly layers: readonly string[]; readonly gamma: number; readonly maps: readonly NDArray[] };
}

/** (h, w, K): ReLU(∂S_c/∂f_k(x,y)) · f_k(x,y). */
function positiveGradientTimesF(grads: NDArray, f: NDArray): NDArray {
  const out = new Float32Array(f.data.length);
  for (let i = 0; i < out.length; i++) out[i] = (grads.data[i] > 0 ? grads.data[i] : 0) * f.data[i];
  return { data: out, shape: f.shape };
}

/**
 * LayerCAM (Jiang et al., LayerCAM: Exploring Hierarchical Class Activation Maps for Localization,
 * IEEE TIP 30, 2021, doi:10.1109/TIP.2021.3089943):
 * map(x,y) = ReLU(Σ_k ReLU(∂S_c/∂f_k(x,y)) · f_k(x,y)): each position weighs each channel by its
 * own positive gradient, so shallow layers (where Grad-CAM's averaged weights blur) give usable
 * fine maps. Same as pytorch-grad-cam at one layer.
 *
 * Several layers (`layers: [...]`, one engine pass per layer): as the paper (its Eq. 9) does, each
 * layer's map is scaled to M̂ = tanh(γ · M / max M) with γ = 2 (so weak shallow maps are not
 * drowned by strong deep ones), upsampled bilinearly to the finest layer's resolution, and fused by
 * the element-wise maximum. pytorch-grad-cam instead averages the min-max-normalised maps of a
 * layer list. The fused result keeps the finest layer's f and gradient.
 *
 * On a GAP → Dense head with f ≥ 0 (after a ReLU), ReLU(w_k^c / Z) f_k = ReLU(w_k^c) f_k / Z,
 * so the map is Σ_k ReLU(w_k^c) f_k / Z, equal to element-wise Grad-CAM's (verify() identity 8).
 */
export const LAYER_CAM = defineMapMethod<object>({
  name: 'layerCam',
  label: 'LayerCAM',
  latex: 'L_c(x,y) = \\mathrm{ReLU}\\Big(\\sum_k \\mathrm{ReLU}\\Big(\\frac{\\partial S_c}{\\partial f_k(x,y)}\\Big) f_k(x,y)\\Big)',
  paper: 'Jiang et al., LayerCAM, IEEE TIP 2021 (doi:10.1109/TIP.2021.3089943)',
  needs: 'gradients',
  smoothing: { eigen: true },
  map: (p) => ({ map: elementwiseMap(positiveGradientTimesF(gradsOf(p), p.f), p.options), parts: {} }),
  verify: (r, ctx) => layerCamIdentities(r as LayerCamResult, ctx),
});

/** M̂ = tanh(γ M / max M) (all zeros when M is), the paper's scaling before the fusion. */
export function tanhScaled(m: Float32Array, gamma: number): Float32Array {
  const top = maxOf(m);
  return top > 0 ? m.map((v) => Math.tanh((gamma * v) / top)) : new Float32Array(m.length);
}

/** The element-wise maximum of the scaled maps, each resized to (H, W). */
export function fuseMaps(maps: readonly NDArray[], gamma: number, H: number, W: number): { fused: Float32Array; scaled: NDArray[] } {
  const scaled = maps.map((m) => resizeBilinear({ data: tanhScaled(m.data, gamma), shape: m.shape }, H, W));
  const fused = new Float32Array(H * W);
  for (const s of scaled) for (let i = 0; i < fused.length; i++) fused[i] = Math.max(fused[i], s.data[i]);
  return { fused, scaled };
}

function checkLayersOptions(o: LayerCamOptions): { layers: ReadonlyArray<string | number>; gamma: number } | null {
  const gamma = o.gamma ?? 2;
  if (typeof gamma !== 'number' || !Number.isFinite(gamma) || gamma <= 0) {
    throw new TslabCamError('BAD_OPTION', `layerCam's gamma must be a finite number > 0, got ${String(o.gamma)}.`, 'Leave it out for the paper\'s γ = 2.');
  }
  if (o.layers === undefined) return null;
  if (!Array.isArray(o.layers) || o.layers.length === 0) {
    throw new TslabCamError('BAD_OPTION', `layers must be a non-empty list of layer names or indices, got ${String(o.layers)}.`, "Pass e.g. {layers: ['conv2', 'relu4']}, or {layer: 'relu4'} for one layer.");
  }
  if (o.layer !== undefined) {
    throw new TslabCamError('BAD_OPTION', 'Both layer and layers were given.', 'Use layer for one layer, layers for a fusion of several.');
  }
  return { layers: o.layers, gamma };
}

/** LayerCAM at one layer or fused over `layers`; `single` asks for exactly one image. */
function runLayerCam(model: ExplainableModel, images: tf.Tensor, options: LayerCamOptions, single: boolean): LayerCamResult[] {
  const multi = checkLayersOptions(options);
  const { layers: _l, gamma: _g, ...rest } = options;
  const run = (layer: string | number | undefined) => (single ? [LAYER_CAM.single(model, images, { ...rest, layer })] : LAYER_CAM.batch(model, images, { ...rest, layer })) as LayerCamResult[];
  if (!multi) return run(options.layer);
  const perLayer = multi.layers.map(run);
  const finest = perLayer.reduce((best, r, l) => (r[0].raw.data.length > perLayer[best][0].raw.data.length ? l : best), 0);
  return perLayer[finest].map((base, i) => {
    const [h, w] = base.raw.shape;
    const { fused, scaled } = fuseMaps(perLayer.map((r) => r[i].raw), multi.gamma, h, w);
    const up = base.upsampled.shape;
    return {
      ...base, ...mapForms(fused, h, w, [up[0], up[1]]), layer: perLayer.map((r) => r[i].layer).join('+'),
      fused: { layers: perLayer.map((r) => r[i].layer), gamma: multi.gamma, maps: scaled },
    };
  });
}

/** LayerCAM for a batch, at one layer or fused over several with {layers: [...]} (see LAYER_CAM): one result per image. */
export function layerCamBatch(model: ExplainableModel, images: tf.Tensor, options: LayerCamOptions = {}): LayerCamResult[] {
  return runLayerCam(model, images, options, false);
}

/**
 * LayerCAM for one image, at one layer or fused over several (the method and its equations: LAYER_CAM).
 * @param model a tf.LayersModel or tf.GraphModel (scores are read before softmax/sigmoid unless scores: 'probabilities')
 * @param image (H, W, C) or (1, H, W, C) float32, as the model takes it (the batch form takes (N, H, W, C))
 * @param options layer, or layers (fused, one pass each) with gamma (default 2); classIndex or target, scores,
 *   eigenSmooth, augSmooth
 * @returns raw (h, w) = ReLU(Σ_k ReLU(∂S_c/∂f_k) f_k) (fused: the max of the tanh-scaled layer maps at the finest
 *   layer's resolution, with `fused` listing the layers and their scaled maps), normalized, upsampled (H, W); grads; f; S
 */
export function layerCam(model: ExplainableModel, image: tf.Tensor, options: LayerCamOptions = {}): LayerCamResult {
  return runLayerCam(model, image, options, true)[0];
}

// explain({method: 'layerCam', layers}) goes through the same entry point.
registerMethod({ ...LAYER_CAM, explainBatch: (model, images, options) => layerCamBatch(model, images, options) });

declare module './registry' {
  interface MethodOptionsOf {
    layerCam: LayerCamOptions;
  }
  interface MethodResults {
    layerCam: LayerCamResult;
  }
}
