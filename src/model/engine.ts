import * as tf from '@tensorflow/tfjs';
import { TslabCamError, showValue } from '../errors';
import { noteBackendInUse } from './backend';
import { GraphRun, ScoreKind, describeScoreHead, runGraph, runUntil } from './graph';
import { forwardGraphModel, runGraphModelEngine } from './graphmodel';
import { LayerInfo, assertLayersModel, resolveLayer } from './inspect';
import { withLeanGradients } from './patches/gradients';
import { withActivationGradientsOnly } from './patches/kernels';

/** Which class c to explain for each image. */
export type ClassChoice = number | readonly number[] | 'top1';

/**
 * What to explain instead of one class score: a function from the model's output (N, …) (logits
 * unless scores is 'probabilities') to one scalar per image, (N). It runs inside the gradient
 * pass, so it must be built from tfjs ops on its argument. Helpers: src/model/targets.ts.
 */
export type TargetFn = (output: tf.Tensor) => tf.Tensor;

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
  /**
   * Explain target(output) per image instead of the class score S_c (classIndex must then be
   * omitted): the gradient is ∂target_n/∂f for each image n. classIndices are then -1.
   */
  readonly target?: TargetFn;
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
  /** c for each image; -1 for each when a target function was explained. */
  readonly classIndices: number[];
  /** target(output) for each image (N), when a target function was explained. */
  readonly targetValues?: tf.Tensor1D;
  readonly layer: LayerInfo;
  readonly scoreKind: ScoreKind;
  /** Where the scores were read, e.g. "the input of the softmax in layer 'predictions'". */
  readonly scoreSource: string;
  dispose(): void;
}

/**
 * Validates one class index against the number of classes. Each way to get it wrong has its own
 * message: a string (quoted, so "7" is not mistaken for 7), a non-integer, a number out of range.
 */
export function checkClassIndex(c: unknown, numClasses: number, where: string): number {
  const range = `from 0 to ${numClasses - 1}`;
  const omit = 'or omit it to explain the top-1 prediction';
  if (typeof c === 'string' && /^\s*\d+\s*$/.test(c)) {
    throw new TslabCamError('BAD_CLASS', `${where} is ${showValue(c)}, not a number.`,
      `Pass the number ${Number(c)} without quotes.`);
  }
  if (typeof c !== 'number') {
    throw new TslabCamError('BAD_CLASS', `${where} is ${showValue(c)}, not a number.`,
      `Pass an integer class index ${range}, ${omit}.`);
  }
  if (!Number.isInteger(c)) {
    throw new TslabCamError('BAD_CLASS', `${where} is ${String(c)}, not an integer.`,
      `Pass a whole class index ${range}${Number.isFinite(c) && c > 0 && c < numClasses ? ` (e.g. ${Math.floor(c)} or ${Math.ceil(c)})` : ''}, ${omit}.`);
  }
  if (c < 0 || c >= numClasses) {
    throw new TslabCamError('BAD_CLASS', `${where} is ${c}, out of range: the model has ${numClasses} classes (0 … ${numClasses - 1}).`,
      `Pass a class index ${range}, ${omit}.`);
  }
  return c;
}

