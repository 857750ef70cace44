/**
 * The one runner every layer method goes through: batching and input checks (toBatch), the
 * method's own check, class choice, one engine pass (with or without gradients), reading the
 * tensors once into plain arrays, disposal (also on errors), and the per-image metadata. A method
 * supplies only what makes it different (runner-facing interface: LayerMethodDef).
 */
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { modelMetaOf } from '../model/builtin';
import { EngineOutput, runEngine } from '../model/engine';
import { LayerInfo, assertLayersModel, resolveLayer } from '../model/inspect';
import { Target, asTarget } from '../model/targets';
import { withRestore } from '../run/interrupt';
import { toBatch } from './input';
import { augSmoothed } from './smooth';
import { sliceBatch } from './maps';
import { ExplainableModel, MethodInfo, MethodOptions, RegisteredMethod, VerifyContext, registerMethod } from './registry';
import { ExplainResult, IdentityCheck, MapResult, NDArray, ResultMeta } from './types';

/** What a method sees of the engine pass for one image. */
export interface LayerPass<X = undefined> {
  /** f_k(x,y) of the target layer: (h, w, K). */
  readonly f: NDArray;
  /** ∂S_c/∂f_k(x,y): (h, w, K); null for methods that do not need gradients. */
  readonly grads: NDArray | null;
  readonly h: number;
  readonly w: number;
  readonly K: number;
  /** Z = h·w */
  readonly Z: number;
  readonly classIndex: number;
  /** S_c of this image. */
  readonly S: number;
  /** All class scores of this image. */
  readonly scores: Float32Array;
  /** (H, W) of the input, for upsampling maps to it. */
  readonly inputSize: readonly [number, number];
  /** This image's share of the method's batch-level work (LayerMethodDef.batch), if any. */
  readonly extra: X;
  /** The options of the call (a method's own options, eigenSmooth, …). */
  readonly options: MethodOptions;
}

/**
 * What a method's hooks see of one call. `once(key, fn)` computes a value at most once per call,
 * shared by every hook and every method of the pass (e.g. the model's GAP head, whose search
 * walks the whole graph).
 */
export interface CallContext {
  readonly model: ExplainableModel;
  once<T>(key: string, fn: () => T): T;
}

/** The batch as tensors, for methods that must run the model again (Score-CAM, Ablation-CAM, CAM's GAP check). */
export interface BatchContext extends CallContext {
  /** (N, H, W, C) */
  readonly images: tf.Tensor4D;
  readonly layer: LayerInfo;
  /** The engine pass: f, grads (null without gradients), scores and the chosen classes. */
  readonly pass: EngineOutput<tf.Tensor4D | null>;
  readonly options: MethodOptions;
}

/** Where a method's check looks: the model and the resolved target layer. */
export interface CheckContext extends CallContext {
  readonly layer: LayerInfo;
  readonly options: MethodOptions;
}

/**
 * A method that works from one pass at a layer. R is what it adds to the result's metadata;
 * X is its per-image share of batch-level work.
 */
export interface LayerMethodDef<R extends object, X = undefined> extends MethodInfo {
  /** Layer to use when the caller names none (default: the last spatial feature map). */
  defaultLayer?(ctx: CallContext): string | number | undefined;
  /** The layer the method must use whatever the caller asks (guided backprop: the input). */
  fixedLayer?(ctx: CallContext): string;
  /** Throws a TslabCamError when the method cannot run on this model or layer. */
  check?(ctx: CheckContext): void;
  /**
   * Which smoothing options the method supports (see MethodOptions): eigen — its map can be the
   * first principal component of its per-channel terms; aug — it returns map forms to average.
   */
  smoothing?: { readonly eigen?: boolean; readonly aug?: boolean };
  /** Wraps the engine call (e.g. with guided ReLU gradients). Must call fn synchronously once. */
  scope?<T>(fn: () => T): T;
  /** Batch-level work that needs the model or tensors; one entry per image. Runs inside tf.tidy. */
  batch?(ctx: BatchContext): X[];
  /** The method's own fields of one image's result. */
  result(pass: LayerPass<X>): R;
  /** The identities the method's results satisfy (see verify()). */
  verify?(result: ResultMeta & R, ctx?: VerifyContext): IdentityCheck[];
}

/** Per-image metadata shared by every result. */
function metaFor(model: ExplainableModel, method: string, layer: string, out: EngineOutput<tf.Tensor4D | null>, input: Float32Array, inputShape: readonly number[], i: number, target?: Target): ResultMeta {
  const c = out.classIndices[i];
  // Class names come with the built-in layers models; a graph model carries none.
  const names = model instanceof tf.LayersModel ? modelMetaOf(model)?.classNames : undefined;
  return {
    method,
    classIndex: c,
    ...(names && names[c] !== undefined ? { className: names[c] } : {}),
    ...(target ? { target: target.label } : {}),
    layer,
    backend: tf.getBackend(),
    scoreKind: out.scoreKind,
    input: sliceBatch(input, inputShape, i),
  };
}

