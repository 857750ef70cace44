/**
 * The CAM family's common shape. A method gives either channel weights α_k from one layer pass
 * (the map is then ReLU(Σ_k α_k f_k), as Grad-CAM and its successors build it) or a map of its
 * own; this module turns either into a map result with the three map forms, so every CAM-style
 * method is only its weights or its map.
 */
import { LayerMethod, LayerMethodDef, LayerPass, defineLayerMethod } from './runner';
import { mapForms, reluMap, weightedSum } from './maps';
import { MapResult, NDArray } from './types';
import { firstPrincipalProjection, weightedActivations } from './eigen';


/** The fields every map result carries besides its method's own. */
function mapBase<X>(pass: LayerPass<X>, raw: Float32Array): Omit<MapResult, keyof import('./types').ResultMeta> {
  return {
    ...mapForms(raw, pass.h, pass.w, pass.inputSize),
    f: pass.f, Z: pass.Z, S: pass.S, scores: pass.scores,
    ...(pass.grads ? { grads: pass.grads } : {}),
    ...(pass.options.eigenSmooth ? { smoothed: 'eigen' as const } : {}),
  };
}

type Common<X> = Omit<LayerMethodDef<object, X>, 'result'>;

/** A method defined by its map: raw (h, w) map plus named quantities of its own. */
export interface MapMethodDef<P extends object, X = undefined> extends Common<X> {
  map(pass: LayerPass<X>): { readonly map: Float32Array; readonly parts: P; readonly channelWeights?: { readonly symbol: string; readonly values: Float32Array } };
}

/** Registers a method given by its map (the element-wise family, CAM). */
export function defineMapMethod<P extends object, X = undefined>(def: MapMethodDef<P, X>): LayerMethod<Omit<MapResult, keyof import('./types').ResultMeta> & P> {
  const { map, ...rest } = def;
  return defineLayerMethod<Omit<MapResult, keyof import('./types').ResultMeta> & P, X>({
    ...rest,
    smoothing: { aug: true, ...def.smoothing },
    result: (pass) => {
      const out = map(pass);
      return { ...mapBase(pass, out.map), ...(out.channelWeights ? { channelWeights: out.channelWeights } : {}), ...out.parts };
    },
  });
}

/** What a channel-weight method's results carry beyond the common map fields. */
export interface WeightParts {
  /** α_k: (K) */
  readonly alpha: Float32Array;
  /** Σ_k α_k f_k before the ReLU: (h, w). */
  readonly weightedSum: NDArray;
}

/** A method defined by its channel weights α_k (the Grad-CAM family). */
export interface WeightsMethodDef<P extends object, X = undefined> extends Common<X> {
  weights(pass: LayerPass<X>): Float32Array;
  /** Extra named quantities of the result, given the map's raw form (e.g. Grad-CAM's L_c). */
  parts?(pass: LayerPass<X>, raw: NDArray): P;
}

/**
 * Registers a method given by its channel weights: map = ReLU(Σ_k α_k f_k), or with eigenSmooth
 * ReLU of the projection of the weighted activations α_k f_k on their first principal component.
 */
export function defineWeightsMethod<P extends object = object, X = undefined>(def: WeightsMethodDef<P, X>): LayerMethod<Omit<MapResult, keyof import('./types').ResultMeta> & WeightParts & P> {
  const { weights, parts, ...rest } = def;
  return defineLayerMethod<Omit<MapResult, keyof import('./types').ResultMeta> & WeightParts & P, X>({
    ...rest,
    smoothing: { eigen: true, aug: true, ...def.smoothing },
    result: (pass) => {
      const alpha = weights(pass);
      const sum = weightedSum(pass.f, alpha);
      const base = mapBase(pass, reluMap(pass.options.eigenSmooth ? firstPrincipalProjection(weightedActivations(pass.f, alpha)) : sum));
      return {
        ...base, alpha, weightedSum: { data: sum, shape: [pass.h, pass.w] }, channelWeights: { symbol: 'α', values: alpha },
        ...(parts ? parts(pass, base.raw) : ({} as P)),
      };
    },
  });
}
