import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { GraphRun, ScoreKind, describeScoreHead, runGraph, runUntil } from './graph';
import { LayerInfo, assertLayersModel, resolveLayer } from './inspect';
import { withLeanGradients } from './patches/gradients';
import { withActivationGradientsOnly } from './patches/kernels';

/** Which class c to explain for each image. */
export type ClassChoice = number | readonly number[] | 'top1';

export interface EngineOptions {
  /**
   * Target layer: name, "outer/inner" path or index; default: the last spatial feature map. A
   * LayerInfo already resolved for this model is used as it is (the runner resolves it once).
   */
  readonly layer?: string | number | LayerInfo;
  /** One class for all images, one per image, or each image's top-1 prediction (default). */
  readonly classIndex?: ClassChoice;
  /** 'logits' (default): S_c before softmax/sigmoid, as the article defines it. */
  readonly scores?: ScoreKind;
  /** Which model output holds the class scores (default 0). */
  readonly outputIndex?: number;
  /**
   * false: one forward pass and no backward pass (grads is null), for methods that need only f
   * and the scores (CAM, GAP, Eigen-CAM, Score-CAM). Default true.
   */
  readonly gradients?: boolean;
}

/**
 * One forward + backward pass. Holds tensors: call dispose() (explain-layer code does).
 * f and grads are (N, h, w, K); scores is (N, classes).
 */
export interface EngineOutput<G extends tf.Tensor4D | null = tf.Tensor4D> {
  /** f_k(x,y) of the target layer for each image: (N, h, w, K). */
  readonly f: tf.Tensor4D;
  /** ∂S_c/∂f_k(x,y) for each image's own class c: (N, h, w, K); null in the no-gradient mode. */
  readonly grads: G;
  /** All class scores S (pre-activation unless scoreKind is 'probabilities'): (N, classes). */
  readonly scores: tf.Tensor2D;
  /** c for each image. */
  readonly classIndices: number[];
  readonly layer: LayerInfo;
  readonly scoreKind: ScoreKind;
  /** Where the scores were read, e.g. "the input of the softmax in layer 'predictions'". */
  readonly scoreSource: string;
  dispose(): void;
}

/** Validates one class index against the number of classes. */
export function checkClassIndex(c: unknown, numClasses: number, where: string): number {
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c >= numClasses) {
    throw new TslabCamError('BAD_CLASS', `${where} is ${String(c)}, but the model has ${numClasses} classes (0 … ${numClasses - 1}).`,
      `Pass an integer class index from 0 to ${numClasses - 1}, or omit it to explain the top-1 prediction.`);
  }
  return c;
}

/** Resolves the class choice for each of n images given their scores (read synchronously). */
export function chooseClasses(choice: ClassChoice | undefined, scores: tf.Tensor2D): number[] {
  const [n, numClasses] = scores.shape;
  if (choice === undefined || choice === 'top1') {
    return Array.from(tf.tidy(() => tf.argMax(scores, 1)).dataSync() as Int32Array);
  }
  if (typeof choice === 'number') {
    checkClassIndex(choice, numClasses, 'classIndex');
    return new Array<number>(n).fill(choice);
  }
  if (Array.isArray(choice)) {
    if (choice.length !== n) {
      throw new TslabCamError('BAD_CLASS', `classIndex lists ${choice.length} classes for ${n} images.`,
        'Give exactly one class per image, a single number for all, or omit it.');
    }
    return choice.map((c, i) => checkClassIndex(c, numClasses, `classIndex[${i}]`));
  }
  throw new TslabCamError('BAD_CLASS', `classIndex must be a number, an array of numbers or 'top1', got ${String(choice)}.`,
    'Pass e.g. {classIndex: 3}, {classIndex: [3, 7]} or omit it.');
}

/** Disposes what a failed gradient pass left on the engine's tape (tfjs keeps it on errors). */
export function clearTape(): void {
  const engine = tf.engine() as unknown as { state: { activeTape: Array<{ saved?: tf.Tensor[] }> | null; gradientDepth: number } };
  const tape = engine.state.activeTape;
  if (tape && engine.state.gradientDepth === 0) {
    for (const node of tape) for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
    engine.state.activeTape = null;
  }
}

/** Reads a finished forward pass, or throws the engine's errors for a layer or score shape it cannot use. */
function checkedRun(r: GraphRun, layer: LayerInfo): { scores: tf.Tensor2D; captured: tf.Tensor } {
  if (!r.captured) {
    throw new TslabCamError('UNKNOWN_LAYER', `Layer '${layer.name}' is not on the path from the input to the scores.`,
      'Choose a layer that the prediction depends on.');
  }
  if (r.scores.rank !== 2) {
    throw new TslabCamError('UNSUPPORTED', `The model's scores have shape [${r.scores.shape}], expected (N, classes).`,
      'Explain a classifier whose output is (batch, classes), or pick the output with outputIndex.');
  }
  return { scores: r.scores as tf.Tensor2D, captured: r.captured };
}