/**
 * Throws unless `model` is something the methods explain: a tf.LayersModel or a tf.GraphModel
 * (anything else gets assertLayersModel's NOT_A_MODEL / second-engine errors).
 */
export function assertExplainModel(model: unknown): asserts model is ExplainableModel {
  if (model instanceof tf.GraphModel) return;
  assertLayersModel(model);
}

/** Single-image entry points take one image: (H, W, C) or (1, H, W, C). */
function assertSingle(batch: tf.Tensor4D, fn: string): void {
  if (batch.shape[0] !== 1) {
    throw new TslabCamError('BAD_IMAGE', `${fn}() explains one image, got a batch of ${batch.shape[0]}.`,
      `Use explain(model, images, {method: '${fn}'}) for a batch: it runs one pass for all images and returns one result per image.`);
  }
}

/** tf.tidy for code that returns plain data: every tensor made inside is disposed. */
export function tidyData<T>(fn: () => T): T {
  let out: { value: T } | null = null;
  tf.tidy(() => {
    out = { value: fn() };
  });
  return (out as unknown as { value: T }).value;
}

type AnyDef = LayerMethodDef<object, unknown>;

/** eigenSmooth / augSmooth: booleans, and only for methods that support them. */
function checkSmoothing(def: AnyDef, options: MethodOptions): void {
  for (const [key, kind] of [['eigenSmooth', 'eigen'], ['augSmooth', 'aug']] as const) {
    const v = options[key];
    if (v !== undefined && typeof v !== 'boolean') {
      throw new TslabCamError('BAD_OPTION', `${key} must be true or false, got ${String(v)}.`, `Pass {${key}: true} or leave it out.`);
    }
    if (v && !def.smoothing?.[kind]) {
      throw new TslabCamError('BAD_OPTION', `${def.label} does not support ${key}: ${kind === 'eigen' ? 'it has no per-channel terms to project' : 'it does not produce a map to average'}.`,
        `Leave ${key} out for ${def.name}, or use a CAM-family method such as gradCam.`);
    }
  }
}

/** The class choice or the target function a call explains (target: 3 is classIndex: 3). */
export function targetOf(options: MethodOptions): { classIndex?: MethodOptions['classIndex']; target?: Target } {
  const t = options.target;
  if (t === undefined) return { classIndex: options.classIndex };
  if (options.classIndex !== undefined) {
    throw new TslabCamError('BAD_OPTION', 'Both classIndex and target were given; a call explains one of them.', 'Keep one: classIndex for a class, target for anything else.');
  }
  if (typeof t === 'number' || Array.isArray(t)) return { classIndex: t as number | readonly number[] };
  return { target: asTarget(t) };
}

function layerFor(def: AnyDef, ctx: CallContext, options: MethodOptions): string | number | undefined {
  return def.fixedLayer?.(ctx) ?? options.layer ?? def.defaultLayer?.(ctx);
}

function callContext(model: ExplainableModel): CallContext {
  const memo = new Map<string, unknown>();
  return {
    model,
    once: <T>(key: string, fn: () => T): T => {
      if (!memo.has(key)) memo.set(key, fn());
      return memo.get(key) as T;
    },
  };
}

/**
 * Runs several methods that share one layer from ONE engine pass (gradients when any needs
 * them) and returns each method's results, one per image, in the order of `defs`.
 * `single` names the single-image entry point when the caller must pass exactly one image.
 */
export function runLayerMethods(defs: readonly AnyDef[], model: ExplainableModel, image: tf.Tensor, options: MethodOptions = {}, single?: string): Array<Array<ResultMeta & object>> {
  // A kernel interrupt terminates synchronous cell code without running finally blocks:
  // withRestore then puts tfjs's scopes back and disposes what the pass had made.
  return withRestore(() => undefined, () => runLayerMethodsNow(defs, model, image, options, single));
}

