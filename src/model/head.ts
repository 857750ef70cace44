import * as tf from '@tensorflow/tfjs';
import { Layer, activationName, inboundNodes, isContainer } from './layers';
import { LayerInfo, layersOf } from './inspect';

/** The GAP → Dense classifier head that CAM reads its weights from. */
export interface GapHead {
  /** The layer whose feature maps the GAP averages (CAM's target layer). */
  readonly featureLayer: LayerInfo;
  readonly gapLayer: LayerInfo;
  readonly denseLayer: LayerInfo;
  /** Layers passed over between GAP and Dense (Dropout, linear Activation). */
  readonly between: readonly string[];
}

interface OutNode { outboundLayer: Layer }
function consumers(layer: Layer): Layer[] {
  return ((layer as unknown as { outboundNodes: OutNode[] }).outboundNodes ?? []).map((n) => n.outboundLayer);
}

const PASS_THROUGH = new Set(['Dropout', 'SpatialDropout1D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout']);

/**
 * Finds GlobalAveragePooling2D → (Dropout / linear Activation)* → Dense at the top level of the
 * model whose Dense output is the model's score output (directly or through softmax/sigmoid).
 * Returns null when the model has no such head, which is exactly when CAM's w_k^c do not exist.
 */
export function findGapHead(model: tf.LayersModel, outputIndex = 0): GapHead | null {
  const infos = layersOf(model);
  const info = (l: Layer): LayerInfo | undefined => infos.find((i) => i.path.length === 1 && i.path[0] === l.name);
  const outLayer = model.outputs[outputIndex].sourceLayer;
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'GlobalAveragePooling2D' || inboundNodes(layer).length !== 1) continue;
    const between: string[] = [];
    let cur = consumers(layer);
    let dense: Layer | null = null;
    while (cur.length === 1) {
      const next = cur[0];
      const cls = next.getClassName();
      if (cls === 'Dense') {
        dense = next;
        break;
      }
      if (!(PASS_THROUGH.has(cls) || (cls === 'Activation' && activationName(next) === 'linear'))) break;
      between.push(next.name);
      cur = consumers(next);
    }
    if (!dense) continue;
    const after = consumers(dense);
    const scoresFromDense = dense === outLayer ||
      (after.length === 1 && after[0] === outLayer && ['Activation', 'Softmax'].includes(outLayer.getClassName()));
    if (!scoresFromDense) continue;
    const featureSym = inboundNodes(layer)[0].inputTensors[0];
    const feature = featureSym.sourceLayer;
    if (isContainer(feature)) continue;
    const f = info(feature);
    const g = info(layer);
    const d = info(dense);
    if (f && g && d) return { featureLayer: f, gapLayer: g, denseLayer: d, between };
  }
  return null;
}

/** w_k^c for every k and c (K × classes, row-major) and b_c, read from the head's Dense layer. */
export function denseWeights(model: tf.LayersModel, head: GapHead): { W: Float32Array; b: Float32Array; K: number; classes: number } {
  const dense = model.getLayer(head.denseLayer.name);
  const ws = dense.getWeights();
  const kernel = ws[0];
  const [K, classes] = kernel.shape as [number, number];
  const W = kernel.dataSync() as Float32Array;
  const b = ws.length > 1 ? (ws[1].dataSync() as Float32Array) : new Float32Array(classes);
  return { W: Float32Array.from(W), b: Float32Array.from(b), K, classes };
}
