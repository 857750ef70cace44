import type * as tf from '@tensorflow/tfjs';
import { loadLayersModel, modelFileIOHandler, saveModel } from '../model/load';

/**
 * Writing and reading a tfjs layers model as model.json + weights.bin on disk, for the built-in
 * models. These names are kept for scripts/train.ts and the data tests; the work is done by
 * src/model/load.ts (one validated implementation of model IO instead of two).
 */

export const WEIGHTS_FILE = 'weights.bin';

/** Save `model` into `dir` (created if needed) as model.json + weights.bin; returns the bytes written. */
export async function saveModelFiles(model: tf.LayersModel, dir: string): Promise<{ modelJson: string; bytes: number }> {
  // One weights file whatever the size (the built-ins are small), and no metadata file: the
  // training script writes tslab-cam.json itself.
  const saved = await saveModel(model, dir, { shardBytes: Number.MAX_SAFE_INTEGER, meta: null });
  return { modelJson: saved.modelJson, bytes: saved.modelJsonBytes + saved.weightBytes };
}

/** An IOHandler that reads model.json and the weight files it names from the local disk (validated). */
export function fileIOHandler(modelJsonPath: string): tf.io.IOHandler {
  return modelFileIOHandler(modelJsonPath);
}

/** Load a layers model from a model.json path on disk (metadata beside it is attached). */
export async function loadModelFiles(modelJsonPath: string): Promise<tf.LayersModel> {
  return loadLayersModel(modelJsonPath);
}
