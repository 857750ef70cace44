import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { registerWasmGradientKernels } from './patches/kernels';
import { withWasmThreads } from './patches/wasm-threads';

/** The compute backends this library knows, fastest first. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendAttempt {
  readonly name: BackendName;
  readonly ok: boolean;
  readonly detail: string;
}

export interface BackendInfo {
  /** The backend tfjs runs on now. */
  readonly name: string;
  /** Why this one: the option, the environment variable, or the automatic order. */
  readonly reason: string;
  /** Every backend tried, in order, and what happened. */
  readonly attempts: readonly BackendAttempt[];
  readonly tfjsVersion: string;
  /** wasm only: whether SIMD and the threaded binary are on. */
  readonly wasmSimd?: boolean;
  readonly wasmThreads?: boolean;
  /** wasm only: XNNPACK's thread count as the backend reports it (1 = single-threaded). */
  readonly wasmThreadCount?: number;
  /** wasm only: how the thread count was chosen, e.g. "TSLAB_CAM_THREADS=1". */
  readonly threadsReason?: string;
}

export interface BackendOptions {
  /** Force a backend; otherwise TSLAB_CAM_BACKEND, otherwise tensorflow → wasm → cpu. */
  readonly backend?: BackendName;
  /**
   * wasm only: XNNPACK threads, a count or 'all' (every logical core, at most 8); otherwise
   * TSLAB_CAM_THREADS, otherwise 'all'. Fixed once the wasm backend has started (per process).
   */
  readonly threads?: number | 'all';
}

/** XNNPACK's own ceiling, and the size of the pthread pool the Emscripten glue starts. */
export const MAX_WASM_THREADS = 8;

interface ThreadChoice {
  readonly count: number;
  readonly reason: string;
}

function allCores(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_WASM_THREADS, n));
}

/** The thread count asked for: the option, else TSLAB_CAM_THREADS, else all cores. */
export function chooseThreads(option: number | 'all' | undefined, env: string | undefined): ThreadChoice {
  const parse = (v: number | string, where: string): number => {
    if (v === 'all') return allCores();
    const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1) {
      throw new TslabCamError('BACKEND', `${where} is ${JSON.stringify(v)}, not a thread count.`,
        `Use a whole number from 1 to ${MAX_WASM_THREADS}, or 'all' for every core.`);
    }
    return Math.min(MAX_WASM_THREADS, n);
  };
  if (option !== undefined) return { count: parse(option, 'The threads option'), reason: `threads option ${String(option)}` };
  if (env !== undefined && env.trim() !== '') return { count: parse(env.trim(), 'TSLAB_CAM_THREADS'), reason: `TSLAB_CAM_THREADS=${env.trim()}` };
  return { count: allCores(), reason: `default: all ${allCores()} logical cores (at most ${MAX_WASM_THREADS})` };
}

/** The thread count the wasm backend started with in this process, once it has. */
let wasmStarted: ThreadChoice | null = null;

let current: Promise<BackendInfo> | null = null;
let info: BackendInfo | null = null;

function isBackendName(s: string): s is BackendName {
  return (BACKEND_ORDER as readonly string[]).includes(s);
}

function loadTfjsNode(): string {
  // tfjs-node is optional: its install downloads libtensorflow and is skipped offline.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('@tensorflow/tfjs-node');
  return 'loaded @tensorflow/tfjs-node';
}

interface WasmModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

function loadWasm(): WasmModule {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require('@tensorflow/tfjs-backend-wasm') as WasmModule;
}

/** Whether tfjs has already created (initialised) this backend; findBackend would create it. */
function isInitialized(name: string): boolean {
  return name in (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
}

async function activate(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

/**
 * Starts wasm with the chosen thread count. More than one thread runs the threaded-SIMD binary
 * through patches/wasm-threads.ts; one thread runs tfjs's usual SIMD binary. The count is fixed
 * for the life of the process (the wasm module starts once).
 */
async function startWasm(threads: ThreadChoice): Promise<string> {
  const wasm = loadWasm();
  if (wasmStarted && isInitialized('wasm')) {
    await activate('wasm');
    return `active (${wasmStarted.count} thread${wasmStarted.count > 1 ? 's' : ''})`;
  }
  if (isInitialized('wasm')) {
    // tfjs started wasm on its own (an op ran before initBackend): its thread count stays.
    await activate('wasm');
    const count = wasm.getThreadsCount();
    wasmStarted = { count, reason: `tfjs started the wasm backend before initBackend (a tensor op ran first), so ${threads.reason} could not apply` };
    return `active (already started by tfjs, ${count} thread${count > 1 ? 's' : ''})`;
  }
  if (threads.count > 1) {
    const { started } = await withWasmThreads(threads.count, (n) => wasm.setThreadsCount(n),
      () => tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true), () => activate('wasm'));
    wasmStarted = threads;
    return `active, threaded-SIMD binary, ${wasm.getThreadsCount()} threads (${started.workers} worker thread${started.workers === 1 ? '' : 's'})`;
  }
  await activate('wasm');
  wasmStarted = threads;
  return 'active, SIMD binary, 1 thread';
}

async function tryBackend(name: BackendName, threads: ThreadChoice): Promise<string> {
  if (name === 'tensorflow') loadTfjsNode();
  if (name === 'wasm') return startWasm(threads);
  await activate(name);
  return `active`;
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 200);
}

