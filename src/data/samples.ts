import * as fs from 'fs';
import * as path from 'path';
import type { StoredSample } from '../model/builtin';
import { SAMPLES_INDEX, encodeRuns } from '../model/builtin';
import { rgbToPng } from './png';
import { Clutter, Scene, generateScene } from './scenes';

/** One committed sample: which held-out scene it is and why it is there. */
export interface SampleSpec {
  readonly name: string;
  readonly description: string;
  readonly labels: readonly number[];
  readonly clutter: Clutter;
  readonly seed: number;
  readonly index: number;
}

/**
 * The committed samples. All use test-split digits (never seen in training). The seeds were
 * picked so that the scenes are clear examples of their kind; regenerate with
 * `npm run train -- --samples-only`.
 */
export const SAMPLE_SPECS: readonly SampleSpec[] = [
  { name: 'single-digit', description: 'One digit (a 3) on a noisy gradient background.', labels: [3], clutter: 'normal', seed: 101, index: 0 },
  { name: 'two-digits', description: 'Two different digits (2 and 7): Grad-CAM for each class should light up its own digit.', labels: [2, 7], clutter: 'light', seed: 102, index: 0 },
  { name: 'heavy-clutter', description: 'One digit (a 6) among many fragments of other digits and strong noise.', labels: [6], clutter: 'heavy', seed: 103, index: 0 },
  { name: 'two-digits-heavy', description: 'Two different digits (0 and 5) in heavy clutter.', labels: [0, 5], clutter: 'heavy', seed: 104, index: 0 },
];

/** The scene a spec describes. */
export function sampleScene(spec: SampleSpec): Scene {
  return generateScene({ split: 'test', seed: spec.seed, index: spec.index, labels: spec.labels, clutter: spec.clutter });
}

/** The index entry (ground truth, masks run-length encoded) stored for a scene. */
export function storedSample(spec: SampleSpec, scene: Scene): StoredSample {
  return {
    name: spec.name, description: spec.description, file: `${spec.name}.png`, width: scene.width, height: scene.height,
    labels: scene.labels, clutter: scene.clutter,
    digits: scene.digits.map((d) => ({ label: d.label, box: d.box, maskRuns: encodeRuns(d.mask) })),
    source: { split: scene.split, seed: spec.seed, index: spec.index, labels: spec.labels, clutter: spec.clutter },
  };
}

/** Write every sample PNG and samples.json into `dir`; returns the file names written. */
export function writeSamples(dir: string, specs: readonly SampleSpec[] = SAMPLE_SPECS): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const index: StoredSample[] = [];
  for (const spec of specs) {
    const scene = sampleScene(spec);
    fs.writeFileSync(path.join(dir, `${spec.name}.png`), rgbToPng(scene.pixels, scene.width, scene.height));
    index.push(storedSample(spec, scene));
  }
  fs.writeFileSync(path.join(dir, SAMPLES_INDEX), JSON.stringify(index, null, 1) + '\n');
  return [...specs.map((s) => `${s.name}.png`), SAMPLES_INDEX];
}
