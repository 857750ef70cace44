/**
 * How a kernel interrupt (Jupyter's stop button, Ctrl-C in a terminal) reaches long work.
 *
 * Read from tslab 1.0.22 (dist/main.js, dist/executor.js) and checked by running it:
 * - tslab's kernel has one `process.on('SIGINT')` listener, which rejects the promise a cell
 *   with top-level `await` is raced against. The cell then ends with "Interrupted
 *   asynchronously" while the awaited work runs on in the background.
 * - A cell's synchronous part runs in `vm.runInThisContext(…, {breakOnSigint: true})`. While it
 *   runs, SIGINT does not reach any listener: Node terminates the script (V8 TerminateExecution)
 *   and throws ERR_SCRIPT_EXECUTION_INTERRUPTED. Termination skips every `catch` and `finally`
 *   on the way out (measured: a `finally` around the loop did not run), and it can land inside a
 *   tfjs kernel: afterwards tfjs's engine still had two open tidy scopes and kernelDepth 1.
 *
 * So there are two paths, and this module serves both:
 * - Async runs (awaited between chunks) register here. In a tslab kernel this module takes over
 *   SIGINT: while an async run is active, an interrupt cancels the runs (they stop at their next
 *   chunk boundary and the cell ends with their CANCELLED error); when none is active, or the
 *   runs were already told once, the interrupt goes on to tslab's own listener as before. In a
 *   plain Node process the listener exists only while a run is active, so Ctrl-C otherwise keeps
 *   its default meaning; a second Ctrl-C during a run exits with status 130.
 * - Sync runs cannot hear the interrupt; they can only be terminated. `withRestore` records,
 *   before the work starts, how to undo it (tfjs scopes, swapped kernels), and schedules a check
 *   on the next microtask, which runs only after the synchronous stretch is over: if the work's
 *   own `finally` has not run by then, it was terminated, and the check does the undoing.
 */
import * as tf from '@tensorflow/tfjs';

/** One async run as the interrupt listener sees it. */
export interface InterruptTarget {
  /** True once an interrupt was delivered to it. */
  readonly interrupted: boolean;
  interrupt(): void;
}

const asyncRuns = new Set<InterruptTarget>();
/** tslab's own SIGINT listeners, taken over while this module's dispatcher is installed. */
let forwarded: Array<(...args: unknown[]) => void> = [];
let installed = false;
let handling = true;

function inKernel(): boolean {
  return (globalThis as { __tslab__?: unknown }).__tslab__ !== undefined;
}

function dispatch(): void {
  const live = [...asyncRuns].filter((r) => !r.interrupted);
  if (live.length > 0) {
    for (const r of live) r.interrupt();
    return;
  }
  if (inKernel()) {
    for (const l of forwarded) l('SIGINT');
    return;
  }
  // A second Ctrl-C while the runs are still winding down: the user wants out now.
  process.exit(130);
}

function install(): void {
  if (inKernel()) {
    forwarded = process.listeners('SIGINT') as Array<(...args: unknown[]) => void>;
    for (const l of forwarded) process.removeListener('SIGINT', l);
  }
  process.on('SIGINT', dispatch);
  installed = true;
}

function uninstall(): void {
  process.removeListener('SIGINT', dispatch);
  for (const l of forwarded) process.on('SIGINT', l);
  forwarded = [];
  installed = false;
}

let reconcileQueued = false;

/**
 * Brings the SIGINT listeners to the wanted state on the next event-loop turn, never at once.
 * Measured (Node 20.20): adding or removing a SIGINT listener while a `breakOnSigint` script runs
 * (a tslab cell's synchronous part) leaves SIGINT at its default action once the script ends, so
 * the next interrupt kills the kernel process; tslab's own listener dies with it. A turn later
 * the cell's script is over.
 */
