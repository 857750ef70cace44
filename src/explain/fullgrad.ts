import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { clearTape } from '../model/engine';
import { runGraph } from '../model/graph';
import { activationName, layerConfig, isContainer, type Layer } from '../model/layers';
import { withLeanGradients } from '../model/patches/gradients';
import { withActivationGradientsOnly } from '../model/patches/kernels';
import { resizeBilinear } from './maps';
import { defineMapMethod } from './mapmethod';
import type { MethodOptions } from './registry';
import { layersOnly, type BatchContext } from './runner';
import type { MapResult } from './types';
import { fullGradIdentities } from './verify';

/** The two sides of FullGrad's completeness for one image. */
export interface FullGradCompleteness {
  /** Σ input ⊙ ∂S_c/∂input */
  readonly inputTerm: number;
  /** Σ over every bias b of the network (conv, BatchNorm's affine part, Dense) of b · ∂S_c/∂b. */
  readonly biasTerm: number;
  /** How many bias-carrying layers the bias term sums over. */
  readonly layers: number;
}

export interface FullGradParts {
  readonly completeness: FullGradCompleteness;
  /** The conv and BatchNorm layers whose bias-gradient maps are in the map (pytorch-grad-cam's choice). */
  readonly mapLayers: readonly string[];
}
export interface FullGradResult extends MapResult, FullGradParts {
  readonly method: 'fullGrad';
}

/**
 * The bias of a layer as the network adds it: a Conv/Dense bias, or BatchNorm's affine part in
 * inference, y = γ (x − μ)/√(σ² + ε) + β = (γ/√(σ² + ε)) x + (β − γ μ/√(σ² + ε)), whose bias is
 * the second term (γ = 1, β = 0 when the layer has none). Null when the layer adds no bias.
 */
export function biasOf(layer: Layer): Float32Array | null {
  const named = (re: RegExp) => layer.weights.find((w) => re.test(w.originalName ?? w.name));
  if (layer.getClassName() === 'BatchNormalization') {
    const mean = named(/moving_mean/)!.read().dataSync() as Float32Array;
    const variance = named(/moving_variance/)!.read().dataSync() as Float32Array;
    const gamma = named(/gamma/)?.read().dataSync() as Float32Array | undefined;
    const beta = named(/beta/)?.read().dataSync() as Float32Array | undefined;
    const eps = Number(layerConfig(layer).epsilon ?? 1e-3);
    return mean.map((m, k) => (beta ? beta[k] : 0) - ((gamma ? gamma[k] : 1) * m) / Math.sqrt(variance[k] + eps));
  }
  const b = named(/bias/);
  return b ? (b.read().dataSync() as Float32Array) : null;
}

/**
 * ∂S/∂(pre-activation) from ∂S/∂(output) and the output y, for the activations a layer may fuse:
 * the bias sits before the activation. Only activations whose derivative follows from y.
 */
function preActivationGrad(layer: Layer, y: tf.Tensor, g: tf.Tensor): tf.Tensor {
  switch (activationName(layer)) {
    case 'linear': return g;
    case 'relu': return tf.mul(g, tf.step(y));
    case 'relu6': return tf.mul(g, tf.mul(tf.step(y), tf.step(tf.sub(6, y))));
    case 'sigmoid': return tf.mul(g, tf.mul(y, tf.sub(1, y)));
    case 'tanh': return tf.mul(g, tf.sub(1, tf.square(y)));
    default:
      throw new TslabCamError('UNSUPPORTED', `FullGrad: layer '${layer.name}' applies '${activationName(layer)}' after its bias, and its derivative is not known here.`,
        'Use a model whose biased layers apply linear, relu, relu6, sigmoid or tanh (or a separate Activation layer), or another method.');
  }
}

/** |m| per (image, channel) min-max scaled on its own, (m − min)/(max − min + 1e-7), summed over channels: (N, h, w). */
function scaledChannelSum(m: tf.Tensor4D): tf.Tensor3D {
  const a = tf.abs(m);
  const lo = tf.min(a, [1, 2], true);
  const hi = tf.max(a, [1, 2], true);
  return tf.sum(tf.div(tf.sub(a, lo), tf.add(tf.sub(hi, lo), 1e-7)), 3) as tf.Tensor3D;
}

