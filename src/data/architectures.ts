import * as tf from '@tensorflow/tfjs';
import { NUM_CLASSES } from './mnist';
import { DEFAULT_SCENE_SIZE } from './scenes';

/** The two built-in architectures. */
export type BuiltinKind = 'digits-gap' | 'digits-fc';
export const BUILTIN_KINDS: readonly BuiltinKind[] = ['digits-gap', 'digits-fc'];

/** The layer explanations should target by default: the last conv block's output (after its ReLU), 8×8 on a 64×64 input. */
export const TARGET_LAYER = 'relu4';
/** The class-score layer: a Dense whose pre-softmax output is the article's S_c. */
export const SCORE_LAYER = 'logits';

/**
 * The shared feature extractor: four conv → BatchNorm → ReLU blocks, each but the last followed by
 * a 2×2 max-pool, so the last block is 8×8 with 128 channels and a 38 px receptive field (a
 * whole digit). Batch normalisation and the 8×8 end were what made training start within
 * minutes; a 16×16 end with 64 channels sat at the class-prior loss for hundreds of steps.
 * Every initialiser is seeded, so a seed gives the same starting weights.
 */
function features(input: tf.SymbolicTensor, seed: number): tf.SymbolicTensor {
  let x: tf.SymbolicTensor = input;
  const widths = [16, 32, 64, 128];
  widths.forEach((filters, i) => {
    const n = i + 1;
    x = tf.layers.conv2d({
      name: `conv${n}`, filters, kernelSize: 3, padding: 'same', useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed: seed * 100 + n }),
    }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: `bn${n}` }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU({ name: `relu${n}` }).apply(x) as tf.SymbolicTensor;
    if (n < widths.length) x = tf.layers.maxPooling2d({ name: `pool${n}`, poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  });
  return x;
}

function imageInput(): tf.SymbolicTensor {
  return tf.input({ name: 'image', shape: [DEFAULT_SCENE_SIZE, DEFAULT_SCENE_SIZE, 3] });
}

/**
 * The head: Dense(10) with its activation built in (as most Keras models do), so S_c is the
 * layer's pre-activation output. Both read two-digit scenes by ranking: the two digits should be
 * the top 2. digits-gap: softmax, trained toward 1/2 on each digit's class (cross-entropy against
 * the normalised multi-hot target); a sigmoid head trained from scratch stayed at the
 * class-prior loss far longer. digits-fc: sigmoid per class (see buildDigitsFc for why); it is
 * trained on digits-gap's conv blocks, where a sigmoid head learns in minutes.
 */
function head(x: tf.SymbolicTensor, seed: number, activation: 'softmax' | 'sigmoid' = 'softmax'): tf.SymbolicTensor {
  return tf.layers.dense({
    name: SCORE_LAYER, units: NUM_CLASSES, activation,
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
 * conv blocks → MaxPool → Flatten → Dense(64) → BatchNorm → ReLU → Dense(10): no GAP, so CAM
 * does not apply but Grad-CAM does. The extra pool (8×8 → 4×4) keeps the flattened vector at
 * 2,048 and the model well under 2 MB. The BatchNorm after the hidden Dense is needed: its 2,048
 * inputs are all positive (post-ReLU), so Adam's equal-size steps on every weight moved all 64
 * pre-activations together and killed every ReLU within a few steps (the loss froze at ln 10).
 * Its head is a sigmoid per class (binary cross-entropy), not digits-gap's softmax: with a
 * hidden layer, a softmax trained toward ½ + ½ on two-digit scenes grows units that detect a
 * pair of digits and raise both classes, so the gradient of S_a reaches digit b and Grad-CAM
 * for a lit up b (second-digit pointing 65–79%); independent per-class targets give such units
 * no reason to exist. (A linear head such as digits-gap's cannot form them at all.)
 * The Dropout (training only; identity when explaining) is for Grad-CAM, not accuracy: a head
 * that must find each digit's evidence at many positions and channels spreads its weights, so
 * the spatial mean of the gradient (Grad-CAM's α) says which channels matter for a class. On
 * digits-gap's frozen conv blocks, the pointing game (held-out, 200 + 200 scenes) went from
 * 86% without it to 92% with it (an L2 penalty on the same weights instead: 90%).
 */
export function buildDigitsFc(seed: number): tf.LayersModel {
  const input = imageInput();
  const f = features(input, seed);
  const pooled = tf.layers.maxPooling2d({ name: 'pool4', poolSize: 2 }).apply(f) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flatten' }).apply(pooled) as tf.SymbolicTensor;
  const dropped = tf.layers.dropout({ name: 'flatten_dropout', rate: 0.5, seed: seed * 100 + 45 }).apply(flat) as tf.SymbolicTensor;
  let fc = tf.layers.dense({
    name: 'fc', units: 64, useBias: false,
    kernelInitializer: tf.initializers.heNormal({ seed: seed * 100 + 40 }),
  }).apply(dropped) as tf.SymbolicTensor;
  fc = tf.layers.batchNormalization({ name: 'fc_bn' }).apply(fc) as tf.SymbolicTensor;
  fc = tf.layers.reLU({ name: 'fc_relu' }).apply(fc) as tf.SymbolicTensor;
  return tf.model({ name: 'digits_fc', inputs: input, outputs: head(fc, seed, 'sigmoid') });
}

/** Build either built-in architecture with fresh seeded weights. */
export function buildModel(kind: BuiltinKind, seed: number): tf.LayersModel {
  return kind === 'digits-gap' ? buildDigitsGap(seed) : buildDigitsFc(seed);
}
