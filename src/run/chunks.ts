/**
 * The chunk runner every long operation is built on: it splits `total` units into chunks, checks
 * for cancellation between chunks, reports progress, and guarantees that the tensors it made are
 * released when the run fails, is cancelled, or is terminated by a kernel interrupt.
 *
 * Two variants:
 * - `runChunksAsync` yields to the event loop between chunks, so a kernel interrupt (SIGINT), an
 *   AbortSignal fired by a timer, or a user's `controller.abort()` from another cell's callback
 *   is seen at the next boundary. Use it for anything that can take more than a few seconds.
 *   A top-level-awaited async run that is interrupted stops at its next chunk boundary and the
 *   cell ends with the CANCELLED error, not with tslab's "Interrupted asynchronously".
 * - `runChunks` runs synchronously. Nothing asynchronous can reach it while it runs, so it stops
 *   only when its signal is already aborted (or is aborted by its own chunks or progress sink),
 *   or when the kernel interrupt terminates it; then its tensors, tfjs's engine state and the
 *   progress bar are put right on the next microtask (see interrupt.ts) and a CANCELLED message is
 *   printed to the cell, after tslab's own "Script execution was interrupted".
 */
import * as tf from '@tensorflow/tfjs';
import { CancelledError, TslabCamError } from '../errors';
import { listenForInterrupt, resetStaleKernelDepth, withRestore, type InterruptTarget } from './interrupt';
import { emitProgress, progressSinkFor, rateAndEta, type ProgressSink, type RunProgress, type RunState } from './progress';

/** The options every long operation takes (Score-CAM, Ablation-CAM, SmoothGrad, evaluate, training …). */
export interface LongRunOptions {
  /** Cancels the operation at its next chunk boundary; it then throws CANCELLED. */
  readonly signal?: AbortSignal;
  /** Receives progress events instead of the default display (a notebook or terminal bar). */
  readonly onProgress?: ProgressSink;
  /** `false`: no progress at all (no default bar). */
  readonly progress?: boolean;
  /** Units per chunk (images, channels, scenes …); by default sized from memory (planChunks). */
  readonly batchSize?: number;
}

/** What a run is: its size, its chunking, and how to describe it. */
export interface ChunkSpec extends Omit<LongRunOptions, 'batchSize'> {
  /** Units to do (≥ 0). */
  readonly total: number;
  /** Units per chunk (≥ 1); the last chunk may be smaller. */
  readonly chunk: number;
  /** The operation, e.g. "Score-CAM". */
  readonly label: string;
  /** Name of a unit in messages ("channels", "steps"); default "items". */
  readonly unit?: string;
  /** What is being done after `done` units, e.g. (d) => `image ${…}/8 · channels ${…}/1280`. */
  readonly detail?: (done: number, total: number) => string;
  /** Put the finished chunks' results (plain data only) into the CANCELLED error's `partial`. */
  readonly keepPartial?: boolean;
}

/** Passed to each chunk. */
export interface ChunkContext {
  /** Sets free text shown after the detail (e.g. "loss 0.31"). */
  note(text: string): void;
}

/** A chunk's work on units [start, end). Synchronous; its tensors are tidied unless returned. */
export type ChunkWork<T> = (start: number, end: number, ctx: ChunkContext) => T;

let nextRunId = 1;
/** Runs whose chunk is executing now, innermost last: a run started inside one is nested. */
const executing: Run[] = [];

class Run implements InterruptTarget {
  readonly id = nextRunId++;
  readonly parent: Run | null = executing.length ? executing[executing.length - 1] : null;
  readonly depth = executing.length;
  readonly started = Date.now();
  readonly unit: string;
  readonly total: number;
  readonly chunk: number;
  done = 0;
  note = '';
  state: RunState = 'running';
  interrupted = false;
  private readonly sink: ProgressSink | null;
  private wake: (() => void) | null = null;

  constructor(readonly spec: ChunkSpec) {
    if (!Number.isFinite(spec.total) || spec.total < 0) {
      throw new TslabCamError('BAD_OPTION', `${spec.label}: total must be a number ≥ 0, got ${spec.total}.`, 'Pass the number of units to process.');
    }
    if (!Number.isFinite(spec.chunk) || spec.chunk < 1) {
      throw new TslabCamError('BAD_OPTION', `${spec.label}: batchSize must be at least 1, got ${spec.chunk}.`, 'Pass batchSize ≥ 1, or leave it out to size chunks from memory.');
    }
    // The outermost run starts where no kernel runs: a raised depth is a terminated kernel's.
    if (executing.length === 0) resetStaleKernelDepth();
    this.total = Math.floor(spec.total);
    this.chunk = Math.floor(spec.chunk);
    this.unit = spec.unit ?? 'items';
    this.sink = progressSinkFor(spec);
  }

  interrupt(): void {
    this.interrupted = true;
    this.wake?.();
  }

  /** Why this run (or a run it is nested in) must stop, or null to go on. */
  reason(): 'signal' | 'interrupt' | null {
    for (let r: Run | null = this; r; r = r.parent) {
      if (r.spec.signal?.aborted) return 'signal';
      if (r.interrupted) return 'interrupt';
    }
    return null;
  }

  cancelled(reason: 'signal' | 'interrupt', partial: unknown): CancelledError {
    return new CancelledError({ label: this.spec.label, done: this.done, total: this.total, unit: this.unit, reason },
      this.spec.keepPartial ? partial : undefined);
  }

