import * as fs from 'fs';
import * as path from 'path';
import type * as tf from '@tensorflow/tfjs';
import { TslabCamError, closestNames } from '../errors';

/**
 * The built-in registry: the models trained by this package (models/NAME/model.json with its
 * metadata beside it) and the committed sample scenes (samples/). Everything resolves from
 * the package root, so it works from src/ under ts-node and from dist/ after tsc alike.
 */

/** Names of the built-in models, in the order the tutorials use them. */
export const BUILTIN_NAMES = ['digits-gap', 'digits-fc'] as const;
export type BuiltinName = (typeof BUILTIN_NAMES)[number];

/** File name of the metadata stored next to a model.json. */
export const META_FILE = 'tslab-cam.json';

/**
 * How to feed a model and read its output, stored as `tslab-cam.json` next to model.json.
 * Any tfjs layers model may carry one; only `inputSize`, `channels`, `inputRange` are required.
 */
export interface ModelMeta {
  /** Input height and width in pixels. */
  readonly inputSize: readonly [number, number];
  /** Colour channels the model expects (3 = RGB; 1 = luminance). */
  readonly channels: 1 | 3;
  /**
   * Linear pixel scaling: byte 0 becomes inputRange[0], byte 255 becomes inputRange[1]
   * ([0, 1] divides by 255; [-1, 1] is MobileNet style).
   */
  readonly inputRange: readonly [number, number];
  /** Human names of the classes, by output index. */
  readonly classNames?: readonly string[];
  /**
   * The output activation: 'sigmoid' (independent per-class probabilities, multi-label),
   * 'softmax', or 'linear'. S_c is always the pre-activation score of `scoreLayer`.
   */
  readonly head?: 'sigmoid' | 'softmax' | 'linear';
  /** The Dense layer whose pre-activation output is the class score S_c. */
  readonly scoreLayer?: string;
  /** Default layer for CAM / Grad-CAM (the last conv layer). */
  readonly targetLayer?: string;
  /** True when the head is GlobalAveragePooling2D → Dense, so CAM applies. */
  readonly hasGap?: boolean;
  readonly name?: string;
  readonly description?: string;
  /** How the model was made (free-form; for the built-ins: seed, steps, time, backend). */
  readonly training?: Readonly<Record<string, unknown>>;
  /** Held-out figures measured by scripts/evaluate.ts. */
  readonly evaluation?: Readonly<Record<string, unknown>>;
}

let rootCache: string | null = null;

/**
 * The folder of this package: walk up from this file to the package.json named "tslab-cam".
 * (From src/model under ts-node and from dist/model after tsc the depth is the same today, but
 * walking up keeps working if the layout changes.)
 */
export function packageRoot(): string {
  if (rootCache) return rootCache;
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tslab-cam') {
          rootCache = dir;
          return dir;
        }
      } catch {
        // An unreadable package.json on the way up is not ours; keep walking.
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new TslabCamError('MODEL_LOAD', `Could not find the tslab-cam package folder above ${__dirname}.`,
    'Reinstall tslab-cam; its package.json must sit above its dist/ folder.');
}

/** Names of the built-in models. */
export function builtinNames(): string[] {
  return [...BUILTIN_NAMES];
}

function isBuiltinName(name: string): name is BuiltinName {
  return (BUILTIN_NAMES as readonly string[]).includes(name);
}

/** Absolute path of a built-in model's model.json; UNKNOWN_BUILTIN for other names. */
export function builtinModelPath(name: string): string {
  if (!isBuiltinName(name)) {
    const near = closestNames(name, BUILTIN_NAMES, 2);
    throw new TslabCamError('UNKNOWN_BUILTIN', `There is no built-in model '${name}'.`,
      `Use one of ${BUILTIN_NAMES.map((n) => `'builtin:${n}'`).join(', ')}${near.length ? ` (closest: '${near[0]}')` : ''}.`);
  }
  const file = path.join(packageRoot(), 'models', name, 'model.json');
  if (!fs.existsSync(file)) {
    throw new TslabCamError('MODEL_LOAD', `The built-in model '${name}' is missing (${file}).`,
      'Reinstall tslab-cam, or run `npm run train` in its folder to rebuild the built-in models.');
  }
  return file;
}

function isPair(v: unknown): v is [number, number] {
  return Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Check a parsed metadata object; returns the problem, or null when it is usable. */
export function metaProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'it is not a JSON object';
  const m = v as Record<string, unknown>;
  if (!isPair(m.inputSize) || m.inputSize.some((x) => x < 1 || !Number.isInteger(x))) return 'inputSize must be [height, width] in whole pixels';
  if (m.channels !== 1 && m.channels !== 3) return 'channels must be 1 or 3';
  if (!isPair(m.inputRange) || m.inputRange[0] === m.inputRange[1]) return 'inputRange must be two different numbers, e.g. [0, 1]';
  if (m.classNames !== undefined && !(Array.isArray(m.classNames) && m.classNames.every((s) => typeof s === 'string'))) return 'classNames must be a list of strings';
  if (m.head !== undefined && !['sigmoid', 'softmax', 'linear'].includes(m.head as string)) return "head must be 'sigmoid', 'softmax' or 'linear'";
  return null;
}