function reconcile(): void {
  if (reconcileQueued) return;
  reconcileQueued = true;
  setImmediate(() => {
    reconcileQueued = false;
    // In a kernel the dispatcher stays once installed: it forwards to tslab when no run is active.
    const want = handling && (asyncRuns.size > 0 || (installed && inKernel()));
    if (want && !installed) install();
    else if (!want && installed) uninstall();
  });
}

/**
 * Turns the library's own interrupt handling on (default) or off. Off: the kernel's SIGINT
 * handling is exactly tslab's again (from the next event-loop turn), and async runs stop only
 * through their AbortSignal.
 */
export function setInterruptHandling(on: boolean): void {
  handling = on;
  reconcile();
}

/**
 * Delivers interrupts to `run` until the returned function is called. The listener itself is
 * installed on the next event-loop turn (see reconcile); runChunksAsync yields before its first
 * chunk, so it is in place before any work starts.
 */
export function listenForInterrupt(run: InterruptTarget): () => void {
  asyncRuns.add(run);
  reconcile();
  return () => {
    asyncRuns.delete(run);
    reconcile();
  };
}

/** Sends the interrupt a SIGINT would send, without a signal (tests, and hosts without signals). */
export function simulateInterrupt(): void {
  if (installed) dispatch();
  else for (const r of asyncRuns) r.interrupt();
}

/** The parts of tfjs's engine state that an unfinished tidy or gradient leaves behind. */
interface EngineMark {
  readonly scopeDepth: number;
  readonly kernelDepth: number;
  readonly gradientDepth: number;
  readonly activeTape: unknown;
}

interface EngineState {
  scopeStack: unknown[];
  kernelDepth: number;
  gradientDepth: number;
  activeTape: unknown;
}

function engineState(): EngineState {
  return (tf.engine() as unknown as { state: EngineState }).state;
}

function markEngine(): EngineMark {
  const s = engineState();
  return { scopeDepth: s.scopeStack.length, kernelDepth: s.kernelDepth, gradientDepth: s.gradientDepth, activeTape: s.activeTape };
}

/**
 * Puts tfjs's engine back where `mark` found it: ends the scopes opened since (disposing the
 * tensors they track, as the skipped tidy would have), and resets the kernel and gradient depth
 * and the tape, which a terminated kernel or gradient leaves raised (every later op would
 * otherwise be taped and its inputs kept).
 */
function restoreEngine(mark: EngineMark): void {
  const s = engineState();
  // A gradient pass keeps (tf.keep) a clone of every op input it will need backwards and frees
  // them when the pass ends; a terminated pass leaves them on its tape.
  if (s.activeTape !== mark.activeTape && Array.isArray(s.activeTape)) {
    for (const node of s.activeTape as Array<{ saved?: tf.Tensor[] }>) tf.dispose(node.saved ?? []);
  }
  while (s.scopeStack.length > mark.scopeDepth) tf.engine().endScope();
  s.kernelDepth = mark.kernelDepth;
  s.gradientDepth = mark.gradientDepth;
  s.activeTape = mark.activeTape;
}

/**
 * Resets tfjs's kernel depth when it is raised although no kernel can be running, and says
 * whether it did. Measured: a kernel interrupt that terminates plain tfjs code (no library scope
 * open) lands inside a kernel every time in a conv loop and leaves kernelDepth at 1; tfjs then
 * records no op on any gradient tape, and every later gradient (every Grad-CAM) fails with
 * "Cannot compute gradient of y=f(x)". Call it only where no kernel is running: the outermost
 * withRestore and the outermost chunk run do.
 */
export function resetStaleKernelDepth(): boolean {
  const s = engineState();
  if (s.kernelDepth === 0) return false;
  s.kernelDepth = 0;
  return true;
}

interface Pending {
  readonly mark: EngineMark;
  readonly restore: () => void;
  readonly onTerminated?: () => void;
  open: boolean;
}

const pending: Pending[] = [];
let sweepQueued = false;

type TrackTensor = (t: tf.Tensor, backend: unknown) => void;
type DisposeTensor = (t: tf.Tensor) => void;
interface TrackingEngine { trackTensor: TrackTensor; disposeTensor: DisposeTensor }

