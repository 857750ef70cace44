/**
 * Memory bounds for batched work, decided before anything is allocated.
 *
 * The wasm backend keeps every tensor in one linear heap. Read from tfjs-backend-wasm 4.22's
 * Emscripten glue (all three builds): the heap starts at 16 MiB and grows on demand up to
 * getHeapMax() = 4 GiB − 64 KiB; it never shrinks. Measured here (768 MiB tensors one after the
 * other): the heap grew to 3,840 MiB, then `_malloc` returned 0 instead of failing, and tfjs used
 * offset 0 as the tensor's address: writing it overwrote the heap's own data and every later call,
 * also after disposing everything, died with "Aborted()". Re-initialising does not save the
 * session: tf.removeBackend('wasm') itself throws "Aborted()" (the backend's dispose calls into
 * the dead module); with that dispose skipped, a re-registered backend gets a fresh 16 MiB heap
 * and computes the same numbers again, but every tensor of the old one (model weights included) is
 * gone and the old heap's ~4 GiB stays resident. A single request of 4 GiB or more is another
 * hazard read from the code, not measured: `_malloc` takes a 32-bit size, which wraps to a small
 * number (tf.fill then failed earlier, creating its JavaScript array).
 *
 * So: `guardWasmHeap` makes both cases a typed OUT_OF_MEMORY error thrown before tfjs touches the
 * address, which leaves the heap intact (the next call works), and `planChunks` sizes chunks from
 * the input, the model's activations and the memory left, refusing up front what cannot fit.
 */
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';

/** Emscripten's getHeapMax() in tfjs-backend-wasm 4.22: the wasm32 limit minus one 64 KiB page. */
export const WASM_HEAP_LIMIT_BYTES = 4294901760;

const MIB = 1024 * 1024;

function mib(bytes: number): string {
  return bytes >= 10 * MIB ? `${Math.round(bytes / MIB).toLocaleString('en-US')} MiB` : `${(bytes / MIB).toFixed(1)} MiB`;
}

const RECOVER = 'Free what you no longer need (tf.dispose, or dispose() on results), or use a smaller input or batchSize. ' +
  'The backend is intact and the next call works; the wasm heap keeps its size until the kernel restarts.';

interface WasmModule {
  _malloc: (bytes: number) => number;
  HEAPU8: Uint8Array;
}

function wasmModule(): WasmModule | null {
  if (tf.getBackend() !== 'wasm') return null;
  const wasm = (tf.backend() as unknown as { wasm?: WasmModule }).wasm;
  return wasm && typeof wasm._malloc === 'function' ? wasm : null;
}

const guarded = new WeakSet<object>();

/**
 * Makes a failed wasm allocation a TslabCamError (code OUT_OF_MEMORY) instead of silent heap
 * corruption (see the module comment). Idempotent; does nothing on other backends. Returns
 * whether the active backend is guarded.
 */
export function guardWasmHeap(): boolean {
  const wasm = wasmModule();
  if (!wasm) return false;
  if (guarded.has(wasm)) return true;
  let inner = wasm._malloc;
  const guard = (bytes: number): number => {
    if (bytes > WASM_HEAP_LIMIT_BYTES) {
      throw new TslabCamError('OUT_OF_MEMORY',
        `One tensor of ${mib(bytes)} was requested, more than the wasm backend can ever hold (${mib(WASM_HEAP_LIMIT_BYTES)}).`, RECOVER);
    }
    const address = inner(bytes);
    // Emscripten's lazy export replaces Module._malloc on its first call; keep the guard in front.
    if (wasm._malloc !== guard) {
      inner = wasm._malloc;
      wasm._malloc = guard;
    }
    if (bytes > 0 && address === 0) {
      throw new TslabCamError('OUT_OF_MEMORY',
        `The wasm backend could not allocate ${mib(bytes)}: its heap is ${mib(wasm.HEAPU8.length)} of at most ${mib(WASM_HEAP_LIMIT_BYTES)}, ` +
        `${mib(tf.memory().numBytes)} of it held by live tensors.`, RECOVER);
    }
    return address;
  };
  wasm._malloc = guard;
  guarded.add(wasm);
  return true;
}

/** What the active backend can still hold. */
export interface MemoryBudget {
  readonly backend: string;
  /** The most the backend can hold: the wasm heap limit, else the machine's memory. */
  readonly limitBytes: number;
  /** Held by live tensors now (tf.memory().numBytes). */
  readonly usedBytes: number;
  /** wasm only: the heap's current size (it grows on demand and never shrinks). */
  readonly heapBytes: number | null;
  /** What new tensors can take: limit − used, and never more than the heap's free part plus the machine's free memory. */
  readonly availableBytes: number;
}

/**
 * The active backend's memory budget. For wasm, available = min(L − U, (H − U) + free RAM) with
 * L the heap limit, H the heap now and U the bytes of live tensors; elsewhere, the machine's
 * free memory.
 */
export function memoryBudget(): MemoryBudget {
  const usedBytes = tf.memory().numBytes;
  const wasm = wasmModule();
  if (wasm) {
    guardWasmHeap();
    const heapBytes = wasm.HEAPU8.length;
    const availableBytes = Math.max(0, Math.min(WASM_HEAP_LIMIT_BYTES - usedBytes, heapBytes - usedBytes + os.freemem()));
    return { backend: 'wasm', limitBytes: WASM_HEAP_LIMIT_BYTES, usedBytes, heapBytes, availableBytes };
  }
  return { backend: tf.getBackend(), limitBytes: os.totalmem(), usedBytes, heapBytes: null, availableBytes: os.freemem() };
}

