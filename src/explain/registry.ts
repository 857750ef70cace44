/**
 * The list of explanation methods. Each method file registers itself here when it loads; explain(),
 * the labels in figures, the walkthrough's equations and verify() read this list, so adding a
 * method is adding one file. No tfjs here: the render layer reads labels without loading tfjs.
 */
import { TslabCamError } from '../errors';
import type { ExplainResult, IdentityCheck } from './types';
// What the methods explain: a layers model or a tf.GraphModel (nodes play the role of layers).
// Type-only: the registry loads no tfjs. Methods that need Keras weights (CAM) refuse a graph.
import type { ExplainableModel } from '../model/load';

export type { ExplainableModel };

/**
 * What a method needs from the model: gradients at the target layer, forward passes only
 * (CAM, Eigen-CAM, Score-CAM), gradients at the input (guided backprop), or nothing.
 */
export type MethodNeeds = 'gradients' | 'forward' | 'input-gradients' | 'none';

/** What every method says about itself: for labels, tutorials, docs and error messages. */
export interface MethodInfo {
  /** The key results carry in `method` and explain() takes in {method}. */
  readonly name: string;
  /** Human label, e.g. "Grad-CAM". */
  readonly label: string;
  /** The method's defining equation in LaTeX, with the article's symbols. */
  readonly latex: string;
  /** The paper, e.g. "Selvaraju et al., Grad-CAM, ICCV 2017 (arXiv:1610.02391)". */
  readonly paper: string;
  readonly needs: MethodNeeds;
}

/** Options every method takes (some methods add their own). */
export interface MethodOptions {
  /** Target layer (name, "outer/inner" path or index); default: the last spatial feature map. */
  readonly layer?: string | number;
  /** Class c: one for all images, one per image, or 'top1' (default). */
  readonly classIndex?: number | readonly number[] | 'top1';
  /** 'logits' (default, the article's S_c before softmax) or 'probabilities'. */
  readonly scores?: 'logits' | 'probabilities';
  /**
   * What to explain instead of a class score: a class index (the same as classIndex), or a function
   * from the model's output (N, …) to one value per image (N), or a Target from `targets`
   * (binary, regression, output of a multi-output model, segmentation region, similarity).
   */
  readonly target?: number | readonly number[] | import('../model/engine').TargetFn | import('../model/targets').Target;
  /**
   * Eigen smoothing (pytorch-grad-cam's eigen_smooth): the map is the projection of the weighted
   * activations α_k f_k (or the method's element-wise products) on their first principal component
   * instead of their sum. Channel-weight and element-wise methods only.
   */
  readonly eigenSmooth?: boolean;
  /**
   * Test-time augmentation smoothing (pytorch-grad-cam's aug_smooth): the map is the mean of the
   * normalised maps of 6 copies, horizontal flip × intensity ×{1, 0.9, 1.1}, flipped back; one
   * engine pass over all copies.
   */
  readonly augSmooth?: boolean;
}

/** What verify() needs beyond a result for the identities that re-run the model. */
export interface VerifyContext {
  readonly model: ExplainableModel;
  readonly image: import('@tensorflow/tfjs').Tensor;
}

/** A method as the registry holds it: its description and how to run it on a batch. */
export interface RegisteredMethod<R extends ExplainResult = ExplainResult> extends MethodInfo {
  /** One result per image of `images` ((H, W, C) or (N, H, W, C)). */
  explainBatch(model: ExplainableModel, images: import('@tensorflow/tfjs').Tensor, options?: MethodOptions): R[];
  /** The article's identities this method's results satisfy, checked on their numbers. */
  verify?(result: R, ctx?: VerifyContext): IdentityCheck[];
}

/**
 * Result type of each registered method by name, for explain()'s return type. Each method file
 * adds its own entry by declaration merging:
 * `declare module './registry' { interface MethodResults { gradCam: GradCamResult } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface MethodResults {}

/**
 * A method's own options beyond MethodOptions, by name, for explain()'s options type. A method file
 * adds its entry by declaration merging, like MethodResults: `interface MethodOptionsOf { layerCam: LayerCamOptions }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface MethodOptionsOf {}

const methods = new Map<string, RegisteredMethod>();

/** The registered names, kept in step with the registry (the same array, filled as methods register). */
export const METHODS: readonly string[] = [];

/** Adds a method (a later registration under the same name replaces the earlier one). */
export function registerMethod<R extends ExplainResult>(method: RegisteredMethod<R>): RegisteredMethod<R> {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(method.name)) {
    throw new TslabCamError('BAD_OPTION', `A method name must be a word of letters, digits, '_' or '-', got '${method.name}'.`,
      "Name it like 'gradCam' or 'my-method'.");
  }
  if (!methods.has(method.name)) (METHODS as string[]).push(method.name);
  methods.set(method.name, method as unknown as RegisteredMethod);
  return method;
}

/** Every registered method's name, in registration order. */
export function methodNames(): string[] {
  return [...methods.keys()];
}

/** The registered method called `name`, or a BAD_OPTION error listing the known names. */
export function methodOf(name: unknown): RegisteredMethod {
  const m = typeof name === 'string' ? methods.get(name) : undefined;
  if (!m) {
    const shown = typeof name === 'string' ? `'${name}'` : String(name);
    throw new TslabCamError('BAD_OPTION', `Unknown method ${shown}.`, `Use one of ${methodNames().join(', ')}, or register it with registerMethod().`);
  }
  return m;
}

/** The method's label, or its name when it is not registered (e.g. a result read back from disk). */
export function methodLabel(name: string): string {
  return methods.get(name)?.label ?? name;
}

/** The method's description, if registered. */
export function methodInfo(name: string): MethodInfo | undefined {
  return methods.get(name);
}
