import * as tf from '@tensorflow/tfjs';

/**
 * Small typed views of tfjs-layers internals that are public fields but not in the `tf` namespace
 * types (inbound nodes, call arguments, layer configs).
 */
export type Layer = tf.layers.Layer;
export type SymbolicTensor = tf.SymbolicTensor;

export interface GraphNode {
  inputTensors: SymbolicTensor[];
  outputTensors: SymbolicTensor[];
  callArgs?: Record<string, unknown>;
}

/** A model or nested sub-model: its own graph of layers. */
export function isContainer(layer: unknown): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

export function inboundNodes(layer: Layer): GraphNode[] {
  return (layer as unknown as { inboundNodes: GraphNode[] }).inboundNodes;
}

export function nodeOf(sym: SymbolicTensor): GraphNode {
  return inboundNodes(sym.sourceLayer)[sym.nodeIndex];
}

export function layerConfig(layer: Layer): Record<string, unknown> {
  try {
    return layer.getConfig() as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** The activation a layer applies to its output ('linear' when none), e.g. 'softmax'. */
export function activationName(layer: Layer): string {
  const cls = layer.getClassName();
  if (cls === 'Softmax') return 'softmax';
  if (cls === 'ReLU') return 'relu';
  const a = layerConfig(layer).activation;
  return typeof a === 'string' ? a : 'linear';
}

/** Output shape of the layer's first call (a shared layer may have several). */
export function outputShapeOf(layer: Layer): (number | null)[] {
  const nodes = inboundNodes(layer);
  if (nodes.length > 0 && nodes[0].outputTensors.length > 0) return nodes[0].outputTensors[0].shape;
  const s = layer.outputShape as unknown;
  return Array.isArray(s) && !Array.isArray(s[0]) ? (s as (number | null)[]) : [];
}

/** Number of weights (parameters) of a layer. */
export function paramCount(layer: Layer): number {
  try {
    return layer.countParams();
  } catch {
    return 0;
  }
}