function runLayerMethodsNow(defs: readonly AnyDef[], model: ExplainableModel, image: tf.Tensor, options: MethodOptions, single?: string): Array<Array<ResultMeta & object>> {
  assertExplainModel(model);
  const call = callContext(model);
  for (const d of defs) checkSmoothing(d, options);
  if (options.augSmooth) {
    return augSmoothed(model, image, options, (m, x, o) => runLayerMethods(defs, m, x, o) as unknown as MapResult[][],
      single ? (b) => assertSingle(b, single) : undefined);
  }
  const scopes = new Set(defs.map((d) => d.scope));
  const spec = new Set(defs.map((d) => layerFor(d, call, options)));
  if (scopes.size > 1 || spec.size > 1) throw new Error('runLayerMethods: the methods of one pass must share a layer and a scope');
  const layer = resolveLayer(model, [...spec][0]);
  const { classIndex, target } = targetOf(options);
  for (const d of defs) d.check?.({ ...call, layer, options });
  const batch = toBatch(model, image);
  try {
    if (single) assertSingle(batch, single);
    const gradients = defs.some((d) => d.needs === 'gradients' || d.needs === 'input-gradients');
    const engineOptions = { layer, classIndex, scores: options.scores, ...(target ? { target: target.fn, outputIndex: target.outputIndex } : {}) };
    const pass = () => (gradients ? runEngine(model, batch, engineOptions) : runEngine(model, batch, { ...engineOptions, gradients: false }));
    const scope = defs[0]?.scope;
    const out: EngineOutput<tf.Tensor4D | null> = scope ? scope(pass) : pass();
    try {
      const extras = defs.map((d) => (d.batch ? tidyData(() => d.batch!({ ...call, images: batch, layer, pass: out, options })) : null));
      const f = out.f.dataSync() as Float32Array;
      const grads = out.grads ? out.grads.dataSync() as Float32Array : null;
      const scores = out.scores.dataSync() as Float32Array;
      const values = out.targetValues ? out.targetValues.dataSync() as Float32Array : null;
      const input = batch.dataSync() as Float32Array;
      const [n, h, w, K] = out.f.shape;
      const numClasses = out.scores.shape[1];
      return defs.map((def, m) => Array.from({ length: n }, (_, i) => {
        const imageScores = scores.slice(i * numClasses, (i + 1) * numClasses);
        const pass: LayerPass<unknown> = {
          f: sliceBatch(f, out.f.shape, i), grads: grads ? sliceBatch(grads, out.f.shape, i) : null,
          h, w, K, Z: h * w, classIndex: out.classIndices[i], S: values ? values[i] : imageScores[out.classIndices[i]], scores: imageScores,
          inputSize: [batch.shape[1], batch.shape[2]], extra: extras[m]?.[i], options,
        };
        return { ...metaFor(model, def.name, layer.name, out, input, batch.shape, i, target), ...def.result(pass) };
      }));
    } finally {
      out.dispose();
    }
  } finally {
    batch.dispose();
  }
}

/** A layer method made runnable: registered, with its batch and single-image entry points. */
export interface LayerMethod<R extends object> extends RegisteredMethod<ResultMeta & R & ExplainResult> {
  readonly def: LayerMethodDef<R, unknown>;
  /** One result per image of a batch (N, H, W, C) or of one image. */
  batch(model: ExplainableModel, images: tf.Tensor, options?: MethodOptions): Array<ResultMeta & R>;
  /** The result for one image (H, W, C) or (1, H, W, C). */
  single(model: ExplainableModel, image: tf.Tensor, options?: MethodOptions): ResultMeta & R;
}

/** Registers a layer method and returns it with its entry points. */
export function defineLayerMethod<R extends object, X = undefined>(def: LayerMethodDef<R, X>): LayerMethod<R> {
  const d = def as unknown as AnyDef;
  const batch = (model: ExplainableModel, images: tf.Tensor, options: MethodOptions = {}) =>
    runLayerMethods([d], model, images, options)[0] as Array<ResultMeta & R>;
  const method: LayerMethod<R> = {
    name: def.name, label: def.label, latex: def.latex, paper: def.paper, needs: def.needs, def: d as LayerMethodDef<R, unknown>,
    batch,
    single: (model, image, options = {}) => runLayerMethods([d], model, image, options, def.name)[0][0] as ResultMeta & R,
    explainBatch: batch as LayerMethod<R>['explainBatch'],
    ...(def.verify ? { verify: def.verify as LayerMethod<R>['verify'] } : {}),
  };
  registerMethod(method);
  return method;
}

/**
 * The model as a tf.LayersModel, for methods that re-run parts of it layer by layer (Score-CAM's
 * masked passes, Ablation-CAM's upper half, FullGrad's bias gradients); a GRAPH_MODEL error
 * naming the method and what works instead otherwise.
 */
export function layersOnly(model: ExplainableModel, method: string): tf.LayersModel {
  if (model instanceof tf.GraphModel) {
    throw new TslabCamError('GRAPH_MODEL', `${method} re-runs parts of the model layer by layer, and a tf.GraphModel (a frozen graph) has nodes, not Keras layers.`,
      `Use a gradient method (gradCam, gradCamPlusPlus, hiResCam, layerCam, …) or eigenCam on the graph model, or load the layers-format model for ${method}.`);
  }
  return model;
}
