import * as tf from '@tensorflow/tfjs';
import { NUM_CLASSES } from './mnist';
import { DEFAULT_SCENE_SIZE } from './scenes';

/** The two built-in architectures. */
export type BuiltinKind = 'digits-gap' | 'digits-fc';
export const BUILTIN_KINDS: readonly BuiltinKind[] = ['digits-gap', 'digits-fc'];

/** The layer explanations should target by default: the last conv layer, 16×16 on a 64×64 input. */
export const TARGET_LAYER = 'conv4';
/** The class-score layer: a Dense whose pre-sigmoid output is the article's S_c. */
export const SCORE_LAYER = 'logits';

/**
 * The shared feature extractor: two conv+pool blocks, then two 3×3 convs at 16×16. Stopping the
 * pooling at 16×16 keeps the maps fine enough to tell two digits apart; the receptive field of
 * conv4 (26 px) still covers a whole digit. Every initialiser is seeded, so a seed gives the
 * same starting weights.
 */
function features(input: tf.SymbolicTensor, seed: number): tf.SymbolicTensor {
  let x: tf.SymbolicTensor = input;
  const widths = [16, 32, 64, 64];
  widths.forEach((filters, i) => {
    x = tf.layers.conv2d({
      name: `conv${i + 1}`, filters, kernelSize: 3, padding: 'same', activation: 'relu',
      kernelInitializer: tf.initializers.heNormal({ seed: seed * 100 + i + 1 }),
    }).apply(x) as tf.SymbolicTensor;
    if (i < 2) x = tf.layers.maxPooling2d({ name: `pool${i + 1}`, poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  });
  return x;
}

function imageInput(): tf.SymbolicTensor {
  return tf.input({ name: 'image', shape: [DEFAULT_SCENE_SIZE, DEFAULT_SCENE_SIZE, 3] });
}

/**
 * The sigmoid head: one independent probability per class, because a scene may hold two digits
 * (softmax would force the two to compete). The sigmoid is the Dense layer's own activation, as
 * in most Keras models, so S_c is that layer's pre-activation output.
 */
function head(x: tf.SymbolicTensor, seed: number): tf.SymbolicTensor {
  return tf.layers.dense({
    name: SCORE_LAYER, units: NUM_CLASSES, activation: 'sigmoid',
    kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + 50 }),
  }).apply(x) as tf.SymbolicTensor;
}

/** conv blocks → GlobalAveragePooling2D → Dense(10): the architecture CAM needs. */
export function buildDigitsGap(seed: number): tf.LayersModel {
  const input = imageInput();
  const f = features(input, seed);
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(f) as tf.SymbolicTensor;
  return tf.model({ name: 'digits_gap', inputs: input, outputs: head(gap, seed) });
}

/**
 * conv blocks → MaxPool → Flatten → Dense(64) → Dense(10): no GAP, so CAM does not apply but
 * Grad-CAM does. The extra pool halves the flattened size so the model stays near 1.3 MB.
 */
export function buildDigitsFc(seed: number): tf.LayersModel {
  const input = imageInput();
  const f = features(input, seed);
  const pooled = tf.layers.maxPooling2d({ name: 'pool4', poolSize: 2 }).apply(f) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flatten' }).apply(pooled) as tf.SymbolicTensor;
  const fc = tf.layers.dense({
    name: 'fc', units: 64, activation: 'relu',
    kernelInitializer: tf.initializers.heNormal({ seed: seed * 100 + 40 }),
  }).apply(flat) as tf.SymbolicTensor;
  return tf.model({ name: 'digits_fc', inputs: input, outputs: head(fc, seed) });
}

/** Build either built-in architecture with fresh seeded weights. */
export function buildModel(kind: BuiltinKind, seed: number): tf.LayersModel {
  return kind === 'digits-gap' ? buildDigitsGap(seed) : buildDigitsFc(seed);
}
