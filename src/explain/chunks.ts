/**
 * A small local chunk loop for the forward-pass methods (Score-CAM, Ablation-CAM, SmoothGrad):
 * split `total` units into chunks, tidy each chunk, stop between chunks when the AbortSignal fired,
 * and report progress with a rate and an ETA. Its options are those of src/run's LongRunOptions
 * (branch i18-cancel), so these methods can move onto that runner (kernel interrupt, default
 * progress bars, memory bounds) by swapping this file.
 */
import * as tf from '@tensorflow/tfjs';
import * as os from 'os';
import { TslabCamError } from '../errors';

/** One progress event: units done of total, the rate so far and the estimated time left. */
export interface ChunkProgress {
  /** The operation, e.g. "Score-CAM". */
  readonly label: string;
  /** Where it is, e.g. "image 3/8 · channels 512/1280". */
  readonly detail: string;
  readonly done: number;
  readonly total: number;
  readonly unit: string;
  readonly elapsedMs: number;
  /** Units per second so far (0 before the first chunk ends). */
  readonly rate: number;
  /** Milliseconds left at that rate; null before there is a rate. */
  readonly etaMs: number | null;
}

/** Options of every method that runs many passes. */
export interface LongRunOptions {
  /** Stops the run at the next chunk boundary with a CANCELLED error. */
  readonly signal?: AbortSignal;
  /** Receives a progress event after every chunk (and one before the first). */
  readonly onProgress?: (p: ChunkProgress) => void;
  /** Units per chunk (masked images, ablated channels, noise samples); default sized from memory. */
  readonly batchSize?: number;
}

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
export function forwardBytesPerImage(model: tf.LayersModel): number {
  const bytes = (shape: readonly (number | null)[]): number => 4 * shape.slice(1).reduce<number>((n, d) => n * (d ?? 1), 1);
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
 * Runs work(start, end) over [0, total) in chunks of `chunk`, each in its own tf.tidy (work
 * returns plain data), checking the signal before each chunk. Throws CANCELLED when it fired.
 */
export function forChunks<T>(spec: ChunkSpec, work: (start: number, end: number) => T): T[] {
  const started = Date.now();
  const emit = (done: number): void => {
    if (!spec.onProgress) return;
    const elapsedMs = Date.now() - started;
    const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
    spec.onProgress({
      label: spec.label, detail: spec.detail?.(done, spec.total) ?? '', done, total: spec.total, unit: spec.unit, elapsedMs,
      rate, etaMs: rate > 0 ? ((spec.total - done) * 1000) / rate : null,
    });
  };
  const out: T[] = [];
  emit(0);
  for (let start = 0; start < spec.total; start += spec.chunk) {
    if (spec.signal?.aborted) {
      throw new TslabCamError('CANCELLED', `${spec.label} was cancelled after ${start} of ${spec.total} ${spec.unit}.`,
        'Run it again without aborting, or with fewer channels (another layer) or a smaller batchSize to finish sooner.');
    }
    const end = Math.min(spec.total, start + spec.chunk);
    let value: { v: T } | null = null;
    tf.tidy(() => {
      value = { v: work(start, end) };
    });
    out.push((value as unknown as { v: T }).v);
    emit(end);
  }
  return out;
}
