/**
 * Keras preprocessing layers that tfjs-layers 4.22 lacks, registered so that converted Keras
 * models which normalise their own input load and can be explained.
 *
 * tfjs 4.22 has Rescaling, Resizing and CenterCrop, but not Normalization: a Keras model with
 * `layers.Normalization()` in front (the usual way to put ImageNet mean/std into the model) fails
 * to load with "Unknown layer: Normalization". Registering a class under that name is what
 * tf.serialization is for; the class below does exactly Keras's arithmetic and nothing else.
 */
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';

type Variable = ReturnType<tf.layers.Layer['addWeight']>;

/** What Keras writes in a Normalization layer's config (Keras 2 and 3). */
interface NormalizationConfig {
  name?: string;
  trainable?: boolean;
  dtype?: string;
  axis?: number | number[] | null;
  mean?: number | number[] | null;
  variance?: number | number[] | null;
  invert?: boolean;
}

/** Keras's backend epsilon, the floor of the standard deviation. */
const EPSILON = 1e-7;

function asList(v: number | number[] | null | undefined): number[] | null {
  if (v === null || v === undefined) return null;
  return Array.isArray(v) ? v : [v];
}

/**
 * Keras `Normalization` (feature-wise, last axis): y = (x − μ) / max(√σ², 1e-7), or with
 * `invert` x = y·max(√σ², 1e-7) + μ. μ and σ² come from the config when Keras was given them,
 * else from the layer's weights `mean`, `variance` (and `count`, which Keras keeps for adapt()).
 */
export class Normalization extends tf.layers.Layer {
  static className = 'Normalization';
  private readonly axis: number[];
  private readonly meanValue: number[] | null;
  private readonly varianceValue: number[] | null;
  private readonly invert: boolean;
  private meanVar: Variable | null = null;
  private varianceVar: Variable | null = null;

  constructor(config: NormalizationConfig) {
    super({ name: config.name, trainable: false, dtype: 'float32' });
    this.axis = asList(config.axis ?? -1) ?? [-1];
    this.meanValue = asList(config.mean);
    this.varianceValue = asList(config.variance);
    this.invert = config.invert === true;
    if ((this.meanValue === null) !== (this.varianceValue === null)) {
      throw new TslabCamError('MODEL_LOAD', `Normalization layer '${config.name}' gives a mean without a variance or the reverse.`,
        'Give Keras both mean and variance (or neither, and adapt()), then convert again.');
    }
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) || inputShape[0] === undefined ? inputShape[0] : inputShape) as tf.Shape;
    const rank = shape.length;
    const axes = this.axis.map((a) => (a < 0 ? rank + a : a));
    if (axes.length !== 1 || axes[0] !== rank - 1) {
      throw new TslabCamError('MODEL_LOAD', `Normalization layer '${this.name}' normalises along axis ${JSON.stringify(this.axis)}; only the last (channel) axis is supported here.`,
        'Normalise per channel (Keras default axis=-1), or feed images already normalised.');
    }
    const channels = shape[rank - 1];
    if (this.meanValue === null) {
      this.meanVar = this.addWeight('mean', [channels as number], 'float32', tf.initializers.zeros(), undefined, false);
      this.varianceVar = this.addWeight('variance', [channels as number], 'float32', tf.initializers.ones(), undefined, false);
      this.addWeight('count', [], 'int32', tf.initializers.zeros(), undefined, false);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const mean = this.meanVar ? this.meanVar.read() : tf.tensor1d(this.meanValue as number[]);
      const variance = this.varianceVar ? this.varianceVar.read() : tf.tensor1d(this.varianceValue as number[]);
      const std = tf.maximum(tf.sqrt(variance), EPSILON);
      return this.invert ? tf.add(tf.mul(x, std), mean) : tf.div(tf.sub(x, mean), std);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: this.axis, mean: this.meanValue, variance: this.varianceValue, invert: this.invert };
  }
}

let registered = false;

/** Registers the classes above with tf.serialization unless tfjs (or the user) already has them. */
export function registerPreprocessingLayers(): void {
  if (registered) return;
  registered = true;
  const known = tf.serialization.SerializationMap.getMap().classNameMap;
  if (!Object.prototype.hasOwnProperty.call(known, Normalization.className)) tf.serialization.registerClass(Normalization);
}