/**
 * Tensors made while a withRestore scope is open. Termination can land inside tfjs's own
 * bookkeeping (measured: about one run in ten left one tensor that no scope tracked, e.g. a tidy
 * result between leaving its scope and joining the parent's); ending scopes cannot reach such a
 * tensor, this list can. Cleared whenever the last open scope ends normally.
 */
let created: tf.Tensor[] | null = null;
/**
 * Tensors whose disposal started in the window. tfjs decrements its count first and marks the
 * tensor disposed last, so one terminated in between looks alive; disposing it again would count
 * it twice (seen once: the tensor count ended one below where it started).
 */
let disposing = new WeakSet<tf.Tensor>();

function startTracking(): void {
  if (created) return;
  created = [];
  disposing = new WeakSet<tf.Tensor>();
  const engine = tf.engine() as unknown as TrackingEngine;
  const track = engine.trackTensor;
  const dispose = engine.disposeTensor;
  engine.trackTensor = function trackListed(this: unknown, t: tf.Tensor, backend: unknown): void {
    // Listed before tfjs counts it: termination inside the count must not lose it.
    if (!(t instanceof tf.Variable)) created?.push(t);
    track.call(this, t, backend);
  };
  engine.disposeTensor = function disposeMarked(this: unknown, t: tf.Tensor): void {
    disposing.add(t);
    dispose.call(this, t);
  };
}

function stopTracking(): void {
  if (!created) return;
  created = null;
  // The wrappers are own properties over the prototype's methods: removing them restores tfjs's.
  const engine = tf.engine() as unknown as Partial<TrackingEngine>;
  delete engine.trackTensor;
  delete engine.disposeTensor;
}

/** Disposes what the terminated scopes made that nothing else holds (kept tensors stay). */
function disposeStrays(): void {
  for (const t of created ?? []) {
    if (!t.isDisposed && !t.kept && !disposing.has(t)) t.dispose();
  }
}

/** Undoes every synchronous scope still open: each was terminated (see the module comment). */
function sweep(): void {
  sweepQueued = false;
  const terminated = pending.some((p) => p.open);
  // Innermost first, as the skipped finally blocks would have run.
  while (pending.length > 0) {
    const p = pending.pop() as Pending;
    if (!p.open) continue;
    p.open = false;
    try {
      restoreEngine(p.mark);
    } catch {
      // Keep undoing the rest.
    }
    for (const f of [p.restore, p.onTerminated]) {
      try {
        f?.();
      } catch {
        // A restore that fails must not stop the others.
      }
    }
  }
  if (terminated) disposeStrays();
  stopTracking();
}

/**
 * Runs synchronous `fn` so that `restore` runs exactly once afterwards: normally in `finally`,
 * and, when the kernel interrupt terminated `fn` (finally skipped), on the next microtask,
 * together with putting tfjs's engine state (open tidy scopes, tape) back where it was. Use it
 * around anything that swaps global state (kernels, gradients) for the duration of a call.
 *
 * `onTerminated` runs after `restore` only in the terminated case (to report it).
 *
 * Must not wrap code that awaits: an open entry at the end of the synchronous stretch is taken
 * as terminated.
 */
export function withRestore<T>(restore: () => void, fn: () => T, onTerminated?: () => void): T {
  if (pending.length === 0) {
    resetStaleKernelDepth();
    startTracking();
  }
  const entry: Pending = { mark: markEngine(), restore, onTerminated, open: true };
  pending.push(entry);
  if (!sweepQueued) {
    sweepQueued = true;
    queueMicrotask(sweep);
  }
  try {
    return fn();
  } finally {
    if (entry.open) {
      entry.open = false;
      const i = pending.lastIndexOf(entry);
      if (i >= 0) pending.splice(i, 1);
      if (pending.length === 0) stopTracking();
      restore();
    }
  }
}
