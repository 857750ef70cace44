import * as tf from '@tensorflow/tfjs';
import { graphInputName } from '../model/graphmodel';
import { gradientScope, positiveAtMost } from '../model/patches/gradients';
import { GRAD_CAM } from './gradcam';
import { displayGradient, guidedProduct } from './maps';
import { ExplainableModel, MethodOptions, registerMethod } from './registry';
import { defineLayerMethod, runLayerMethods } from './runner';
import type { GradCamResult, GuidedBackpropResult, GuidedGradCamResult, NDArray, ResultMeta } from './types';
import { gradCamIdentities } from './verify';

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
      return { x: () => tf.mul(tf.relu(dy as tf.Tensor), positiveAtMost(x, 6)) };
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

export { displayGradient, guidedProduct };

/** The input: the input layer of a layers model, the input placeholder node of a graph model. */
function inputLayerName({ model }: { model: ExplainableModel }): string {
  return model instanceof tf.GraphModel ? graphInputName(model) : model.inputs[0].sourceLayer.name;
}

/**
 * Guided backpropagation (Springenberg et al., Striving for Simplicity: The All Convolutional
 * Net, ICLR 2015 workshop, arXiv:1412.6806): G = ∂S_c/∂I with every ReLU-family gradient replaced
 * by the guided rule R = (x > 0)·(dy > 0)·dy. One guided backward pass to the input per batch.
 */
export const GUIDED_BACKPROP = defineLayerMethod<Omit<GuidedBackpropResult, keyof ResultMeta>>({
  name: 'guidedBackprop',
  label: 'Guided Backprop',
  latex: 'R^{(l)} = \\big(f^{(l)} > 0\\big)\\cdot\\big(R^{(l+1)} > 0\\big)\\cdot R^{(l+1)},\\qquad G = \\frac{\\partial S_c}{\\partial I}\\Big|_{\\text{guided}}',
  paper: 'Springenberg et al., Striving for Simplicity: The All Convolutional Net, ICLR 2015 workshop (arXiv:1412.6806)',
  needs: 'input-gradients',
  fixedLayer: inputLayerName,
  scope: withGuidedRelu,
  result: (pass) => {
    const gradient = pass.grads as NDArray;
    return { gradient, image: { data: displayGradient(gradient.data), shape: gradient.shape }, S: pass.S };
  },
});

/** Guided backprop for one image (see GUIDED_BACKPROP). */
export function guidedBackprop(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): GuidedBackpropResult {
  return GUIDED_BACKPROP.single(model, image, options) as GuidedBackpropResult;
}

/** Guided backprop for a batch: one guided backward pass to the input, one result per image. */
export function guidedBackpropBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): GuidedBackpropResult[] {
  return GUIDED_BACKPROP.batch(model, images, options) as GuidedBackpropResult[];
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
  } as GuidedGradCamResult;
}

/** Guided Grad-CAM for a batch: the Grad-CAM pass chooses the classes, the guided pass explains the same ones. */
function guidedGradCamRun(model: ExplainableModel, images: tf.Tensor, options: MethodOptions, single?: string): GuidedGradCamResult[] {
  const cams = runLayerMethods([GRAD_CAM.def], model, images, options, single)[0] as GradCamResult[];
  // The guided pass explains what the Grad-CAM pass did: the same target function, or the classes it
  // chose. Smoothing applies to L_c only (a gradient image has no channel terms or map to average).
  const plain = { ...options, eigenSmooth: undefined, augSmooth: undefined };
  const same = cams.some((c) => c.target !== undefined) ? plain : { ...plain, target: undefined, classIndex: cams.map((c) => c.classIndex) };
  const guided = guidedBackpropBatch(model, images, same);
  return cams.map((gc, i) => combineGuidedGradCam(guided[i], gc));
}

/**
 * Guided Grad-CAM (Selvaraju et al., ICCV 2017, arXiv:1610.02391): guided backprop ⊙ L_c, with
 * L_c (normalised to [0,1]) upsampled bilinearly to the input size as the Grad-CAM paper does.
 * Two passes per batch: Grad-CAM's plain gradient at the layer and the guided gradient at the input.
 */
export const GUIDED_GRAD_CAM = registerMethod<GuidedGradCamResult>({
  name: 'guidedGradCam',
  label: 'Guided Grad-CAM',
  latex: '\\text{Guided Grad-CAM} = G \\odot \\mathrm{upsample}(L_c)',
  paper: 'Selvaraju et al., Grad-CAM, ICCV 2017 (arXiv:1610.02391)',
  needs: 'input-gradients',
  explainBatch: (model, images, options = {}) => guidedGradCamRun(model, images, options),
  verify: (r, ctx) => gradCamIdentities(r.gradCam, ctx),
});

/** Guided Grad-CAM for a batch (see GUIDED_GRAD_CAM). */
export function guidedGradCamBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): GuidedGradCamResult[] {
  return guidedGradCamRun(model, images, options);
}

/** Guided Grad-CAM for one image (see GUIDED_GRAD_CAM). */
export function guidedGradCam(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): GuidedGradCamResult {
  return guidedGradCamRun(model, image, options, 'guidedGradCam')[0];
}

declare module './registry' {
  interface MethodResults {
    guidedBackprop: GuidedBackpropResult;
    guidedGradCam: GuidedGradCamResult;
  }
}
