/**
 * Progress of long operations as plain events. This layer only describes what is happening; how
 * it is shown (a bar updated in place in a notebook, a redrawn terminal line) belongs to the
 * notebook layer, which registers itself here as the default sink when it loads. Lower layers
 * therefore never import display code, and a user of any long method gets a bar without asking.
 */

/** How a run ended; 'running' until then. */
export type RunState = 'running' | 'done' | 'cancelled' | 'failed';

/** One progress event of one run. Every run emits at least a first and a final event. */
export interface RunProgress {
  /** Identifies the run across its events (one bar per id). */
  readonly id: number;
  /** 0 for an operation the user called; > 0 for a run started inside another run's chunk. */
  readonly depth: number;
  /** The run whose chunk started this one (e.g. evaluate → Score-CAM), or null. */
  readonly parent: number | null;
  /** The operation, e.g. "Score-CAM" or "train digits-gap". */
  readonly label: string;
  /** What is being done now, e.g. "image 3/8 · channels 512/1280" ('' when nothing to add). */
  readonly detail: string;
  /** Units finished and asked for, and their name ("steps", "channels", "scenes"). */
  readonly done: number;
  readonly total: number;
  readonly unit: string;
  readonly elapsedMs: number;
  /** Units per second so far (0 before the first unit). */
  readonly rate: number;
  /** Estimated milliseconds left from the rate so far; null before there is a rate or once ended. */
  readonly etaMs: number | null;
  readonly state: RunState;
}

/** Receives progress events; must not throw (a throwing sink is ignored, the work goes on). */
export type ProgressSink = (p: RunProgress) => void;

let defaultSink: ProgressSink | null = null;

/**
 * Registers the sink used when an operation is given no `onProgress`. The notebook layer
 * registers its bars here at load time; `null` turns default progress off. Returns the previous
 * sink so a caller (a test) can put it back.
 */
export function setDefaultProgressSink(sink: ProgressSink | null): ProgressSink | null {
  const previous = defaultSink;
  defaultSink = sink;
  return previous;
}

/** The sink an operation reports to: its own `onProgress`, else the default, else none. */
export function progressSinkFor(options: { onProgress?: ProgressSink; progress?: boolean }): ProgressSink | null {
  if (options.progress === false) return null;
  return options.onProgress ?? defaultSink;
}

/**
 * Rate and ETA from the average so far: rate = done / elapsed, eta = (total − done) / rate.
 * The plain average (not a moving one) because chunks of one run cost about the same.
 */
export function rateAndEta(done: number, total: number, elapsedMs: number, state: RunState): { rate: number; etaMs: number | null } {
  const rate = done > 0 && elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  const etaMs = state === 'running' && rate > 0 ? ((total - done) / rate) * 1000 : null;
  return { rate, etaMs };
}

/** Calls a sink, swallowing its errors: a broken display must not break or leak the work. */
export function emitProgress(sink: ProgressSink | null, p: RunProgress): void {
  if (!sink) return;
  try {
    sink(p);
  } catch {
    // The work's own cleanup matters more than one missed frame.
  }
}
