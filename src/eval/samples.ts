/** Evaluation samples from the built-in scenes (generated, or the committed sample PNGs). */
import type { Scene } from '../data/scenes';
import { evaluationScenes } from '../data/evaluate';
import { builtinSamples } from '../model/builtin';
import { loadImage } from '../model/image';
import * as tf from '@tensorflow/tfjs';
import type { EvalSample } from './types';

/** Samples from generated scenes: digit `digit` of each (its box, mask and label as the class). */
export function samplesFromScenes(scenes: readonly Scene[], digit = 0): EvalSample[] {
  return scenes.map((s) => {
    const d = s.digits[Math.min(digit, s.digits.length - 1)];
    return { pixels: s.pixels, width: s.width, height: s.height, channels: 3, box: d.box, mask: d.mask, classIndex: d.label, name: `scene ${s.seed}/${s.index}` };
  });
}

/** The committed built-in sample scenes (builtinSamples()), first digit each, loaded for `model`. */
export async function builtinEvalSamples(model: tf.LayersModel): Promise<EvalSample[]> {
  const out: EvalSample[] = [];
  for (const s of builtinSamples()) {
    const x = await loadImage(s.path, { model });
    const [, height, width, channels] = x.shape;
    const pixels = x.dataSync() as Float32Array;
    x.dispose();
    const d = s.digits[0];
    out.push({ pixels: Float32Array.from(pixels), width, height, channels, box: d.box, mask: d.mask, classIndex: d.label, name: s.name });
  }
  return out;
}

/**
 * `count` held-out scenes as samples (test split, the evaluation seed: half one digit, half two,
 * the first digit's class): the set `npm run evaluate` measures on.
 */
export function heldOutSamples(count: number): EvalSample[] {
  return samplesFromScenes(evaluationScenes({ singles: Math.ceil(count / 2), doubles: Math.floor(count / 2) }));
}

/** Samples as one (N, H, W, C) batch (the caller disposes it); all samples have the first's size. */
export function samplesToBatch(samples: readonly EvalSample[]): tf.Tensor4D {
  const s = samples[0];
  const data = new Float32Array(samples.length * s.pixels.length);
  samples.forEach((x, i) => data.set(x.pixels, i * s.pixels.length));
  return tf.tensor4d(data, [samples.length, s.height, s.width, s.channels]);
}