/**
 * Choose and activate the compute backend. Idempotent: the first call decides, later calls
 * return the same answer unless `force` names a different backend.
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  const env = process.env.TSLAB_CAM_BACKEND;
  if (options.backend !== undefined && !isBackendName(options.backend)) {
    throw new TslabCamError('BACKEND', `Unknown backend '${String(options.backend)}'.`,
      `Use one of ${BACKEND_ORDER.join(', ')}.`);
  }
  if (env !== undefined && env !== '' && !isBackendName(env)) {
    throw new TslabCamError('BACKEND', `TSLAB_CAM_BACKEND='${env}' is not a backend this library knows.`,
      `Set it to one of ${BACKEND_ORDER.join(', ')}, or unset it.`);
  }
  const wanted: BackendName | undefined = options.backend ?? (env ? (env as BackendName) : undefined);
  const threads = chooseThreads(options.threads, process.env.TSLAB_CAM_THREADS);
  if (options.threads !== undefined && wasmStarted && wasmStarted.count !== threads.count) {
    throw new TslabCamError('BACKEND', `The wasm backend already runs with ${wasmStarted.count} thread(s) in this process; ${threads.count} were asked for (${threads.reason}).`,
      'Set TSLAB_CAM_THREADS (or the threads option) before the first initBackend call, or restart the kernel / process.');
  }
  if (current && (!wanted || (info && info.name === wanted))) return current;
  current = select(wanted, options.backend !== undefined ? 'option' : wanted ? 'TSLAB_CAM_BACKEND' : 'auto', wasmStarted ?? threads);
  try {
    return await current;
  } catch (e) {
    current = null;
    throw e;
  }
}

async function select(wanted: BackendName | undefined, source: 'option' | 'TSLAB_CAM_BACKEND' | 'auto', threads: ThreadChoice): Promise<BackendInfo> {
  const attempts: BackendAttempt[] = [];
  const order = wanted ? [wanted] : BACKEND_ORDER;
  for (const name of order) {
    try {
      const detail = await tryBackend(name, threads);
      attempts.push({ name, ok: true, detail });
      const reason = source === 'auto'
        ? (attempts.length === 1 ? `first in the automatic order ${BACKEND_ORDER.join(' → ')}`
          : `automatic order ${BACKEND_ORDER.join(' → ')}; ${attempts.filter((a) => !a.ok).map((a) => a.name).join(', ')} unavailable`)
        : source === 'option' ? `requested by the backend option` : `requested by TSLAB_CAM_BACKEND`;
      const made: BackendInfo = { name: tf.getBackend(), reason, attempts, tfjsVersion: tf.version.tfjs, ...wasmFlags() };
      info = made;
      // wasm lacks three conv gradient kernels; without them any tf.grad through a conv fails.
      if (made.name === 'wasm') registerWasmGradientKernels();
      return made;
    } catch (e) {
      attempts.push({ name, ok: false, detail: describe(e) });
    }
  }
  throw new TslabCamError('BACKEND',
    `No compute backend could start (${attempts.map((a) => `${a.name}: ${a.detail}`).join('; ')}).`,
    wanted ? `Unset TSLAB_CAM_BACKEND or the backend option to let the library pick one that works.`
      : `Reinstall the package's dependencies with npm install.`);
}

function wasmFlags(): Pick<BackendInfo, 'wasmSimd' | 'wasmThreads' | 'wasmThreadCount' | 'threadsReason'> {
  if (tf.getBackend() !== 'wasm') return {};
  const count = loadWasm().getThreadsCount();
  return { wasmSimd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), wasmThreads: count > 1, wasmThreadCount: count, threadsReason: wasmStarted?.reason };
}

/** Which backend runs and why. Starts the automatic choice if nothing chose yet. */
export async function backendInfo(): Promise<BackendInfo> {
  return info ?? initBackend();
}


export { tf };
