import * as tf from '@tensorflow/tfjs';
import { TslabCamError, closestNames, showValue } from '../errors';
import { findTargetNode, listNodes, resolveNode } from './graphmodel';
import { Layer, isContainer, outputShapeOf, paramCount } from './layers';
import { foreignTfjsError, isForeignTfjsObject } from './versions';

/** One layer of a model, nested sub-model layers included. */
export interface LayerInfo {
  /** Full name: "outer/inner" for a layer inside a nested sub-model. */
  readonly name: string;
  /** Names from the top model down to the layer. */
  readonly path: readonly string[];
  readonly className: string;
  /** Output shape with the batch dimension (null) first. */
  readonly outputShape: readonly (number | null)[];
  readonly params: number;
  /** True for a 4-D (batch, h, w, channels) output with more than one position. */
  readonly spatial: boolean;
  /** Position in topological order over the whole flattened model. */
  readonly index: number;
}

/**
 * Layers whose output is a feature map worth explaining: convolutions, the activations and
 * normalisations after them, and the merges of residual/branching blocks. Pooling, padding,
 * dropout and reshapes are passed over (their input is the same map, better resolved).
 */
const FEATURE_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'Conv2DTranspose', 'Activation', 'ReLU',
  'LeakyReLU', 'ELU', 'PReLU', 'ThresholdedReLU', 'BatchNormalization', 'LayerNormalization', 'Add', 'Concatenate',
  'Multiply', 'Average', 'Maximum', 'Minimum']);

function isSpatial(shape: readonly (number | null)[]): boolean {
  return shape.length === 4 && (shape[1] ?? 2) * (shape[2] ?? 2) > 1;
}

/** Lists every layer (recursing into nested models) in topological order with its output shape. */
export function listLayers(model: tf.LayersModel | tf.GraphModel): LayerInfo[] {
  if (model instanceof tf.GraphModel) return listNodes(model);
  return [...layersOf(model)];
}

/**
 * The layer list of a LayersModel, computed once per model: every explain call resolves its layer,
 * and walking the model (with parameter counts) was ~4% of a Grad-CAM call on the digits models.
 * Keyed on the layer count too, because a tf.Sequential can still gain layers with add().
 */
const layerLists = new WeakMap<tf.LayersModel, { readonly count: number; readonly layers: readonly LayerInfo[] }>();

export function layersOf(model: tf.LayersModel): readonly LayerInfo[] {
  const kept = layerLists.get(model);
  if (kept && kept.count === model.layers.length) return kept.layers;
  const layers = walkLayers(model);
  layerLists.set(model, { count: model.layers.length, layers });
  return layers;
}

function walkLayers(model: tf.LayersModel): LayerInfo[] {
  const out: LayerInfo[] = [];
  const walk = (m: tf.LayersModel, prefix: string[]): void => {
    for (const layer of m.layers) {
      const path = [...prefix, layer.name];
      if (isContainer(layer)) {
        walk(layer, path);
        // The sub-model's own output is also a valid target (its last feature map).
      }
      const shape = outputShapeOf(layer);
      out.push({
        name: path.join('/'),
        path,
        className: layer.getClassName(),
        outputShape: shape,
        params: paramCount(layer),
        spatial: isSpatial(shape),
        index: out.length,
      });
    }
  };
  walk(model, []);
  return out;
}

/**
 * The default target layer: the last layer, in topological order, whose output is a 4-D spatial
 * feature map (conv, depthwise/separable conv, activation, BatchNorm, Add, Concatenate, …),
 * looking inside nested sub-models, before the classifier head.
 */
export function findTargetLayer(model: tf.LayersModel | tf.GraphModel): LayerInfo {
  if (model instanceof tf.GraphModel) return findTargetNode(model);
  assertLayersModel(model);
  const layers = layersOf(model);
  const spatial = layers.filter((l) => l.spatial && FEATURE_CLASSES.has(l.className));
  if (spatial.length === 0) {
    throw new TslabCamError('NO_SPATIAL_LAYER',
      `The model has no layer with a 4-D spatial output (batch, h, w, channels); its layers are ${layers.map((l) => `${l.name} ${fmtShape(l.outputShape)}`).join(', ')}.`,
      'Grad-CAM needs a convolutional feature map: use a CNN, or pass {layer} naming a layer with a 4-D output.');
  }
  return spatial[spatial.length - 1];
}

