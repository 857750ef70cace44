import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { inTslab } from '../host';
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
/** Whether the user has been told which backend runs (by the first-use line or by initBackend's answer). */
let reported = false;

/**
 * tfjs's cpu backend prints a multi-line "install our node backend" banner (console.warn) on its
 * first tensor write in Node. It is wrong advice offline (tfjs-node's install downloads
 * libtensorflow) and noise inside a cell; this library's first-use line says which backend runs
 * and how to get a faster one instead. The banner fires once per backend instance, gated by the
 * instance's private `firstUse` flag (tfjs-backend-cpu 4.22, backend_cpu.js `write`). tfjs makes a
 * new instance whenever it picks cpu by itself (a tensor created before any setBackend), so the
 * registered factory is wrapped to clear the flag on every instance it makes, and an instance that
 * exists already is cleared too. The PROD/IS_TEST flags would also silence it, but they silence
 * every tfjs warning.
 */
function silenceCpuBanner(): void {
  const clear = (b: unknown): void => {
    const cpu = b as { firstUse?: unknown } | null;
    if (cpu && typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
  };
  const engine = tf.engine();
  const entry = engine.registryFactory.cpu as (typeof engine.registryFactory)[string] & { quiet?: true } | undefined;
  if (entry && !entry.quiet) {
    const make = entry.factory;
    entry.factory = () => {
      const made = make();
      clear(made);
      return made;
    };
    entry.quiet = true;
  }
  clear(engine.registry.cpu);
}
silenceCpuBanner();

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
  // Whoever calls initBackend gets its answer back; the first-use line would repeat it.
  reported = true;
  return chooseBackend(options);
}

async function chooseBackend(options: BackendOptions): Promise<BackendInfo> {
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
  if (info && info.name !== tf.engine().backendName) info = adoptActiveBackend();
  return info ?? initBackend();
}

/**
 * The backend for a call that is about to compute (loadModel, loadImage). The first time, and
 * only if nobody chose yet, it makes the automatic choice initBackend() makes (tfjs-node → wasm →
 * cpu). A backend that is already active wins: the user's `tf.setBackend(...)`, an earlier
 * `initBackend`, or tfjs's own pick when the user created tensors first. Either way, inside a
 * notebook one line says which backend runs, once.
 *
 * Async because starting wasm is (it compiles its module); the synchronous methods (gradCam, …)
 * call `noteBackendInUse` instead. They cannot run before some backend exists: a model's weights
 * are tensors, so loadModel (async, here) or the user's own tensors chose one already.
 */
export async function ensureBackend(): Promise<BackendInfo> {
  if (info) return reportOnce(info);
  if (current) return reportOnce(await current);
  const adopted = adoptActiveBackend();
  return reportOnce(adopted ?? await chooseBackend({}));
}

/**
 * The synchronous counterpart of `ensureBackend` for the methods: it cannot start wasm, so it
 * adopts whatever backend tfjs runs now (creating tfjs's default if none is active) and reports
 * it once. Cheap after the first call.
 */
export function noteBackendInUse(): void {
  if (reported) return;
  const known = info ?? adoptActiveBackend();
  if (known) {
    reportOnce(known);
  } else {
    tf.backend();
    const made = adoptActiveBackend();
    if (made) reportOnce(made);
  }
}

/** The backend tfjs already runs, recorded as this library's answer; null when none is active yet. */
function adoptActiveBackend(): BackendInfo | null {
  const active = tf.engine().backendName as string | null;
  if (!active) return null;
  const reason = active === 'cpu'
    ? 'already active (chosen by tf.setBackend, or by tfjs for tensors created first)'
    : 'already active (chosen by tf.setBackend)';
  const made: BackendInfo = { name: active, reason, attempts: [], tfjsVersion: tf.version.tfjs, ...wasmFlags() };
  info = made;
  if (active === 'wasm') registerWasmGradientKernels();
  return made;
}

/** The one line the first computing call prints. Pure, so its wording is testable. */
export function backendLine(b: BackendInfo): string {
  const slow = b.name === 'cpu'
    ? ' The pure-JS cpu backend is 15–40× slower than wasm: await tc.initBackend() picks the fastest that works.'
    : '';
  return `tslab-cam computes on ${b.name}: ${b.reason}.${slow}`;
}

/**
 * Inside a notebook the line goes into the cell (stdout, shown once per kernel). In scripts and
 * tests nothing is printed unless the automatic choice had to fall back to the slow cpu backend
 * (stderr); a cpu backend someone chose on purpose is not second-guessed there.
 */
function reportOnce(b: BackendInfo): BackendInfo {
  if (reported) return b;
  reported = true;
  if (inTslab()) console.log(backendLine(b));
  else if (b.name === 'cpu' && b.attempts.some((a) => !a.ok)) console.error(backendLine(b));
  return b;
}


export { tf };