/** The layer whose output the scores are read from (inside nested models), as describeScoreHead finds it. */
function scoreLayer(model: tf.LayersModel): Layer {
  let sym = model.outputs[0];
  let layer = sym.sourceLayer;
  while (isContainer(layer)) {
    sym = layer.outputs[sym.tensorIndex];
    layer = sym.sourceLayer;
  }
  return layer;
}

interface FullGradExtra {
  readonly map: Float32Array;
  readonly completeness: FullGradCompleteness;
  readonly mapLayers: readonly string[];
}

/**
 * One forward and one backward pass: ∂S_c/∂input and ∂S_c/∂(output) of every layer that adds a
 * bias, read at the layers' own outputs (tapped as the graph runs; conv → BatchNorm is not folded
 * here). Builds each image's map and both sides of the completeness identity.
 */
function fullGradPass(ctx: BatchContext): FullGradExtra[] {
  const model = layersOnly(ctx.model, 'FullGrad');
  const images = ctx.images;
  const taps: Array<{ layer: Layer; y: tf.Tensor; bias: Float32Array }> = [];
  const xs: tf.Tensor[] = [images];
  const classes = ctx.pass.classIndices;
  let grads: tf.Tensor[];
  try {
    grads = withActivationGradientsOnly(() => withLeanGradients(() => tf.engine().gradients(() => {
        const run = runGraph(model, images, {
          capture: [], scoreKind: ctx.pass.scoreKind,
          tap: (layer, y) => {
            const bias = biasOf(layer);
            if (bias && y.shape[y.rank - 1] === bias.length) {
              // The gradient call tidies what its function made; the pre-activation gradient needs y after it.
              taps.push({ layer, y: tf.keep(y), bias });
              xs.push(y);
            }
          },
        });
        const mask = tf.oneHot(tf.tensor1d(classes, 'int32'), run.scores.shape[1] as number);
        return tf.sum(tf.mul(run.scores, mask)) as tf.Scalar;
      }, xs, undefined, true).grads));
  } catch (e) {
    clearTape();
    disposeTaps(taps);
    throw e;
  }
  try {
    return fullGradMaps(ctx, taps, grads);
  } finally {
    disposeTaps(taps);
  }
}

/** The kept layer outputs of the pass. */
function disposeTaps(taps: ReadonlyArray<{ y: tf.Tensor }>): void {
  for (const y of new Set(taps.map((t) => t.y))) if (!y.isDisposed) y.dispose();
}

/** Each image's map and completeness terms from the pass's gradients. */
function fullGradMaps(ctx: BatchContext, taps: ReadonlyArray<{ layer: Layer; y: tf.Tensor; bias: Float32Array }>, grads: tf.Tensor[]): FullGradExtra[] {
  const model = layersOnly(ctx.model, 'FullGrad');
  const images = ctx.images;
  const [n, H, W] = images.shape;
  const classes = ctx.pass.classIndices;
  const gIn = grads[0] ?? tf.zerosLike(images);
  const inputTerms = tf.sum(tf.mul(images, gIn), [1, 2, 3]).dataSync() as Float32Array;
  const inputMap = scaledChannelSum(tf.mul(images, gIn) as tf.Tensor4D).dataSync() as Float32Array;
  const biasTerms = new Float64Array(n);
  const maps = Array.from({ length: n }, (_, i) => Float32Array.from(inputMap.subarray(i * H * W, (i + 1) * H * W)));
  const mapLayers: string[] = [];
  taps.forEach(({ layer, y, bias }, t) => {
    const g = grads[t + 1] ?? tf.zerosLike(y);
    const contribution = tf.mul(preActivationGrad(layer, y, g), tf.tensor1d(bias));
    const perImage = tf.sum(contribution.reshape([n, -1]), 1).dataSync() as Float32Array;
    perImage.forEach((v, i) => { biasTerms[i] += v; });
    const cls = layer.getClassName();
    // pytorch-grad-cam's map takes Conv2d and BatchNorm2d biases only: spatial layers here.
    if (contribution.rank === 4 && /Conv|BatchNormalization/.test(cls)) {
      mapLayers.push(layer.name);
      const [, h, w] = contribution.shape;
      const summed = scaledChannelSum(contribution as tf.Tensor4D).dataSync() as Float32Array;
      for (let i = 0; i < n; i++) {
        const up = resizeBilinear({ data: summed.subarray(i * h * w, (i + 1) * h * w), shape: [h, w] }, H, W).data;
        for (let p = 0; p < H * W; p++) maps[i][p] += up[p];
      }
    }
  });
  // A Dense that ends in softmax/sigmoid is applied as its linear part when logits are read, which
  // the tap does not see: its bias b_c reaches S_c with gradient 1.
  const last = scoreLayer(model);
  const lastBias = ctx.pass.scoreKind === 'logits' && !taps.some((t) => t.layer === last) ? biasOf(last) : null;
  if (lastBias && last.getClassName() === 'Dense') classes.forEach((c, i) => { biasTerms[i] += lastBias[c]; });
  const layers = taps.length + (lastBias ? 1 : 0);
  return maps.map((map, i) => ({ map, completeness: { inputTerm: inputTerms[i], biasTerm: biasTerms[i], layers }, mapLayers }));
}

