import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { registerWasmGradientKernels } from './patches/kernels';
import { guardWasmHeap } from '../run/memory';

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
  /** wasm only: whether SIMD and threads are on (threads are always off in Node). */
  readonly wasmSimd?: boolean;
  readonly wasmThreads?: boolean;
}

export interface BackendOptions {
  /** Force a backend; otherwise TSLAB_CAM_BACKEND, otherwise tensorflow → wasm → cpu. */
  readonly backend?: BackendName;
}

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

function loadWasm(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require('@tensorflow/tfjs-backend-wasm');
  return 'loaded @tensorflow/tfjs-backend-wasm';
}

async function tryBackend(name: BackendName): Promise<string> {
  if (name === 'tensorflow') loadTfjsNode();
  if (name === 'wasm') loadWasm();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
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
  if (current && (!wanted || (info && info.name === wanted))) return current;
  current = select(wanted, options.backend !== undefined ? 'option' : wanted ? 'TSLAB_CAM_BACKEND' : 'auto');
  try {
    return await current;
  } catch (e) {
    current = null;
    throw e;
  }
}

async function select(wanted: BackendName | undefined, source: 'option' | 'TSLAB_CAM_BACKEND' | 'auto'): Promise<BackendInfo> {
  const attempts: BackendAttempt[] = [];
  const order = wanted ? [wanted] : BACKEND_ORDER;
  for (const name of order) {
    try {
      const detail = await tryBackend(name);
      attempts.push({ name, ok: true, detail });
      const reason = source === 'auto'
        ? (attempts.length === 1 ? `first in the automatic order ${BACKEND_ORDER.join(' → ')}`
          : `automatic order ${BACKEND_ORDER.join(' → ')}; ${attempts.filter((a) => !a.ok).map((a) => a.name).join(', ')} unavailable`)
        : source === 'option' ? `requested by the backend option` : `requested by TSLAB_CAM_BACKEND`;
      const made: BackendInfo = { name: tf.getBackend(), reason, attempts, tfjsVersion: tf.version.tfjs, ...wasmFlags() };
      info = made;
      // wasm lacks three conv gradient kernels; without them any tf.grad through a conv fails.
      if (made.name === 'wasm') registerWasmGradientKernels();
      // A failed wasm allocation otherwise corrupts the heap for good (src/run/memory.ts).
      guardWasmHeap();
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

function wasmFlags(): { wasmSimd?: boolean; wasmThreads?: boolean } {
  if (tf.getBackend() !== 'wasm') return {};
  return { wasmSimd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), wasmThreads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') };
}

/** Which backend runs and why. Starts the automatic choice if nothing chose yet. */
export async function backendInfo(): Promise<BackendInfo> {
  return info ?? initBackend();
}


export { tf };
