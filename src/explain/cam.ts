import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { GapHead, denseWeights, findGapHead } from '../model/head';
import { LayerInfo } from '../model/inspect';
import { gapFeatureLayer, gapHeadOf, modelGapOutput } from './gap';
import { gapOf, weightedSum } from './maps';
import { defineMapMethod } from './mapmethod';
import type { ExplainableModel, MethodOptions } from './registry';
import type { CamParts, CamResult } from './types';
import { camIdentities } from './verify';

/** The GAP head (`head`, or searched), or the error that explains why CAM needs one (and at which layer). */
export function requireGapHead(model: tf.LayersModel, layer?: LayerInfo, head: GapHead | null = findGapHead(model)): GapHead {
  if (!head) {
    throw new TslabCamError('NOT_GAP_MODEL',
      `CAM needs a GlobalAveragePooling2D → Dense head: its weights w_k^c connect each feature map's average F_k to the score S_c. Model '${model.name}' has no such head (e.g. it flattens the feature maps), so w_k^c do not exist.`,
      'Use gradCam(model, image): Grad-CAM replaces w_k^c by gradient weights α_k^c and works on any CNN.');
  }
  if (layer && layer.name !== head.featureLayer.name) {
    throw new TslabCamError('BAD_OPTION',
      `CAM is defined at the layer the GAP averages ('${head.featureLayer.name}'), not at '${layer.name}'.`,
      `Omit layer (or pass '${head.featureLayer.name}') for CAM; use gradCam(model, image, {layer: '${layer.name}'}) for other layers.`);
  }
  return head;
}

/**
 * CAM reads w_k^c from the Dense layer's weights; a frozen graph keeps them only as anonymous
 * constants behind MatMul nodes, so a graph model is refused with the routes that work.
 */
export function layersModelForCam(model: ExplainableModel): tf.LayersModel {
  if (model instanceof tf.GraphModel) {
    throw new TslabCamError('GRAPH_MODEL',
      "CAM reads the weights w_k^c of a GlobalAveragePooling2D → Dense head, and a tf.GraphModel (a frozen graph) has nodes and constants, not Keras layers to read them from.",
      "Use gradCam(model, image) on the graph model: on a GAP → Dense head Grad-CAM's α_k^c = w_k^c / Z, so its map is CAM's (ReLU'd and divided by Z). Or load the layers-format model (tensorflowjs_converter --input_format keras) for CAM itself.");
  }
  return model;
}

/** For each class in `classes`: w^c, the Dense weights from each F_k into class c, and the bias b_c. */
function classWeights(model: tf.LayersModel, head: GapHead, classIndices: readonly number[]): Array<{ w: Float32Array; b: number }> {
  const { W, b, K, classes } = denseWeights(model, head);
  return classIndices.map((c) => ({ w: Float32Array.from({ length: K }, (_, k) => W[k * classes + c]), b: b[c] }));
}

/**
 * CAM (Zhou et al., Learning Deep Features for Discriminative Localization, CVPR 2016,
 * arXiv:1512.04150): M_c(x,y) = Σ_k w_k^c f_k(x,y), with w_k^c and b_c the weights of the Dense
 * layer after GlobalAveragePooling2D, so that S_c = Σ_k w_k^c F_k + b_c = Σ_{x,y} M_c(x,y)/Z + b_c.
 * The raw map is M_c itself (no ReLU). Forward pass only; throws NOT_GAP_MODEL without that head.
 */
export const CAM = defineMapMethod<CamParts, { readonly modelF?: Float32Array; readonly w: Float32Array; readonly b: number }>({
  name: 'cam',
  label: 'CAM',
  latex: 'M_c(x,y) = \\sum_k w_k^c f_k(x,y)',
  paper: 'Zhou et al., Learning Deep Features for Discriminative Localization, CVPR 2016 (arXiv:1512.04150)',
  needs: 'forward',
  defaultLayer: gapFeatureLayer,
  check: (ctx) => {
    const { options } = ctx;
    requireGapHead(layersModelForCam(ctx.model), ctx.layer, gapHeadOf(ctx));
    const t = options.target;
    if (t !== undefined && typeof t !== 'number' && !Array.isArray(t)) {
      throw new TslabCamError('BAD_OPTION', 'CAM explains a class score through the Dense weights w_k^c; a target function has no such weights.',
        'Use a gradient method (gradCam, hiResCam, …) for a target function, or pass a class index.');
    }
  },
  batch: (ctx) => {
    const model = layersModelForCam(ctx.model);
    const weights = classWeights(model, requireGapHead(model, undefined, gapHeadOf(ctx)), ctx.pass.classIndices);
    return modelGapOutput(ctx).map((modelF, i) => ({ modelF, ...weights[i] }));
  },
  map: (pass) => {
    const { w, b, modelF } = pass.extra;
    const M = weightedSum(pass.f, w);
    return {
      map: M,
      channelWeights: { symbol: 'w', values: w },
      parts: { F: gapOf(pass.f), w, b, M: { data: M, shape: [pass.h, pass.w] }, ...(modelF ? { modelF } : {}) },
    };
  },
  verify: (r) => camIdentities(r as CamResult),
});

/** CAM for one image (see CAM). */
export function cam(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): CamResult {
  return CAM.single(model, image, options) as CamResult;
}

/** CAM for a batch: one forward pass, one result per image. */
export function camBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): CamResult[] {
  return CAM.batch(model, images, options) as CamResult[];
}

declare module './registry' {
  interface MethodResults {
    cam: CamResult;
  }
}
