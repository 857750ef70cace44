import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { modelMetaOf } from '../model/builtin';
import { EngineOutput } from '../model/engine';
import { MethodName, NDArray, ResultMeta } from './types';
import { sliceBatch } from './maps';

/** Options every method takes. */
export interface MethodOptions {
  /** Target layer (name, "outer/inner" path or index); default: the last spatial feature map. */
  readonly layer?: string | number;
  /** Class c: one for all images, one per image, or 'top1' (default). */
  readonly classIndex?: number | readonly number[] | 'top1';
  /** 'logits' (default, the article's S_c before softmax) or 'probabilities'. */
  readonly scores?: 'logits' | 'probabilities';
}

/** The engine's tensors read once into plain arrays, for building per-image results. */
export interface EngineData {
  readonly f: Float32Array;
  readonly fShape: readonly number[];
  readonly grads: Float32Array;
  readonly scores: Float32Array;
  readonly numClasses: number;
  readonly input: Float32Array;
  readonly inputShape: readonly number[];
  readonly classIndices: readonly number[];
  readonly layer: string;
  readonly scoreKind: 'logits' | 'probabilities';
}

export function readEngine(out: EngineOutput, batch: tf.Tensor4D): EngineData {
  return {
    f: out.f.dataSync() as Float32Array,
    fShape: out.f.shape,
    grads: out.grads.dataSync() as Float32Array,
    scores: out.scores.dataSync() as Float32Array,
    numClasses: out.scores.shape[1],
    input: batch.dataSync() as Float32Array,
    inputShape: batch.shape,
    classIndices: out.classIndices,
    layer: out.layer.name,
    scoreKind: out.scoreKind,
  };
}

/** Per-image metadata shared by every result. */
export function metaFor<M extends MethodName>(model: tf.LayersModel, d: EngineData, i: number, method: M): ResultMeta & { readonly method: M } {
  const c = d.classIndices[i];
  const names = modelMetaOf(model)?.classNames;
  return {
    method,
    classIndex: c,
    ...(names && names[c] !== undefined ? { className: names[c] } : {}),
    layer: d.layer,
    backend: tf.getBackend(),
    scoreKind: d.scoreKind,
    input: sliceBatch(d.input, d.inputShape, i),
  };
}

export function scoresOf(d: EngineData, i: number): Float32Array {
  return d.scores.slice(i * d.numClasses, (i + 1) * d.numClasses);
}

export function inputSize(d: EngineData): [number, number] {
  return [d.inputShape[1], d.inputShape[2]];
}

export function fOf(d: EngineData, i: number): NDArray {
  return sliceBatch(d.f, d.fShape, i);
}

/** Single-image entry points take one image: (H, W, C) or (1, H, W, C). */
export function assertSingle(batch: tf.Tensor4D, fn: string): void {
  if (batch.shape[0] !== 1) {
    batch.dispose();
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