/**
 * Read the metadata stored next to a model.json (`tslab-cam.json`). Null when there is none;
 * MODEL_LOAD when the file exists but cannot be used.
 */
export function readModelMeta(modelJsonPath: string): ModelMeta | null {
  const file = path.join(path.dirname(modelJsonPath), META_FILE);
  if (!fs.existsSync(file)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TslabCamError('MODEL_LOAD', `${file} is not valid JSON (${(e as Error).message}).`,
      `Fix or delete ${META_FILE}; without it images are resized to the model's input shape and scaled to [0, 1].`, { cause: e });
  }
  const problem = metaProblem(parsed);
  if (problem) {
    throw new TslabCamError('MODEL_LOAD', `${file} cannot be used: ${problem}.`,
      `Fix or delete ${META_FILE}; without it images are resized to the model's input shape and scaled to [0, 1].`);
  }
  return parsed as ModelMeta;
}

/** Metadata of the models loaded so far, keyed by the model object (loadModel fills it). */
const attached = new WeakMap<tf.LayersModel, ModelMeta>();

/** Remember `meta` for `model`, so loadImage(source, {model}) can preprocess as it expects. */
export function attachModelMeta(model: tf.LayersModel, meta: ModelMeta): void {
  attached.set(model, meta);
}

/** The metadata attached to a loaded model, if any. */
export function modelMetaOf(model: tf.LayersModel): ModelMeta | null {
  return attached.get(model) ?? null;
}

// ---------------------------------------------------------------------------------------------
// samples

/** An axis-aligned box in image pixels: columns x … x+width-1, rows y … y+height-1. */
export interface SampleBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface SampleDigit {
  readonly label: number;
  readonly box: SampleBox;
  /** height×width, 1 on the digit's ink. */
  readonly mask: Uint8Array;
}

/** A committed sample scene and its ground truth. */
export interface BuiltinSample {
  /** Short name, e.g. 'two-digits'. */
  readonly name: string;
  readonly description: string;
  /** Absolute path of the PNG (pass it to loadImage). */
  readonly path: string;
  readonly width: number;
  readonly height: number;
  /** Classes present, in the order of `digits`. */
  readonly labels: readonly number[];
  readonly digits: readonly SampleDigit[];
  readonly clutter: string;
}

/** How samples/samples.json stores a digit: the mask run-length encoded. */
export interface StoredSampleDigit {
  readonly label: number;
  readonly box: SampleBox;
  /** Alternating run lengths over the row-major mask, starting with a run of zeros. */
  readonly maskRuns: readonly number[];
}

export interface StoredSample {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly width: number;
  readonly height: number;
  readonly labels: readonly number[];
  readonly digits: readonly StoredSampleDigit[];
  readonly clutter: string;
  /** How to regenerate it: generateScene({split, seed, index, ...}). */
  readonly source: Readonly<Record<string, unknown>>;
}

export const SAMPLES_INDEX = 'samples.json';

/** Run-length encode a 0/1 mask (runs alternate 0s and 1s, starting with 0s). */
export function encodeRuns(mask: Uint8Array): number[] {
  const runs: number[] = [];
  let current = 0, run = 0;
  for (const v of mask) {
    const bit = v ? 1 : 0;
    if (bit === current) run++;
    else { runs.push(run); current = bit; run = 1; }
  }
  runs.push(run);
  return runs;
}

/** Inverse of encodeRuns. */
export function decodeRuns(runs: readonly number[], length: number): Uint8Array {
  const mask = new Uint8Array(length);
  let at = 0;
  runs.forEach((n, i) => {
    if (i % 2 === 1) mask.fill(1, at, Math.min(length, at + n));
    at += n;
  });
  return mask;
}

/**
 * The committed sample scenes with ground truth: a single digit, two different digits (the
 * class-discriminative demo) and heavy clutter. Plain data; load the pixels with
 * loadImage(sample.path, { model }).
 */
export function builtinSamples(): BuiltinSample[] {
  const dir = path.join(packageRoot(), 'samples');
  const index = path.join(dir, SAMPLES_INDEX);
  if (!fs.existsSync(index)) {
    throw new TslabCamError('MODEL_LOAD', `The built-in samples are missing (${index}).`,
      'Reinstall tslab-cam, or run `npm run train -- --samples-only` in its folder.');
  }
  const stored = JSON.parse(fs.readFileSync(index, 'utf8')) as StoredSample[];
  return stored.map((s) => ({
    name: s.name, description: s.description, path: path.join(dir, s.file), width: s.width, height: s.height,
    labels: s.labels, clutter: s.clutter,
    digits: s.digits.map((d) => ({ label: d.label, box: d.box, mask: decodeRuns(d.maskRuns, s.width * s.height) })),
  }));
}
