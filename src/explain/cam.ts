import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { chooseClasses } from '../model/engine';
import { runGraph } from '../model/graph';
import { GapHead, denseWeights, findGapHead } from '../model/head';
import { LayerInfo, assertLayersModel, resolveLayer } from '../model/inspect';
import { EngineData, MethodOptions, assertSingle, tidyData, fOf, inputSize, metaFor, scoresOf } from './context';
import { toBatch } from './input';
import { gapOf, mapForms, weightedSum } from './maps';
import { CamResult, GapResult } from './types';

/** The GAP head, or the error that explains why CAM needs one. */
export function requireGapHead(model: tf.LayersModel, layer?: string | number): GapHead {
  const head = findGapHead(model);
  if (!head) {
    throw new TslabCamError('NOT_GAP_MODEL',
      `CAM needs a GlobalAveragePooling2D → Dense head: its weights w_k^c connect each feature map's average F_k to the score S_c. Model '${model.name}' has no such head (e.g. it flattens the feature maps), so w_k^c do not exist.`,
      'Use gradCam(model, image): Grad-CAM replaces w_k^c by gradient weights α_k^c and works on any CNN.');
  }
  if (layer !== undefined) {
    const chosen = resolveLayer(model, layer);
    if (chosen.name !== head.featureLayer.name) {
      throw new TslabCamError('BAD_OPTION',
        `CAM is defined at the layer the GAP averages ('${head.featureLayer.name}'), not at '${chosen.name}'.`,
        `Omit layer (or pass '${head.featureLayer.name}') for CAM; use gradCam(model, image, {layer: '${chosen.name}'}) for other layers.`);
    }
  }
  return head;
}

interface ForwardData extends EngineData {
  /** The model's own GAP output (N, K), when the feature layer feeds its GAP layer. */
  readonly modelF?: Float32Array;
}

/**
 * One forward pass (no gradients): f at the feature layer and all scores, plus the GAP layer's
 * output when there is one to compare F_k with (gapLayer must be the GAP fed by `feature`).
 */
function forward(model: tf.LayersModel, batch: tf.Tensor4D, feature: LayerInfo, gapLayer: LayerInfo | null, options: MethodOptions): ForwardData {
  const scoreKind = options.scores ?? 'logits';
  return tidyData(() => {
    const a = runGraph(model, batch, { capture: feature.path, scoreKind });
    const classIndices = chooseClasses(options.classIndex, a.scores as tf.Tensor2D);
    const f = a.captured as tf.Tensor;
    // The GAP layer's input is f itself (findGapHead), so the model's own GAP output is that
    // layer applied to f: no second pass through the network.
    const modelF = gapLayer ? (model.getLayer(gapLayer.name).apply(f) as tf.Tensor).dataSync() as Float32Array : undefined;
    return {
      f: f.dataSync() as Float32Array,
      fShape: f.shape,
      grads: new Float32Array(0),
      scores: a.scores.dataSync() as Float32Array,
      numClasses: a.scores.shape[1] as number,
      input: batch.dataSync() as Float32Array,
      inputShape: batch.shape,
      classIndices,
      layer: feature.name,
      scoreKind,
      ...(modelF ? { modelF } : {}),
    };
  });
}

/** GAP results for a batch: F_k = (1/Z) Σ_{x,y} f_k(x,y), and the model's own GAP output if any. */
function gapResults(model: tf.LayersModel, d: ForwardData): GapResult[] {
  const [n, h, w, k] = d.fShape;
  return Array.from({ length: n }, (_, i) => {
    const f = fOf(d, i);
    const modelF = d.modelF?.slice(i * k, (i + 1) * k);
    return { ...metaFor(model, d, i, 'gap'), f, F: gapOf(f), Z: h * w, hasGapHead: modelF !== undefined, ...(modelF ? { modelF } : {}) };
  });
}

/**
 * CAM (Zhou et al.): M_c(x,y) = Σ_k w_k^c f_k(x,y) with w_k^c, b_c read from the Dense layer
 * after GAP, and S_c = Σ_k w_k^c F_k + b_c = Σ_{x,y} M_c(x,y) / Z + b_c.
 */
function camResults(model: tf.LayersModel, d: ForwardData, head: GapHead): CamResult[] {
  const { W, b, K, classes } = denseWeights(model, head);
  const [n, h, w] = d.fShape;
  return gapResults(model, d).map((g, i) => {
    const c = d.classIndices[i];
    const wc = new Float32Array(K);
    for (let k = 0; k < K; k++) wc[k] = W[k * classes + c];
    const M = weightedSum(g.f, wc);
    const forms = mapForms(M, h, w, inputSize(d));
    const scores = scoresOf(d, i);
    const { method: _m, hasGapHead: _h, modelF, ...rest } = g;
    void _m; void _h;
    return { ...rest, ...metaFor(model, d, i, 'cam'), ...forms, modelF, w: wc, b: b[c], M: forms.raw, S: scores[c], scores } as CamResult & { modelF?: Float32Array };
  }).slice(0, n);
}

function withBatch<T>(model: tf.LayersModel, image: tf.Tensor, single: string | null, fn: (batch: tf.Tensor4D) => T): T {
  assertLayersModel(model);
  const batch = toBatch(model, image);
  if (single) assertSingle(batch, single);
  try {
    return fn(batch);
  } finally {
    batch.dispose();
  }
}

/** GAP for a batch. On a model without a GAP head, F_k is still computed from f at the chosen layer. */
export function gapBatch(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}, single: string | null = null): GapResult[] {
  return withBatch(model, image, single, (batch) => {
    const head = findGapHead(model);
    const layer = resolveLayer(model, options.layer ?? head?.featureLayer.name);
    const atHead = head !== null && layer.name === head.featureLayer.name;
    return gapResults(model, forward(model, batch, layer, atHead ? head.gapLayer : null, options));
  });
}

/**
 * GAP (the article's first step): f_k at the target layer and F_k = (1/Z) Σ_{x,y} f_k(x,y) for
 * every k (Keras' GlobalAveragePooling2D takes the mean; the article writes the sum). When the
 * model has its own GAP layer, its output is returned as modelF for comparison.
 */
export function gap(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}): GapResult {
  return gapBatch(model, image, options, 'gap')[0];
}

/** CAM for a batch: one forward pass, one result per image. */
export function camBatch(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}, single: string | null = null): CamResult[] {
  const head = requireGapHead(model, options.layer);
  return withBatch(model, image, single, (batch) => camResults(model, forward(model, batch, head.featureLayer, head.gapLayer, options), head));
}

/**
 * CAM: M_c(x,y) = Σ_k w_k^c f_k(x,y), where w_k^c and b_c are the weights of the Dense layer
 * after GlobalAveragePooling2D, so that S_c = Σ_k w_k^c F_k + b_c = Σ_{x,y} M_c(x,y)/Z + b_c.
 * Throws NOT_GAP_MODEL on a model without that head.
 */
export function cam(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions = {}): CamResult {
  return camBatch(model, image, options, 'cam')[0];
}
