/**
 * Chunk sizing for the forward-pass methods (Score-CAM, Ablation-CAM, SmoothGrad) and their loop,
 * which is src/run's runChunks: cancellation by AbortSignal or the kernel interrupt between
 * chunks, every chunk tidied, progress with rate and ETA (a bar by default in notebooks).
 */
import * as tf from '@tensorflow/tfjs';
import * as os from 'os';
import { TslabCamError } from '../errors';
import { runChunks, type LongRunOptions } from '../run/chunks';
import type { RunProgress } from '../run/progress';

/** One progress event (src/run's): units done of total, rate, ETA, state. */
export type ChunkProgress = RunProgress;

/** Options of every method that runs many passes: src/run's (signal, onProgress, progress, batchSize). */
export type { LongRunOptions };

/** Checks a user's batchSize: a whole number ≥ 1, or absent. */
export function checkBatchSize(batchSize: unknown, label: string): number | undefined {
  if (batchSize === undefined) return undefined;
  if (typeof batchSize !== 'number' || !Number.isInteger(batchSize) || batchSize < 1) {
    throw new TslabCamError('BAD_OPTION', `${label}: batchSize must be a whole number ≥ 1, got ${String(batchSize)}.`,
      'Pass e.g. {batchSize: 32}, or leave it out to size the batches from the available memory.');
  }
  return batchSize;
}

/** The wasm heap cannot grow past 4 GiB − 64 KiB; other backends are bounded by the machine. */
const WASM_LIMIT = 4294901760;

/** Per-image bytes of every layer output of the model: what one forward pass inside tf.tidy holds. */
export function forwardBytesPerImage(model: tf.LayersModel | tf.GraphModel): number {
  const bytes = (shape: readonly (number | null)[]): number => 4 * shape.slice(1).reduce<number>((n, d) => n * (d !== null && d > 0 ? d : 1), 1);
  // A frozen graph lists no layer output shapes: 64× the input is a generous guess for the
  // activations a CNN keeps alive in one forward pass.
  if (model instanceof tf.GraphModel) return 64 * model.inputs.reduce((n, t) => n + bytes(t.shape ?? []), 0);
  let total = model.inputs.reduce((n, t) => n + bytes(t.shape), 0);
  for (const layer of model.layers) {
    const out = layer.outputShape as (number | null)[] | (number | null)[][];
    const shapes = Array.isArray(out[0]) ? (out as (number | null)[][]) : [out as (number | null)[]];
    total += shapes.reduce((n, s) => n + bytes(s), 0);
  }
  return total;
}

/**
 * Units per chunk: the user's batchSize, else as many as fit in a quarter of what the backend can
 * still hold (a tidy keeps every intermediate of a chunk until the chunk ends), at most `total`.
 */
export function chunkSize(total: number, bytesPerUnit: number, batchSize?: number): number {
  if (batchSize !== undefined) return Math.max(1, Math.min(batchSize, total));
  const used = tf.memory().numBytes;
  const limit = tf.getBackend() === 'wasm' ? Math.min(WASM_LIMIT - used, os.freemem()) : os.freemem();
  const fits = Math.floor((0.25 * Math.max(0, limit)) / Math.max(1, bytesPerUnit));
  return Math.max(1, Math.min(total, fits));
}

export interface ChunkSpec extends Omit<LongRunOptions, 'batchSize'> {
  readonly total: number;
  readonly chunk: number;
  readonly label: string;
  readonly unit: string;
  readonly detail?: (done: number, total: number) => string;
}

/**
 * Runs work(start, end) over [0, total) in chunks of `chunk` through src/run's runChunks: each
 * chunk in its own tfjs scope (work returns plain data), the AbortSignal and the kernel's stop
 * button checked between chunks (CANCELLED), progress events to onProgress and the default bar.
 */
export function forChunks<T>(spec: ChunkSpec, work: (start: number, end: number) => T): T[] {
  return runChunks(spec, (start, end) => work(start, end));
}