  event(): RunProgress {
    const elapsedMs = Date.now() - this.started;
    const detail = [this.spec.detail?.(this.done, this.total) ?? '', this.note].filter((s) => s !== '').join(' · ');
    return {
      id: this.id, parent: this.parent?.id ?? null, depth: this.depth, label: this.spec.label, detail,
      done: this.done, total: this.total, unit: this.unit, elapsedMs, ...rateAndEta(this.done, this.total, elapsedMs, this.state), state: this.state,
    };
  }

  emit(): void {
    emitProgress(this.sink, this.event());
  }

  end(state: Exclude<RunState, 'running'>): void {
    if (this.state !== 'running') return;
    this.state = state;
    this.emit();
  }

  /** Resolves on the next event-loop turn, or at once when interrupted or aborted. */
  yieldTurn(): Promise<void> {
    return new Promise<void>((resolve) => {
      const signal = this.spec.signal;
      let settled = false;
      const finish = (): void => {
        if (settled) return;
        settled = true;
        this.wake = null;
        signal?.removeEventListener('abort', finish);
        clearImmediate(timer);
        resolve();
      };
      const timer = setImmediate(finish);
      this.wake = finish;
      signal?.addEventListener('abort', finish, { once: true });
    });
  }
}

/** Tensors anywhere in a chunk's result (arrays, plain objects, Maps); typed arrays are skipped unread. */
export function tensorsIn(value: unknown, found: tf.Tensor[] = [], seen = new Set<unknown>()): tf.Tensor[] {
  if (value === null || typeof value !== 'object' || seen.has(value)) return found;
  seen.add(value);
  if (value instanceof tf.Tensor) {
    found.push(value);
  } else if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    // Data, not containers: walking a million indices would cost more than the chunk.
  } else if (value instanceof Map) {
    for (const v of value.values()) tensorsIn(v, found, seen);
  } else {
    for (const v of Object.values(value)) tensorsIn(v, found, seen);
  }
  return found;
}

/** Runs one chunk in its own tfjs scope: what it made is disposed unless it is in the result. */
function tidyChunk<T>(run: Run, work: ChunkWork<T>, start: number, end: number): T {
  const engine = tf.engine();
  const ctx: ChunkContext = { note: (text) => { run.note = text; } };
  executing.push(run);
  engine.startScope();
  let result: T;
  try {
    result = work(start, end, ctx);
  } catch (e) {
    engine.endScope();
    throw e;
  } finally {
    executing.pop();
  }
  if (result instanceof Promise) {
    engine.endScope();
    throw new TslabCamError('BAD_OPTION', `${run.spec.label}: a chunk returned a Promise.`,
      'Chunks run synchronously (tfjs scopes cannot span an await); runChunksAsync awaits between chunks for you.');
  }
  engine.endScope(tensorsIn(result));
  return result;
}

/**
 * Runs `work` over [0, total) in chunks of `spec.chunk` units, synchronously.
 *
 * Returns the chunks' results in order. Guarantees: on CANCELLED, on any error, and after a kernel
 * interrupt terminated it, every tensor made by the run (including results of finished chunks) is
 * disposed and the progress display ends as cancelled/failed; on success only the returned
 * tensors remain.
 */
export function runChunks<T>(spec: ChunkSpec, work: ChunkWork<T>): T[] {
  const run = new Run(spec);
  const engine = tf.engine();
  const results: T[] = [];
  const onTerminated = (): void => {
    run.end('cancelled');
    process.stderr.write(`TslabCamError [CANCELLED]: ${run.cancelled('interrupt', undefined).message}\n`);
  };
  return withRestore(() => undefined, () => {
    run.emit();
    engine.startScope();
    let ok = false;
    try {
      for (let start = 0; start < run.total; start += run.chunk) {
        const why = run.reason();
        if (why) throw run.cancelled(why, results.slice());
        const end = Math.min(run.total, start + run.chunk);
        results.push(tidyChunk(run, work, start, end));
        run.done = end;
        run.emit();
      }
      const why = run.reason();
      if (why && run.done < run.total) throw run.cancelled(why, results.slice());
      ok = true;
    } catch (e) {
      run.end(e instanceof CancelledError ? 'cancelled' : 'failed');
      throw e;
    } finally {
      // Success: the results move to the caller's scope; otherwise everything the run made goes.
      engine.endScope(ok ? tensorsIn(results) : undefined);
    }
    run.end('done');
    return results;
  }, onTerminated);
}

/**
 * Runs `work` over [0, total) in chunks, yielding to the event loop before the first chunk and
 * between chunks, so that an interrupt or an AbortSignal is seen within one chunk's time.
 * Each chunk is synchronous. Same guarantees as runChunks; the tensors of finished chunks are
 * tracked explicitly (no tfjs scope can stay open across an await).
 */
export async function runChunksAsync<T>(spec: ChunkSpec, work: ChunkWork<T>): Promise<T[]> {
  const run = new Run(spec);
  // Leave the cell's synchronous stretch first: under tslab it runs with breakOnSigint, where an
  // interrupt terminates instead of cancelling.
  run.emit();
  const stop = listenForInterrupt(run);
  const results: T[] = [];
  try {
    await run.yieldTurn();
    for (let start = 0; start < run.total; start += run.chunk) {
      const why = run.reason();
      if (why) throw run.cancelled(why, results.slice());
      const end = Math.min(run.total, start + run.chunk);
      results.push(withRestore(() => undefined, () => tidyChunk(run, work, start, end)));
      run.done = end;
      run.emit();
      await run.yieldTurn();
    }
    const why = run.reason();
    if (why && run.done < run.total) throw run.cancelled(why, results.slice());
  } catch (e) {
    tf.dispose(tensorsIn(results));
    run.end(e instanceof CancelledError ? 'cancelled' : 'failed');
    throw e;
  } finally {
    stop();
  }
  run.end('done');
  return results;
}
