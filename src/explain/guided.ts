import * as tf from '@tensorflow/tfjs';
import { runEngine } from '../model/engine';
import { atMost, gradientScope } from '../model/patches/gradients';
import { assertLayersModel } from '../model/inspect';
import { MethodOptions, assertSingle, metaFor, readEngine, scoresOf } from './context';
import { toBatch } from './input';
import { sliceBatch } from './maps';
import { gradCamFromEngine } from './gradcam';
import { GradCamResult, GuidedBackpropResult, GuidedGradCamResult, NDArray } from './types';

type GradConfig = NonNullable<ReturnType<typeof tf.getGradient>>;

/**
 * The guided rule (Springenberg et al.): a ReLU passes gradient back only where its forward input
 * was positive AND the incoming gradient is positive: R = (x > 0)·(dy > 0)·dy = ReLU(dy)·step(x).
 * ReLU6 also blocks where x > 6, as its plain gradient does. Written with single fused ops
 * (relu, step) because every ReLU of the network runs this on its full activation.
 */
const GUIDED: GradConfig[] = [
  {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => tf.mul(tf.relu(dy as tf.Tensor), tf.step(x)) };
    },
  },
  {
    kernelName: 'Relu6',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => tf.mul(tf.relu(dy as tf.Tensor), tf.mul(tf.step(x), atMost(x, 6))) };
    },
  },
];

/**
 * Runs fn with the guided rule as the gradient of every Relu and Relu6 kernel: ReLU layers,
 * relu/relu6 activations, and activations fused into Conv2D/DepthwiseConv2D/Dense (tfjs runs
 * fused ops unfused while a gradient is recorded, so they go through these kernels too). The
 * original gradients are restored afterwards, also when fn throws. fn must be synchronous.
 */
export const withGuidedRelu = gradientScope(() => GUIDED);

/**
 * Scales a gradient image for display as the guided-backprop papers show it: centred at 0.5 with
 * a standard deviation of 0.1, clipped to [0,1]. A zero gradient becomes flat grey.
 */
export function displayGradient(g: Float32Array): Float32Array {
  let mean = 0;
  for (const v of g) mean += v;
  mean /= g.length || 1;
  let varSum = 0;
  for (const v of g) varSum += (v - mean) ** 2;
  const std = Math.sqrt(varSum / (g.length || 1));
  return g.map((v) => Math.min(1, Math.max(0, ((v - mean) / (std + 1e-12)) * 0.1 + 0.5)));
}

function inputLayerName(model: tf.LayersModel): string {
  return model.inputs[0].sourceLayer.name;
}

/** Guided backprop for a batch: one guided backward pass to the input, one result per image. */
export function guidedBackpropBatch(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}, single: string | null = null): GuidedBackpropResult[] {
  assertLayersModel(model);
  const batch = toBatch(model, image);
  try {
    if (single) assertSingle(batch, single);
    const out = withGuidedRelu(() => runEngine(model, batch, { layer: inputLayerName(model), classIndex: options.classIndex, scores: options.scores }));
    try {
      const d = readEngine(out, batch);
      const n = batch.shape[0];
      return Array.from({ length: n }, (_, i) => {
        const gradient = sliceBatch(d.grads, d.fShape, i);
        const c = d.classIndices[i];
        return {
          ...metaFor(model, { ...d, layer: inputLayerName(model) }, i, 'guidedBackprop'),
          gradient,
          image: { data: displayGradient(gradient.data), shape: gradient.shape },
          S: scoresOf(d, i)[c],
        };
      });
    } finally {
      out.dispose();
    }
  } finally {
    batch.dispose();
  }
}

/**
 * Guided backprop: ∂S_c/∂input with every ReLU-family gradient replaced by the guided rule
 * R = (x > 0)·(dy > 0)·dy. Batch-aware; explain() takes batches.
 */
export function guidedBackprop(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}): GuidedBackpropResult {
  return guidedBackpropBatch(model, image, options, 'guidedBackprop')[0];
}

/** guided ⊙ L_c upsampled: the product per pixel and channel. */
export function guidedProduct(guided: NDArray, upsampledL: NDArray): Float32Array {
  const [h, w, ch] = guided.shape;
  const out = new Float32Array(h * w * ch);
  for (let p = 0; p < h * w; p++) for (let c = 0; c < ch; c++) out[p * ch + c] = guided.data[p * ch + c] * upsampledL.data[p];
  return out;
}

/** Combines matching Grad-CAM and guided-backprop results (same image and class). */
export function combineGuidedGradCam(g: GuidedBackpropResult, gc: GradCamResult): GuidedGradCamResult {
  const product = guidedProduct(g.gradient, gc.upsampled);
  return {
    ...gc,
    method: 'guidedGradCam',
    input: g.input,
    product: { data: product, shape: g.gradient.shape },
    image: { data: displayGradient(product), shape: g.gradient.shape },
    guided: g,
    gradCam: gc,
    S: gc.S,
  } as unknown as GuidedGradCamResult;
}

/**
 * Guided Grad-CAM: guided backprop ⊙ L_c, with L_c (normalised to [0,1]) upsampled bilinearly to
 * the input size as the Grad-CAM paper does. Two passes per batch: Grad-CAM's plain gradient at
 * the layer and the guided gradient at the input.
 */
export function guidedGradCamBatch(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}, single: string | null = null): GuidedGradCamResult[] {
  assertLayersModel(model);
  const batch = toBatch(model, image);
  try {
    if (single) assertSingle(batch, single);
    const out = runEngine(model, batch, { layer: options.layer, classIndex: options.classIndex, scores: options.scores });
    let cams: GradCamResult[];
    try {
      cams = gradCamFromEngine(model, readEngine(out, batch));
    } finally {
      out.dispose();
    }
    // The guided pass explains the same classes, chosen once by the Grad-CAM pass.
    const guided = guidedBackpropBatch(model, batch, { ...options, classIndex: cams.map((c) => c.classIndex) });
    return cams.map((gc, i) => combineGuidedGradCam(guided[i], gc));
  } finally {
    batch.dispose();
  }
}

export function guidedGradCam(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}): GuidedGradCamResult {
  return guidedGradCamBatch(model, image, options, 'guidedGradCam')[0];
}

