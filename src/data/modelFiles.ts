import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/**
 * Writing and reading a tfjs layers model as model.json + weights.bin on disk. tfjs's own
 * file:// handler lives in tfjs-node, which cannot be installed offline, so these are small
 * IOHandlers over node's fs.
 */

export const WEIGHTS_FILE = 'weights.bin';

/** Save `model` into `dir` (created if needed) as model.json + weights.bin; returns the bytes written. */
export async function saveModelFiles(model: tf.LayersModel, dir: string): Promise<{ modelJson: string; bytes: number }> {
  fs.mkdirSync(dir, { recursive: true });
  const modelJson = path.join(dir, 'model.json');
  let bytes = 0;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const weightData = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.concatenateArrayBuffers(
      Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]);
    const json = {
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
      convertedBy: null,
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
    };
    const text = JSON.stringify(json);
    fs.writeFileSync(modelJson, text);
    fs.writeFileSync(path.join(dir, WEIGHTS_FILE), Buffer.from(weightData));
    bytes = text.length + weightData.byteLength;
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  }));
  return { modelJson, bytes };
}

interface ModelJsonFile {
  modelTopology: tf.io.ModelArtifacts['modelTopology'];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  weightsManifest: tf.io.WeightsManifestConfig;
}

/** An IOHandler that reads model.json and the weight files it names from the local disk. */
export function fileIOHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    load: async (): Promise<tf.io.ModelArtifacts> => {
      const json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8')) as ModelJsonFile;
      const dir = path.dirname(modelJsonPath);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const b = fs.readFileSync(path.join(dir, p));
          buffers.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
        }
      }
      return {
        modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined, weightSpecs: specs, weightData: tf.io.concatenateArrayBuffers(buffers),
      };
    },
  };
}

/** Load a layers model from a model.json path on disk. */
export async function loadModelFiles(modelJsonPath: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileIOHandler(modelJsonPath));
}