/** The activation sizes of a layers model, per image, in bytes (float32). */
export interface ActivationBytes {
  readonly inputBytes: number;
  /** The largest single layer output, and its layer. */
  readonly largestBytes: number;
  readonly largestLayer: string;
  /** All layer outputs together: what a gradient pass keeps for the backward sweep. */
  readonly totalBytes: number;
}

function shapeBytes(shape: readonly (number | null)[]): number {
  return 4 * shape.slice(1).reduce<number>((n, d) => n * (d ?? 1), 1);
}

/** Reads per-image activation sizes from the layers' output shapes (no tensor is made). */
export function activationBytes(model: tf.LayersModel): ActivationBytes {
  const inputBytes = model.inputs.reduce((n, t) => n + shapeBytes(t.shape), 0);
  let largestBytes = inputBytes;
  let largestLayer = model.inputs[0]?.name ?? 'input';
  let totalBytes = inputBytes;
  for (const layer of model.layers) {
    const out = layer.outputShape as (number | null)[] | (number | null)[][];
    const shapes = Array.isArray(out[0]) ? (out as (number | null)[][]) : [out as (number | null)[]];
    const bytes = shapes.reduce((n, s) => n + shapeBytes(s), 0);
    totalBytes += bytes;
    if (bytes > largestBytes) {
      largestBytes = bytes;
      largestLayer = layer.name;
    }
  }
  return { inputBytes, largestBytes, largestLayer, totalBytes };
}

/**
 * Bytes one image needs during a pass: a forward pass holds at most a layer's input and output at
 * once (tidy frees the rest), ≈ input + 2 × largest; a gradient pass keeps every activation for
 * the backward sweep and adds a gradient of the same size, ≈ 2 × total.
 */
export function bytesPerImage(a: ActivationBytes, pass: 'forward' | 'gradient'): number {
  return pass === 'forward' ? a.inputBytes + 2 * a.largestBytes : 2 * a.totalBytes;
}

export interface ChunkPlanRequest {
  /** Units to process (images, masked copies, scenes …). */
  readonly total: number;
  /** Bytes one unit needs while its chunk runs (see bytesPerImage). */
  readonly bytesPerItem: number;
  /** Bytes the run needs regardless of the chunk size (results it accumulates, the input). */
  readonly fixedBytes?: number;
  /** The user's batchSize; it is lowered when it cannot fit, never raised. */
  readonly batchSize?: number;
  /** Share of the available memory a chunk may use. Default 0.5: estimates are rough. */
  readonly share?: number;
  /** For messages: the operation and its unit, e.g. "Score-CAM", "masked images". */
  readonly label: string;
  readonly unit?: string;
  /** Defaults to memoryBudget(); tests pass a budget. */
  readonly budget?: MemoryBudget;
}

export interface ChunkPlan {
  /** Units per chunk. */
  readonly chunk: number;
  readonly chunks: number;
  /** Estimated bytes of one chunk, fixed part included. */
  readonly chunkBytes: number;
  /** True when the requested batchSize was lowered to fit. */
  readonly lowered: boolean;
  readonly budget: MemoryBudget;
}

/**
 * Sizes chunks so that fixed + chunk × bytesPerItem ≤ share × available. Throws OUT_OF_MEMORY,
 * before anything is allocated, when even one unit cannot fit.
 */
export function planChunks(r: ChunkPlanRequest): ChunkPlan {
  const budget = r.budget ?? memoryBudget();
  const share = r.share ?? 0.5;
  const fixed = Math.max(0, r.fixedBytes ?? 0);
  const usable = budget.availableBytes * share;
  const unit = r.unit ?? 'item';
  if (!(r.bytesPerItem > 0) || fixed + r.bytesPerItem > usable) {
    throw new TslabCamError('OUT_OF_MEMORY',
      `${r.label}: one ${unit} needs about ${mib(fixed + r.bytesPerItem)}, but the ${budget.backend} backend has ${mib(budget.availableBytes)} available ` +
      `(limit ${mib(budget.limitBytes)}, ${mib(budget.usedBytes)} held by live tensors; a chunk may use ${Math.round(share * 100)}% of it). Nothing was allocated.`,
      'Use a smaller input image (resize it), a target layer with fewer channels or positions, or dispose tensors you no longer need; ' +
      'with internet access, npm install @tensorflow/tfjs-node gives a backend that is not bound by the 4 GiB wasm heap.');
  }
  const fits = Math.max(1, Math.floor((usable - fixed) / r.bytesPerItem));
  const wanted = r.batchSize !== undefined ? Math.max(1, Math.floor(r.batchSize)) : Math.max(1, r.total);
  const chunk = Math.max(1, Math.min(wanted, fits, Math.max(1, r.total)));
  return {
    chunk, chunks: r.total > 0 ? Math.ceil(r.total / chunk) : 0, chunkBytes: fixed + chunk * r.bytesPerItem,
    lowered: r.batchSize !== undefined && chunk < Math.floor(r.batchSize) && chunk < r.total, budget,
  };
}