export function fmtShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'N' : d)).join(',')}]`;
}

/** Throws the GraphModel / not-a-model error unless `model` is a tf.LayersModel. */
export function assertLayersModel(model: unknown): asserts model is tf.LayersModel {
  if (model instanceof tf.LayersModel) return;
  if (model instanceof tf.GraphModel) {
    throw new TslabCamError('GRAPH_MODEL',
      'This is a tf.GraphModel (a frozen graph): it has no layers to pick and no gradients can be taken through it here.',
      'Convert the original Keras model to the layers format instead: tensorflowjs_converter --input_format keras model.h5 out_dir (or save it from tfjs with model.save), then load out_dir/model.json.');
  }
  if (isForeignTfjsObject(model)) throw foreignTfjsError(model as object, 'model');
  throw new TslabCamError('NOT_A_MODEL', `Expected a tf.LayersModel, got ${describeValue(model)}.`,
    "Pass a model from loadModel(...) or tf.model(...)/tf.sequential(...), or a source string such as 'builtin:digits-gap'.");
}

export function describeValue(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  return showValue(v);
}

/**
 * Finds a layer by name ("conv3", or "outer/inner" for a nested one; a unique inner name alone
 * also works) or by its index in listLayers order. Unknown names get the closest valid names.
 */
export function resolveLayer(model: tf.LayersModel | tf.GraphModel, layer?: string | number): LayerInfo {
  if (model instanceof tf.GraphModel) return resolveNode(model, layer);
  assertLayersModel(model);
  if (layer === undefined || layer === null) return findTargetLayer(model);
  const layers = layersOf(model);
  let found: LayerInfo | undefined;
  if (typeof layer === 'number') {
    if (!Number.isInteger(layer) || layer < -layers.length || layer >= layers.length) {
      throw new TslabCamError('UNKNOWN_LAYER', `Layer index ${layer} is out of range: the model has ${layers.length} layers.`,
        `Use an integer from 0 to ${layers.length - 1} (negative counts from the end), or a layer name.`);
    }
    found = layers[layer < 0 ? layers.length + layer : layer];
  } else if (typeof layer === 'string') {
    found = layers.find((l) => l.name === layer);
    if (!found) {
      const byLeaf = layers.filter((l) => l.path[l.path.length - 1] === layer);
      if (byLeaf.length === 1) found = byLeaf[0];
      else if (byLeaf.length > 1) {
        throw new TslabCamError('UNKNOWN_LAYER', `Layer name '${layer}' is ambiguous: ${byLeaf.map((l) => l.name).join(', ')}.`,
          'Use the full path with "/" between sub-model and layer names.');
      }
    }
    if (!found) {
      const near = closestNames(layer, layers.filter((l) => l.spatial).map((l) => l.name).concat(layers.map((l) => l.name)).filter((n, i, a) => a.indexOf(n) === i));
      throw new TslabCamError('UNKNOWN_LAYER', `The model has no layer named '${layer}'. Closest names: ${near.join(', ')}.`,
        'Pass one of those names (listLayers(model) shows them all with shapes), or omit layer to use the last convolutional feature map.');
    }
  } else {
    throw new TslabCamError('BAD_OPTION', `layer must be a name or an index, got ${describeValue(layer)}.`, 'Pass a string such as "conv3" or an integer index.');
  }
  if (found.outputShape.length !== 4) {
    let suggestion = '';
    try {
      suggestion = ` The last spatial layer is '${findTargetLayer(model).name}'.`;
    } catch {
      /* no spatial layer at all: the suggestion stays empty */
    }
    throw new TslabCamError('NO_SPATIAL_LAYER',
      `Layer '${found.name}' (${found.className}) outputs ${fmtShape(found.outputShape)}, not a 4-D feature map (batch, h, w, channels).${suggestion}`,
      'Choose a convolutional layer (or an activation/BatchNorm/Add after one), or omit layer to pick the last one automatically.');
  }
  return found;
}
