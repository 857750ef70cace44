import * as tf from '@tensorflow/tfjs';
import { pairOf } from './kernels';
import { GraphNode, Layer, SymbolicTensor, activationName, inboundNodes, layerConfig } from '../layers';

/**
 * Conv → BatchNorm pairs run as one convolution with folded weights while we explain. In
 * inference mode BatchNorm is a per-channel affine map, y = (z − μ)·s + β with s = γ/√(σ²+ε), and
 * z = conv(x, W) + b is linear in W and b, so y = conv(x, W·s) + (b − μ)·s + β exactly (up to
 * float rounding). On wasm tfjs runs each BatchNorm as its own pass over the activation (52 of
 * them were ~28 ms of a MobileNetV2 forward at 224); the folded conv adds its bias in the conv
 * kernel. The folded weights are recomputed on every call from the layers' current variables, so
 * a model trained further never sees stale weights, and the fold is skipped whenever the conv's
 * own output is needed (it is the captured or overridden layer).
 */

interface ConvSpec {
  readonly depthwise: boolean;
  readonly strides: [number, number];
  readonly dilations: [number, number];
  readonly pad: 'same' | 'valid';
}

interface BnSpec {
  readonly epsilon: number;
}

const convSpecs = new WeakMap<Layer, ConvSpec | null>();
const bnSpecs = new WeakMap<Layer, BnSpec | null>();

/** What a foldable conv needs (read once per layer: configs are static), or null when it is not one. */
function convSpec(layer: Layer): ConvSpec | null {
  if (convSpecs.has(layer)) return convSpecs.get(layer) ?? null;
  const cls = layer.getClassName();
  const c = layerConfig(layer);
  let spec: ConvSpec | null = null;
  if ((cls === 'Conv2D' || cls === 'DepthwiseConv2D') && activationName(layer) === 'linear'
    && (c.dataFormat ?? 'channelsLast') === 'channelsLast' && (c.padding === 'same' || c.padding === 'valid')
    && inboundNodes(layer).length === 1) {
    spec = { depthwise: cls === 'DepthwiseConv2D', strides: pairOf(c.strides as number | number[] | undefined, 1), dilations: pairOf(c.dilationRate as number | number[] | undefined, 1), pad: c.padding };
  }
  convSpecs.set(layer, spec);
  return spec;
}

function bnSpec(layer: Layer): BnSpec | null {
  if (bnSpecs.has(layer)) return bnSpecs.get(layer) ?? null;
  const c = layerConfig(layer);
  const axis = c.axis;
  const spec = layer.getClassName() === 'BatchNormalization' && (axis === -1 || axis === 3 || (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3)))
    && typeof c.epsilon === 'number'
    ? { epsilon: c.epsilon } : null;
  bnSpecs.set(layer, spec);
  return spec;
}

function weightNamed(layer: Layer, name: string): tf.Tensor | null {
  const w = layer.weights.find((v) => (v.originalName ?? v.name).split('/').pop() === name);
  return w ? w.read() : null;
}

/** The conv node feeding a BatchNorm node, when the pair can be folded (see the module comment). */
export function foldableInput(bn: Layer, node: GraphNode, target: string | null): { conv: Layer; input: SymbolicTensor } | null {
  if (!bnSpec(bn) || node.inputTensors.length !== 1) return null;
  const convOut = node.inputTensors[0];
  const conv = convOut.sourceLayer;
  if (conv.name === target || !convSpec(conv)) return null;
  const convNode = inboundNodes(conv)[convOut.nodeIndex];
  if (convNode.inputTensors.length !== 1) return null;
  return { conv, input: convNode.inputTensors[0] };
}

/**
 * BatchNorm(conv(x)) as one conv: W' = W·s, b' = (b − μ)·s + β, s = γ/√(σ²+ε), γ = 1 and β = 0
 * when the layer has none. For depthwise convs (multiplier M) output channel c·M+m takes s[c·M+m].
 */
export function foldedConvBatchNorm(conv: Layer, bn: Layer, x: tf.Tensor4D): tf.Tensor4D {
  const c = convSpec(conv);
  const b = bnSpec(bn);
  if (!c || !b) throw new Error(`foldedConvBatchNorm: ${conv.name} → ${bn.name} is not a foldable pair`);
  const kernel = weightNamed(conv, c.depthwise ? 'depthwise_kernel' : 'kernel');
  if (!kernel) throw new Error(`foldedConvBatchNorm: ${conv.name} has no kernel`);
  const bias = weightNamed(conv, 'bias');
  const mean = weightNamed(bn, 'moving_mean');
  const variance = weightNamed(bn, 'moving_variance');
  if (!mean || !variance) throw new Error(`foldedConvBatchNorm: ${bn.name} has no moving statistics`);
  const gamma = weightNamed(bn, 'gamma');
  const beta = weightNamed(bn, 'beta');
  let s = tf.rsqrt(tf.add(variance, b.epsilon));
  if (gamma) s = tf.mul(s, gamma);
  let shift = tf.mul(bias ? tf.sub(bias, mean) : tf.neg(mean), s);
  if (beta) shift = tf.add(shift, beta);
  if (c.depthwise) {
    const [, , cin, m] = kernel.shape;
    const filter = tf.mul(kernel, tf.reshape(s, [1, 1, cin, m])) as tf.Tensor4D;
    return tf.add(tf.depthwiseConv2d(x, filter, c.strides, c.pad, 'NHWC', c.dilations), shift);
  }
  const filter = tf.mul(kernel, s) as tf.Tensor4D;
  return tf.add(tf.conv2d(x, filter, c.strides, c.pad, 'NHWC', c.dilations), shift);
}
