import * as tf from '@tensorflow/tfjs';
import { findGapHead } from '../model/head';
import { gapOf } from './maps';
import { BatchContext, CallContext, defineLayerMethod } from './runner';
import type { GapHead } from '../model/head';
import { gapIdentities } from './verify';
import type { GapResult } from './types';
import type { ExplainableModel, MethodOptions } from './registry';

/**
 * The model's own GAP output for each image, when the target layer is the one its
 * GlobalAveragePooling2D averages: that layer applied to f (no second pass through the network).
 */
export function modelGapOutput(ctx: BatchContext): Array<Float32Array | undefined> {
  const head = gapHeadOf(ctx);
  const n = ctx.images.shape[0];
  if (!head || head.featureLayer.name !== ctx.layer.name || !(ctx.model instanceof tf.LayersModel)) return new Array(n).fill(undefined);
  const F = ctx.model.getLayer(head.gapLayer.name).apply(ctx.pass.f) as tf.Tensor2D;
  const data = F.dataSync() as Float32Array;
  const K = F.shape[1];
  return Array.from({ length: n }, (_, i) => data.slice(i * K, (i + 1) * K));
}

/** The model's GAP → Dense head (or null), searched once per call. */
export function gapHeadOf(ctx: CallContext): GapHead | null {
  // A graph model has nodes, not Keras layers: no head to read (CAM refuses it; GAP still averages f).
  const model = ctx.model;
  return model instanceof tf.GraphModel ? null : ctx.once('gapHead', () => findGapHead(model));
}

/** The layer CAM and GAP default to: the one the model's GAP averages, if it has one. */
export function gapFeatureLayer(ctx: CallContext): string | undefined {
  return gapHeadOf(ctx)?.featureLayer.name;
}

/**
 * GAP, the article's first step: f_k at the target layer and F_k = (1/Z) Σ_{x,y} f_k(x,y) for
 * every k (Keras' GlobalAveragePooling2D takes the mean; the article writes the sum). When the
 * model has its own GAP layer at this layer, its output is returned as modelF for comparison.
 * Lin et al., Network in Network, ICLR 2014 (arXiv:1312.4400).
 */
export const GAP = defineLayerMethod<Omit<GapResult, keyof import('./types').ResultMeta>, Float32Array | undefined>({
  name: 'gap',
  label: 'GAP',
  latex: 'F_k = \\frac{1}{Z}\\sum_{x,y} f_k(x,y)',
  paper: 'Lin, Chen & Yan, Network in Network, ICLR 2014 (arXiv:1312.4400)',
  needs: 'forward',
  defaultLayer: gapFeatureLayer,
  batch: modelGapOutput,
  result: (pass) => ({
    f: pass.f, F: gapOf(pass.f), Z: pass.Z, hasGapHead: pass.extra !== undefined, ...(pass.extra ? { modelF: pass.extra } : {}),
  }),
  verify: (r) => gapIdentities(r as GapResult),
});

/** GAP for one image: f_k and F_k = (1/Z) Σ_{x,y} f_k(x,y) (see GAP). */
export function gap(model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}): GapResult {
  return GAP.single(model, image, options) as GapResult;
}

/** GAP for a batch: one forward pass, one result per image. */
export function gapBatch(model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}): GapResult[] {
  return GAP.batch(model, images, options) as GapResult[];
}

declare module './registry' {
  interface MethodResults {
    gap: GapResult;
  }
}