/** The no-gradient mode: one forward pass keeping f and the scores. */
function forwardOnly(model: tf.LayersModel, images: tf.Tensor4D, layer: LayerInfo, scoreKind: ScoreKind, scoreSource: string, options: EngineOptions): EngineOutput<null> {
  let classIndices: number[] = [];
  const [f, scores] = tf.tidy(() => {
    const r = checkedRun(runGraph(model, images, { capture: layer.path, scoreKind, outputIndex: options.outputIndex }), layer);
    classIndices = chooseClasses(options.classIndex, r.scores);
    // Capturing an input layer captures the caller's own tensor: hand back a copy we may dispose.
    return [r.captured === images ? images.clone() : r.captured, r.scores] as [tf.Tensor4D, tf.Tensor2D];
  });
  return { f, grads: null, scores, classIndices, layer, scoreKind, scoreSource, dispose: () => tf.dispose([f, scores]) };
}

/**
 * The engine: for a batch of images (N, H, W, C) and one class c per image, one forward pass
 * records the target layer's activation f and all scores, and one backward pass gives
 * ∂S_c/∂f_k(x,y) for every image (images are independent in inference mode, so the gradient of
 * Σ_n S_{c_n}(n) is each image's own gradient). Works at any layer, also inside residual blocks
 * and nested sub-models, because the graph is executed node by node. Weight gradients are never
 * computed (withActivationGradientsOnly).
 */
export function runEngine(model: tf.LayersModel, images: tf.Tensor4D, options: EngineOptions & { readonly gradients: false }): EngineOutput<null>;
export function runEngine(model: tf.LayersModel, images: tf.Tensor4D, options?: EngineOptions): EngineOutput;
export function runEngine(model: tf.LayersModel, images: tf.Tensor4D, options: EngineOptions = {}): EngineOutput<tf.Tensor4D | null> {
  assertLayersModel(model);
  const layer = typeof options.layer === 'object' && options.layer !== null ? options.layer : resolveLayer(model, options.layer);
  const scoreKind: ScoreKind = options.scores ?? 'logits';
  if (scoreKind !== 'logits' && scoreKind !== 'probabilities') {
    throw new TslabCamError('BAD_OPTION', `scores must be 'logits' or 'probabilities', got ${String(scoreKind)}.`, "Use scores: 'logits' (the article's S_c) or 'probabilities'.");
  }
  const scoreSource = scoreKind === 'logits' ? describeScoreHead(model, options.outputIndex ?? 0) : 'the model output';
  if (options.gradients === false) return forwardOnly(model, images, layer, scoreKind, scoreSource, options);
  const placeholder = tf.scalar(0);
  const xs: tf.Tensor[] = [placeholder];
  let run: GraphRun | null = null;
  let classIndices: number[] = [];
  // Everything up to the target layer runs before the tape starts: no gradient is wanted there,
  // and recording it cost as much again as running it (every op saves its inputs for backward).
  let known: Map<number, tf.Tensor> | undefined;
  const early = layer.path.length === 1 ? tf.tidy(() => {
    known = runUntil(model, images, layer.path[0]) ?? undefined;
    return known ? [...known.values()] : [];
  }) : [];
  const releaseEarly = (keep: tf.Tensor | null): void => {
    for (const t of new Set(early)) if (t !== images && t !== keep && !t.isDisposed) t.dispose();
  };
  try {
    const { value, grads } = withActivationGradientsOnly(() => withLeanGradients(() => tf.engine().gradients(() => {
      const r = checkedRun(runGraph(model, images, { capture: layer.path, scoreKind, outputIndex: options.outputIndex, known }), layer);
      run = { scores: tf.keep(r.scores), captured: tf.keep(r.captured) };
      xs[0] = r.captured;
      classIndices = chooseClasses(options.classIndex, r.scores);
      const mask = tf.oneHot(tf.tensor1d(classIndices, 'int32'), r.scores.shape[1]);
      return tf.sum(tf.mul(r.scores, mask)) as tf.Scalar;
    }, xs)));
    value.dispose();
    const g = grads[0] as tf.Tensor4D;
    const done = run as GraphRun | null;
    if (!done || !done.captured) throw new Error('engine: the forward pass did not run');
    // Capturing an input layer captures the caller's own tensor: hand back a copy we may dispose.
    const f = (done.captured === images ? images.clone() : done.captured) as tf.Tensor4D;
    releaseEarly(f);
    const scores = done.scores as tf.Tensor2D;
    return {
      f, grads: g, scores, classIndices, layer, scoreKind, scoreSource,
      dispose: () => tf.dispose([f, g, scores]),
    };
  } catch (e) {
    const partial = run as GraphRun | null;
    if (partial) tf.dispose([partial.scores, ...(partial.captured && partial.captured !== images ? [partial.captured] : [])]);
    releaseEarly(null);
    clearTape();
    throw e;
  } finally {
    placeholder.dispose();
  }
}