/**
 * FullGrad (Srinivas & Fleuret, Full-Gradient Representation for Neural Network Visualization,
 * NeurIPS 2019, arXiv:1905.00780). For a network that is piecewise linear in its input and biases,
 * the score splits exactly into an input part and one part per bias (completeness):
 *   S_c = Σ x ⊙ ∂S_c/∂x + Σ_layers Σ b ⊙ ∂S_c/∂b,
 * where a bias gradient is spread over the positions of the layer's output, ∂S_c/∂b_k =
 * Σ_{x,y} ∂S_c/∂z_k(x,y) (z: the layer's pre-activation output). The map sums the input part and
 * every layer's bias part, each |·| and min-max scaled per (image, channel), resized to the input:
 *   FG = ψ(|x ⊙ ∇_x S_c|) + Σ_layers Σ_k ψ(|b_k ∂S_c/∂z_k|).
 * BatchNorm in inference is affine, and its bias is β − γ μ / √(σ² + ε).
 *
 * pytorch-grad-cam's convention, followed here: only conv and BatchNorm biases enter the map
 * (Dense and 1-D BatchNorm biases still count in the completeness check), each (image, channel)
 * slice is scaled on its own with +1e-7 and resized with half-pixel centres, the input part is
 * scaled per colour channel, and the target layer option is ignored (every bias layer is used).
 * The paper post-processes the same way (ψ = abs, bilinear upsampling, rescaling).
 */
export const FULL_GRAD = defineMapMethod<FullGradParts, FullGradExtra>({
  name: 'fullGrad',
  label: 'FullGrad',
  latex: 'FG = \\psi\\big(|x \\odot \\nabla_x S_c|\\big) + \\sum_{l}\\sum_k \\psi\\big(|b^l_k\\, \\nabla_{z^l_k} S_c|\\big),\\qquad S_c = x\\cdot\\nabla_x S_c + \\sum_l b^l\\cdot\\nabla_{b^l} S_c',
  paper: 'Srinivas & Fleuret, Full-Gradient Representation for Neural Network Visualization, NeurIPS 2019 (arXiv:1905.00780)',
  // The runner's pass is forward-only (it gives the input and the classes); the gradients at the
  // input and at every bias layer come from FullGrad's own single backward pass.
  needs: 'forward',
  fixedLayer: ({ model }) => layersOnly(model, 'FullGrad').inputs[0].sourceLayer.name,
  batch: fullGradPass,
  map: (p) => ({ map: p.extra.map, parts: { completeness: p.extra.completeness, mapLayers: p.extra.mapLayers } }),
  verify: (r, ctx) => fullGradIdentities(r as unknown as FullGradResult),
});

/** FullGrad for one image (see FULL_GRAD). */
export function fullGrad(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}): FullGradResult {
  return FULL_GRAD.single(model, image, options) as unknown as FullGradResult;
}

/** FullGrad for a batch: one forward and one backward pass, one result per image. */
export function fullGradBatch(model: tf.LayersModel, images: tf.Tensor, options: MethodOptions = {}): FullGradResult[] {
  return FULL_GRAD.batch(model, images, options) as unknown as FullGradResult[];
}

declare module './registry' {
  interface MethodResults {
    fullGrad: FullGradResult;
  }
}
