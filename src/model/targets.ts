/**
 * What to explain besides "class c's score": each helper gives a Target, a function from the
 * model's output (N, …) to one scalar per image (N), which the engine differentiates in place of
 * S_c. These are the targets users of pytorch-grad-cam ask for (its model_targets.py has the same
 * list); a Target also names itself for figures and says which model output it reads.
 */
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import type { TargetFn } from './engine';

/** A target with its label and the model output it reads. */
export interface Target {
  /** (output (N, …)) → (N): built from tfjs ops, so the engine can differentiate it. */
  readonly fn: TargetFn;
  /** Shown where a class label would be, e.g. "sigmoid: positive class". */
  readonly label: string;
  /** Which model output the function receives (default 0). */
  readonly outputIndex?: number;
}

function badArg(what: string, got: unknown, fix: string): TslabCamError {
  return new TslabCamError('BAD_OPTION', `${what}, got ${typeof got === 'object' && got !== null ? JSON.stringify(got)?.slice(0, 80) : String(got)}.`, fix);
}

function checkIndex(i: unknown, name: string): number {
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0) throw badArg(`${name} must be an integer ≥ 0`, i, `Pass e.g. ${name}: 0.`);
  return i;
}

/** Checks at run time that the output has the size the helper indexes into. */
function requireColumns(out: tf.Tensor, column: number, what: string): tf.Tensor2D {
  const flat = (out.rank === 2 ? out : out.reshape([out.shape[0], -1])) as tf.Tensor2D;
  if (column >= flat.shape[1]) {
    throw new TslabCamError('BAD_OPTION', `${what} ${column} does not exist: the model output has ${flat.shape[1]} value(s) per image (shape [${out.shape}]).`,
      `Use an index from 0 to ${flat.shape[1] - 1}.`);
  }
  return flat;
}

/** Value `column` of each image's (flattened) output: (N). */
function columnOf(out: tf.Tensor, column: number, what: string): tf.Tensor1D {
  const flat = requireColumns(out, column, what);
  return flat.slice([0, column], [-1, 1]).reshape([-1]) as tf.Tensor1D;
}

/** Class c's score, the default target: S_c = output[:, c] (pytorch-grad-cam's ClassifierOutputTarget). */
export function classScore(c: number): Target {
  const k = checkIndex(c, 'class');
  return { fn: (out) => columnOf(out, k, 'class'), label: `class ${k}` };
}

/**
 * A binary classifier with one sigmoid output z (read before the sigmoid, as the article's S):
 * the positive class explains z, the negative class −z, which is the logit of 1 − σ(z)
 * (pytorch-grad-cam's BinaryClassifierOutputTarget multiplies by ±1 the same way).
 */
export function binary(which: 'positive' | 'negative' = 'positive'): Target {
  if (which !== 'positive' && which !== 'negative') throw badArg("binary() takes 'positive' or 'negative'", which, "Use targets.binary('positive') or targets.binary('negative').");
  const sign = which === 'positive' ? 1 : -1;
  return {
    fn: (out) => {
      const z = columnOf(out, 0, 'output');
      if (requireColumns(out, 0, 'output').shape[1] !== 1) {
        throw new TslabCamError('BAD_OPTION', `targets.binary() expects one output per image (a sigmoid unit), but the output has shape [${out.shape}].`,
          'Use targets.classScore(c) for a softmax classifier, or targets.regression(i) to pick one value.');
      }
      return tf.mul(z, sign) as tf.Tensor1D;
    },
    label: `sigmoid: ${which} class`,
  };
}

/** A regression model's output `index` (default 0) as it is: ∂y_index/∂f. */
export function regression(index = 0): Target {
  const k = checkIndex(index, 'index');
  return { fn: (out) => columnOf(out, k, 'regression output'), label: `regression output ${k}` };
}

/** Value `index` (a class, or a regression unit) of model output `outputIndex` of a multi-output model. */
export function output(outputIndex: number, index: number): Target {
  const o = checkIndex(outputIndex, 'outputIndex');
  const k = checkIndex(index, 'index');
  return { fn: (out) => columnOf(out, k, `index into output ${o}:`), label: `output ${o}, value ${k}`, outputIndex: o };
}

