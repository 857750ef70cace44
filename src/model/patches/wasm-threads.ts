/**
 * XNNPACK's thread pool for the tfjs wasm backend under Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded-SIMD binary but never loads it under Node, for three
 * reasons (DESIGN.md, "wasm threads under Node"), each handled here for the duration of
 * `tf.setBackend('wasm')` only:
 *  1. its WASM_HAS_MULTITHREAD_SUPPORT flag answers false under Node (tfjs issue #3830): the flag
 *     is set before the backend starts;
 *  2. Emscripten's pthread workers are created with `new Worker(blob: URL)`, which Node's
 *     worker_threads rejects, and each is sent the main script as a Blob: `worker_threads.Worker`
 *     is swapped for `PthreadWorker`, which runs the package's own worker code and points the
 *     worker at the package's `wasm-out/tfjs-backend-wasm-threaded-simd.js` file;
 *  3. the C++ side caps the pool at half the logical cores that `os.cpus()` reports, so 2 threads
 *     on 2 vCPUs silently gave 1: `os.cpus()` reports at least 2·n cores while the pool starts.
 * Emscripten starts a pool of 8 workers up front. A PthreadWorker only becomes a real thread when
 * Emscripten hands it a pthread to run, so n threads cost n − 1 worker threads (XNNPACK's caller
 * thread is the first); measured here, 8 eager workers took ~5 s and +545 MB RSS to start on a
 * loaded 2-vCPU machine, 1 lazy one ~0.4 s and +70 MB. The workers are always unref'd (see
 * PthreadWorker.ref), so they never keep the process alive.
 *
 * All of this relies on private details of the Emscripten glue in tfjs-backend-wasm 4.22.0 (its
 * message names 'load' / 'loaded' / 'run', `urlOrBlob`, `worker.on('message')`), which is why the
 * package version is pinned and test/model/backend.test.ts checks the threaded outputs.
 */
import { EventEmitter } from 'events';
import * as path from 'path';

type NodeWorker = import('worker_threads').Worker;
type WorkerCtor = new (code: string, options: { eval: true }) => NodeWorker;

interface PthreadMessage {
  readonly cmd?: string;
  readonly [key: string]: unknown;
}

function wasmPackageDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

/** The package's pthread worker code, escaped as tfjs escapes it for its Blob. */
function workerCode(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const mod = require(path.join(wasmPackageDir(), 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  return mod.wasmWorkerContents.replace(/\n/g, '\\n');
}

/**
 * Stands in for one Emscripten pool worker. Emscripten sends every pool worker 'load' (the wasm
 * module and memory) and waits for 'loaded'; this answers at once and starts a real worker only
 * when a pthread is to 'run' on it, sending it the remembered 'load' first. The worker handles
 * 'load' synchronously (importScripts + the instance), so 'run' may follow right behind it: the
 * main thread cannot wait for the real 'loaded' here, because pthread creation blocks it inside
 * wasm until the new thread checks in.
 */
function pthreadWorkerClass(Base: WorkerCtor, code: string, glue: string, started: { count: number }): new (url: unknown) => EventEmitter {
  return class PthreadWorker extends EventEmitter {
    private real: NodeWorker | null = null;
    private load: PthreadMessage | null = null;
    private swallowedLoaded = false;

    constructor(_url: unknown) {
      super();
    }

    postMessage(msg: PthreadMessage, transfer?: readonly unknown[]): void {
      if (!this.real && msg && msg.cmd === 'load') {
        this.load = { ...msg, urlOrBlob: glue };
        setImmediate(() => this.emit('message', { cmd: 'loaded' }));
        return;
      }
      const real = this.real ?? this.start();
      real.postMessage(msg, transfer as never);
    }

    private start(): NodeWorker {
      const real = new Base(code, { eval: true });
      started.count++;
      real.on('message', (m: PthreadMessage) => {
        // The real worker's own 'loaded' was already answered for it.
        if (!this.swallowedLoaded && m && m.cmd === 'loaded') {
          this.swallowedLoaded = true;
          return;
        }
        this.emit('message', m);
      });
      real.on('error', (e: unknown) => this.emit('error', e));
      real.unref();
      if (this.load) real.postMessage(this.load);
      this.real = real;
      return real;
    }

    unref(): void {
      this.real?.unref();
    }

    /**
     * Emscripten refs a worker while a pthread runs on it, and XNNPACK's pool threads run (wait
     * for work) for the life of the process, which then never exits. They only ever work while
     * the main thread is inside a wasm call, so they stay unref'd.
     */
    ref(): void {
      this.real?.unref();
    }

    terminate(): Promise<number> {
      return this.real ? this.real.terminate() : Promise.resolve(0);
    }
  };
}

/** What starting the threaded backend did. */
export interface ThreadedStart {
  /** Real worker threads started (threads − 1 when XNNPACK got what it asked for). */
  readonly workers: number;
}

/**
 * Runs `start` (which must call and await tf.setBackend('wasm')) with the threaded binary and
 * `threads` XNNPACK threads. `setThreadsCount` is tfjs-backend-wasm's own setter. Everything
 * swapped is put back afterwards, also when `start` throws.
 */
export async function withWasmThreads<T>(threads: number, setThreadsCount: (n: number) => void, setFlag: () => void,
  start: () => Promise<T>): Promise<{ value: T; started: ThreadedStart }> {
  // The real modules, not TypeScript's import wrappers (their properties are read-only getters).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const wt = require('worker_threads') as { Worker: WorkerCtor };
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const os = require('os') as { cpus: () => unknown[] };
  const g = globalThis as { Worker?: unknown };
  const hadGlobalWorker = Object.prototype.hasOwnProperty.call(g, 'Worker');
  const globalWorker = g.Worker;
  const Base = wt.Worker;
  const cpus = os.cpus;
  const started = { count: 0 };
  const glue = path.join(wasmPackageDir(), 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  setFlag();
  setThreadsCount(threads);
  wt.Worker = pthreadWorkerClass(Base, workerCode(), glue, started) as unknown as WorkerCtor;
  os.cpus = () => {
    const list = cpus.call(os);
    while (list.length < 2 * threads) list.push(list[0]);
    return list;
  };
  try {
    const value = await start();
    return { value, started: { workers: started.count } };
  } finally {
    wt.Worker = Base;
    os.cpus = cpus;
    // The glue sets the global Worker while it starts (Node has none); its pool is already
    // created by now, so the global goes back to what it was.
    if (hadGlobalWorker) g.Worker = globalWorker;
    else delete g.Worker;
  }
}
