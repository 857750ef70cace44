import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { MethodOptions } from './context';
import { camBatch, gapBatch } from './cam';
import { gradCamBatch } from './gradcam';
import { guidedBackpropBatch, guidedGradCamBatch } from './guided';
import { CamResult, GapResult, GradCamResult, GuidedBackpropResult, GuidedGradCamResult, MethodName } from './types';

export interface ExplainOptions extends MethodOptions {
  /** Which quantity to compute (default 'gradCam'). */
  readonly method?: MethodName;
}

interface ResultOf {
  gap: GapResult;
  cam: CamResult;
  gradCam: GradCamResult;
  guidedBackprop: GuidedBackpropResult;
  guidedGradCam: GuidedGradCamResult;
}

export const METHODS: readonly MethodName[] = ['gap', 'cam', 'gradCam', 'guidedBackprop', 'guidedGradCam'];

/**
 * One entry point for every method, for one image or a batch (N, H, W, C): one engine pass per
 * batch (guided Grad-CAM: two), one plain-data result per image. classIndex may be one class
 * for all, one per image, or 'top1' (default).
 */
export function explain<M extends MethodName = 'gradCam'>(model: tf.LayersModel, images: tf.Tensor, options: ExplainOptions & { method?: M } = {}): Array<ResultOf[M]> {
  const method = options.method ?? 'gradCam';
  switch (method) {
    case 'gap': return gapBatch(model, images, options) as Array<ResultOf[M]>;
    case 'cam': return camBatch(model, images, options) as Array<ResultOf[M]>;
    case 'gradCam': return gradCamBatch(model, images, options) as Array<ResultOf[M]>;
    case 'guidedBackprop': return guidedBackpropBatch(model, images, options) as Array<ResultOf[M]>;
    case 'guidedGradCam': return guidedGradCamBatch(model, images, options) as Array<ResultOf[M]>;
    default:
      throw new TslabCamError('BAD_OPTION', `Unknown method '${String(method)}'.`, `Use one of ${METHODS.join(', ')}.`);
  }
}
