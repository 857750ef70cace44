import * as tf from '@tensorflow/tfjs';
import { ExplainableModel, MethodOptions, MethodOptionsOf, MethodResults, methodOf } from './registry';
import type { ExplainResult } from './types';
import './methods';

export interface ExplainOptions extends MethodOptions {
  /** Which registered method to run (default 'gradCam'); see methodNames(). */
  readonly method?: string;
}

/** The result type of method M: its registered type, or any explain result for a method added at run time. */
export type ResultOf<M extends string> = M extends keyof MethodResults ? MethodResults[M] : ExplainResult;

/** The options method M takes: its own (e.g. layerCam's layers) besides the common ones. */
export type OptionsOf<M extends string> = M extends keyof MethodOptionsOf ? MethodOptionsOf[M] : MethodOptions;

/**
 * One entry point for every registered method, for one image or a batch (N, H, W, C): one engine
 * pass per batch (guided Grad-CAM: two), one plain-data result per image. classIndex may be one
 * class for all, one per image, or 'top1' (default). An unknown method is a BAD_OPTION error that
 * lists the registered ones.
 */
export function explain<M extends string = 'gradCam'>(model: ExplainableModel, images: tf.Tensor, options?: ExplainOptions & OptionsOf<M> & { readonly method?: M }): Array<ResultOf<M>> {
  return methodOf(options?.method ?? 'gradCam').explainBatch(model, images, options ?? {}) as Array<ResultOf<M>>;
}