/** Resolves the class choice for each of n images given their scores (read synchronously). */
export function chooseClasses(choice: ClassChoice | undefined, scores: tf.Tensor2D): number[] {
  const [n, numClasses] = scores.shape;
  if (choice === undefined || choice === 'top1') {
    const top = tf.argMax(scores, 1);
    try {
      return Array.from(top.dataSync() as Int32Array);
    } finally {
      top.dispose();
    }
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
  if (typeof choice === 'string') checkClassIndex(choice, numClasses, 'classIndex');
  throw new TslabCamError('BAD_CLASS', `classIndex must be a number, an array of numbers or 'top1', got ${showValue(choice)}.`,
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
function checkedRun(r: GraphRun, layer: LayerInfo, target?: TargetFn): { scores: tf.Tensor2D; captured: tf.Tensor } {
  if (!r.captured) {
    throw new TslabCamError('UNKNOWN_LAYER', `Layer '${layer.name}' is not on the path from the input to the scores.`,
      'Choose a layer that the prediction depends on.');
  }
  if (r.scores.rank !== 2 && !target) {
    throw new TslabCamError('UNSUPPORTED', `The model's scores have shape [${r.scores.shape}], expected (N, classes).`,
      'Explain a classifier whose output is (batch, classes), pick the output with outputIndex, or pass a target function (e.g. targets.segmentation(c, mask)).');
  }
  return { scores: r.scores as tf.Tensor2D, captured: r.captured };
}

/**
 * The scalar per image that the backward pass starts from: S_{c_n} for each image's class (a
 * one-hot mask on the scores), or the caller's target function, checked to give one value per image.
 */
function explainedValues(output: tf.Tensor, classIndices: readonly number[], target?: TargetFn): tf.Tensor1D {
  if (!target) return tf.sum(tf.mul(output, tf.oneHot(tf.tensor1d([...classIndices], 'int32'), output.shape[1] as number)), 1) as tf.Tensor1D;
  const n = output.shape[0];
  const v = target(output) as unknown;
  if (!(v instanceof tf.Tensor) || v.rank !== 1 || v.shape[0] !== n || v.dtype !== 'float32') {
    const got = v instanceof tf.Tensor ? `a ${v.dtype} tensor of shape [${v.shape}]` : String(v);
    throw new TslabCamError('BAD_OPTION', `The target function must return one float32 value per image, shape [${n}], but returned ${got}.`,
      'Reduce the model output to one number per image, e.g. (out) => out.slice([0, 0], [-1, 1]).reshape([-1]), or use a helper from targets.');
  }
  return v as tf.Tensor1D;
}

/** Scores as (N, values) for the results: a classifier's own (N, classes), any other output flattened per image. */
function scoresOf(output: tf.Tensor): tf.Tensor2D {
  return (output.rank === 2 ? output : output.reshape([output.shape[0], -1])) as tf.Tensor2D;
}

/** The no-gradient mode: one forward pass keeping f and the scores. */
function forwardOnly(model: tf.LayersModel, images: tf.Tensor4D, layer: LayerInfo, scoreKind: ScoreKind, scoreSource: string, options: EngineOptions): EngineOutput<null> {
  let classIndices: number[] = [];
  const [f, scores, values] = tf.tidy(() => {
    const r = checkedRun(runGraph(model, images, { capture: layer.path, scoreKind, outputIndex: options.outputIndex }), layer, options.target);
    classIndices = options.target ? new Array<number>(images.shape[0]).fill(-1) : chooseClasses(options.classIndex, r.scores);
    const v = options.target ? explainedValues(r.scores, classIndices, options.target) : null;
    // Capturing an input layer captures the caller's own tensor: hand back a copy we may dispose.
    return [r.captured === images ? images.clone() : r.captured, scoresOf(r.scores), ...(v ? [v] : [])] as [tf.Tensor4D, tf.Tensor2D, tf.Tensor1D?];
  });
  return {
    f, grads: null, scores, classIndices, layer, scoreKind, scoreSource, ...(values ? { targetValues: values } : {}),
    dispose: () => tf.dispose([f, scores, ...(values ? [values] : [])]),
  };
}

/**
 * The engine: for a batch of images (N, H, W, C) and one class c per image, one forward pass
 * records the target layer's activation f and all scores, and one backward pass gives
 * ∂S_c/∂f_k(x,y) for every image (images are independent in inference mode, so the gradient of
 * Σ_n S_{c_n}(n) is each image's own gradient). Works at any layer, also inside residual blocks
 * and nested sub-models, because the graph is executed node by node. Weight gradients are never
 * computed (withActivationGradientsOnly).
 */
export function runEngine(model: tf.LayersModel | tf.GraphModel, images: tf.Tensor4D, options: EngineOptions & { readonly gradients: false }): EngineOutput<null>;
export function runEngine(model: tf.LayersModel | tf.GraphModel, images: tf.Tensor4D, options?: EngineOptions): EngineOutput;
export function runEngine(model: tf.LayersModel | tf.GraphModel, images: tf.Tensor4D, options: EngineOptions = {}): EngineOutput<tf.Tensor4D | null> {
  noteBackendInUse();
  // A frozen graph has nodes instead of layers; graphmodel.ts runs it with the same contract.
  if (model instanceof tf.GraphModel) {
    if (options.target !== undefined) {
      throw new TslabCamError('UNSUPPORTED', 'A target function is not supported on a tf.GraphModel yet: its engine explains class scores.',
        'Pass classIndex for a class score, or explain the layers-format model (tensorflowjs_converter --input_format keras) with the target.');
    }
    if (options.gradients !== false) return runGraphModelEngine(model, images, options);
    const fw = forwardGraphModel(model, images, options);
    return { ...fw, grads: null };
  }
  assertLayersModel(model);
  const layer = typeof options.layer === 'object' && options.layer !== null ? options.layer : resolveLayer(model, options.layer);
  const scoreKind: ScoreKind = options.scores ?? 'logits';
  if (scoreKind !== 'logits' && scoreKind !== 'probabilities') {
    throw new TslabCamError('BAD_OPTION', `scores must be 'logits' or 'probabilities', got ${String(scoreKind)}.`, "Use scores: 'logits' (the article's S_c) or 'probabilities'.");
  }
  const scoreSource = scoreKind === 'logits' ? describeScoreHead(model, options.outputIndex ?? 0) : 'the model output';
  if (options.target !== undefined && typeof options.target !== 'function') {
    throw new TslabCamError('BAD_OPTION', `target must be a function from the model output to one value per image, got ${String(options.target)}.`,
      'Pass e.g. target: targets.regression(0), or a class index as classIndex.');
  }
  if (options.target && options.classIndex !== undefined) {
    throw new TslabCamError('BAD_OPTION', 'Both classIndex and a target function were given; a pass explains one of them.', 'Drop classIndex, or drop target.');
  }
  if (options.gradients === false) return forwardOnly(model, images, layer, scoreKind, scoreSource, options);
  const placeholder = tf.scalar(0);
  const xs: tf.Tensor[] = [placeholder];
  let run: GraphRun | null = null;
  let values: tf.Tensor1D | null = null;
  // tfjs leaves the summed value alive when it finds no path from f to it (a target that ignores f).
  let total: tf.Tensor | null = null;
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
      const r = checkedRun(runGraph(model, images, { capture: layer.path, scoreKind, outputIndex: options.outputIndex, known }), layer, options.target);
      run = { scores: tf.keep(r.scores), captured: tf.keep(r.captured) };
      xs[0] = r.captured;
      classIndices = options.target ? new Array<number>(images.shape[0]).fill(-1) : chooseClasses(options.classIndex, r.scores);
      const v = explainedValues(r.scores, classIndices, options.target);
      if (options.target) values = tf.keep(v);
      total = tf.sum(v);
      return total as tf.Scalar;
    }, xs)));
    value.dispose();
    const g = grads[0] as tf.Tensor4D;
    const done = run as GraphRun | null;
    if (!done || !done.captured) throw new Error('engine: the forward pass did not run');
    // Capturing an input layer captures the caller's own tensor: hand back a copy we may dispose.
    const f = (done.captured === images ? images.clone() : done.captured) as tf.Tensor4D;
    releaseEarly(f);
    const scores = scoresOf(done.scores);
    if (scores !== done.scores) done.scores.dispose();
    const tv = values as tf.Tensor1D | null;
    return {
      f, grads: g, scores, classIndices, layer, scoreKind, scoreSource, ...(tv ? { targetValues: tv } : {}),
      dispose: () => tf.dispose([f, g, scores, ...(tv ? [tv] : [])]),
    };
  } catch (e) {
    const partial = run as GraphRun | null;
    if (partial) tf.dispose([partial.scores, ...(partial.captured && partial.captured !== images ? [partial.captured] : [])]);
    if (values) (values as tf.Tensor).dispose();
    if (total && !(total as tf.Tensor).isDisposed) (total as tf.Tensor).dispose();
    releaseEarly(null);
    clearTape();
    if (options.target && e instanceof Error && /Cannot compute gradient of y=f\(x\)/.test(e.message)) {
      throw new TslabCamError('BAD_OPTION', `The target function's value does not depend on layer '${layer.name}', so it has no gradient there.`,
        'Build the target from the model output it receives (e.g. (out) => out.slice([0, 2], [-1, 1]).reshape([-1])), not from new tensors.', { cause: e });
    }
    throw e;
  } finally {
    placeholder.dispose();
  }
}
