import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { inTslab } from '../host';
import { registerWasmGradientKernels } from './patches/kernels';
import { guardWasmHeap } from '../run/memory';
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
   * TSLAB_CAM_THREADS, otherwise 1 (see chooseThreads for why). Fixed once the wasm backend has started (per process).
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
  // One thread by default: with XNNPACK's pthread workers running, a SIGINT no longer terminates
  // synchronous code run under vm's breakOnSigint, which is how tslab runs a cell, so the kernel's
  // stop button could not stop a synchronous Score-CAM (measured: test/run/chunks.test.ts hangs
  // with 2 threads and passes with 1). Threads are opt-in for scripts and long batches.
  return { count: 1, reason: 'default: 1 thread (more threads are opt-in: a kernel interrupt cannot stop synchronous cell code while wasm threads run)' };
}

/** The thread count the wasm backend started with in this process, once it has. */
let wasmStarted: ThreadChoice | null = null;

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

function wasmFlags(): Pick<BackendInfo, 'wasmSimd' | 'wasmThreads' | 'wasmThreadCount' | 'threadsReason'> {
  if (tf.getBackend() !== 'wasm') return {};
  const count = loadWasm().getThreadsCount();
  return { wasmSimd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'), wasmThreads: count > 1, wasmThreadCount: count, threadsReason: wasmStarted?.reason };
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

/**
 * initBackend for a script (not a kernel cell): every core unless TSLAB_CAM_THREADS says otherwise.
 * A script's Ctrl-C ends the process, so the notebook's reason for one thread does not apply.
 */
export function initScriptBackend(): Promise<BackendInfo> {
  return initBackend(process.env.TSLAB_CAM_THREADS ? {} : { threads: 'all' });
}

/** "wasm backend, 2 threads" / "cpu backend": what a measurement ran on, for its report. */
export function backendSummary(b: BackendInfo): string {
  if (b.name !== 'wasm') return `${b.name} backend`;
  const n = b.wasmThreadCount ?? 1;
  return `wasm backend, ${n} thread${n === 1 ? '' : 's'}`;
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
