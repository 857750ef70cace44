import * as tf from '@tensorflow/tfjs';
import { NUM_CLASSES } from './mnist';
import { Scene } from './scenes';

/** Stack scenes into the model's input: (n, H, W, 3) float32 in [0, 1]. */
export function scenesToTensor(scenes: readonly Scene[]): tf.Tensor4D {
  const { width, height } = scenes[0];
  const data = new Float32Array(scenes.length * width * height * 3);
  scenes.forEach((s, i) => data.set(s.pixels, i * width * height * 3));
  return tf.tensor4d(data, [scenes.length, height, width, 3]);
}

/** Multi-hot targets: (n, 10), 1 for every class present in a scene. */
export function scenesToTargets(scenes: readonly Scene[]): tf.Tensor2D {
  const data = new Float32Array(scenes.length * NUM_CLASSES);
  scenes.forEach((s, i) => s.labels.forEach((c) => { data[i * NUM_CLASSES + c] = 1; }));
  return tf.tensor2d(data, [scenes.length, NUM_CLASSES]);
}