/**
 * A segmentation model (output (N, H, W, classes)): class c's scores summed over a region,
 * Σ_{x,y} mask(x,y)·S_c(x,y) (pytorch-grad-cam's SemanticSegmentationTarget). mask is (H, W)
 * with 0/1 (or any weights) in row-major order, at the output's resolution.
 */
export function segmentation(classIndex: number, mask: ArrayLike<number>, shape: readonly [number, number]): Target {
  const c = checkIndex(classIndex, 'classIndex');
  const [H, W] = shape ?? [];
  if (!Number.isInteger(H) || !Number.isInteger(W) || H <= 0 || W <= 0 || !mask || mask.length !== H * W) {
    throw badArg(`segmentation() needs a mask of H·W values and its shape [H, W]`, { length: mask?.length, shape }, 'Pass e.g. targets.segmentation(1, maskArray, [32, 32]) with maskArray.length = 32·32.');
  }
  const weights = Float32Array.from(mask);
  if (!weights.every(Number.isFinite)) throw badArg('the segmentation mask must be finite numbers', 'NaN/Infinity', 'Use 0 and 1 (or finite weights).');
  return {
    fn: (out) => {
      if (out.rank !== 4 || out.shape[1] !== H || out.shape[2] !== W || c >= (out.shape[3] as number)) {
        throw new TslabCamError('BAD_OPTION', `targets.segmentation(${c}, mask, [${H}, ${W}]) needs an output of shape (N, ${H}, ${W}, >${c}), but the model gives [${out.shape}].`,
          'Give the mask at the output resolution and a class the output has.');
      }
      const score = out.slice([0, 0, 0, c], [-1, -1, -1, 1]).reshape([out.shape[0], H * W]);
      return tf.sum(tf.mul(score, tf.tensor2d(weights, [1, H * W])), 1) as tf.Tensor1D;
    },
    label: `class ${c} over a ${Array.from(weights).filter((v) => v !== 0).length}-pixel region`,
  };
}

/**
 * Similarity of each image's embedding e (the model output, flattened) to a reference r: the
 * cosine e·r / (|e| |r|) (pytorch-grad-cam's SimilarityToConceptTarget). Zero vectors give 0.
 */
export function similarity(reference: ArrayLike<number>): Target {
  const ref = Float32Array.from(reference ?? []);
  let norm = 0;
  for (const v of ref) norm += v * v;
  if (ref.length === 0 || !ref.every(Number.isFinite) || !(norm > 0)) {
    throw badArg('similarity() needs a finite, non-zero reference embedding', reference, 'Pass the embedding of a reference image, e.g. Array.from(model.predict(ref).dataSync()).');
  }
  return {
    fn: (out) => {
      const e = (out.rank === 2 ? out : out.reshape([out.shape[0], -1])) as tf.Tensor2D;
      if (e.shape[1] !== ref.length) {
        throw new TslabCamError('BAD_OPTION', `The reference embedding has ${ref.length} values, the model output ${e.shape[1]} per image.`,
          'Compute the reference with the same model (and outputIndex).');
      }
      const r = tf.tensor2d(ref, [1, ref.length]);
      const dot = tf.sum(tf.mul(e, r), 1);
      const len = tf.sqrt(tf.sum(tf.square(e), 1));
      return tf.div(dot, tf.maximum(tf.mul(len, Math.sqrt(norm)), 1e-12)) as tf.Tensor1D;
    },
    label: 'similarity to a reference embedding',
  };
}

/** A plain function or a Target, checked: what the engine needs (the function and its output). */
export function asTarget(t: unknown): Target {
  if (typeof t === 'function') return { fn: t as TargetFn, label: 'custom target' };
  if (t !== null && typeof t === 'object' && typeof (t as Target).fn === 'function') {
    const label = (t as Target).label;
    return { ...(t as Target), label: typeof label === 'string' ? label : 'custom target' };
  }
  throw badArg('target must be a class index, a function (output) => one value per image, or a Target from targets', t,
    'Pass e.g. target: 3, target: targets.binary(\'positive\'), or target: (out) => out.slice([0, 0], [-1, 1]).reshape([-1]).');
}
