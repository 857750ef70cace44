import { inTslab } from './host';

/**
 * Every failure the library reports on purpose is a TslabCamError with a stable `code`,
 * so notebooks and tests can branch on the kind of problem instead of parsing messages.
 */
export type ErrorCode =
  | 'BAD_IMAGE'
  | 'BAD_CLASS'
  | 'BAD_OPTION'
  | 'UNKNOWN_LAYER'
  | 'NO_SPATIAL_LAYER'
  | 'NOT_GAP_MODEL'
  | 'GRAPH_MODEL'
  | 'NOT_A_MODEL'
  | 'MODEL_LOAD'
  | 'MODEL_TOO_LARGE'
  | 'UNKNOWN_BUILTIN'
  | 'BACKEND'
  | 'UNSUPPORTED'
  | 'BAD_SAMPLE'
  | 'CANCELLED'
  | 'OUT_OF_MEMORY';

export class TslabCamError extends Error {
  readonly code: ErrorCode;
  /** What went wrong, with the offending value. */
  readonly problem: string;
  /** What the user can do about it; also appended to `message`. */
  readonly fix: string;

  constructor(code: ErrorCode, problem: string, fix: string, options?: { cause?: unknown }) {
    super(fix ? `${problem} Fix: ${fix}` : problem);
    this.name = 'TslabCamError';
    this.code = code;
    this.problem = problem;
    this.fix = fix;
    if (options && options.cause !== undefined) {
      (this as { cause?: unknown }).cause = options.cause;
    }
    // Not enumerable: util.inspect (and so tslab's printout) would list it after the message.
    Object.defineProperty(this, 'problem', { enumerable: false });
    Object.defineProperty(this, 'fix', { enumerable: false });
  }

  /**
   * How console.log / console.error / util.inspect show the error. tslab prints a thrown error
   * with console.error, which would put the library's stack (a dozen frames inside tslab-cam and
   * tfjs) around the message; in a notebook the user needs the problem and the fix. So inside
   * tslab this prints just those; `error.stack` keeps the full trace for debugging. Elsewhere
   * (scripts, tests) Node's usual printout with the stack is kept.
   */
  [Symbol.for('nodejs.util.inspect.custom')](depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    if (inTslab()) return notebookText(this);
    return inspect(this, { ...options, customInspect: false });
  }
}

/** The notebook form of an error: name and code, the problem, and the fix on its own line. */
export function notebookText(e: TslabCamError): string {
  return `${e.name} [${e.code}]: ${e.problem}` + (e.fix ? `\nFix: ${e.fix}` : '') + '\n(error.stack has the full trace)';
}

/**
 * A value as an error message shows it: strings quoted (so "7" does not read like the number 7),
 * numbers and the like as written, objects by their class.
 */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'object') return `an object of class ${(v as object).constructor?.name ?? 'Object'}`;
  return typeof v;
}

/** What a cancelled long operation had finished, so a caller can report or resume it. */
export interface CancelledProgress {
  /** The operation, e.g. "Score-CAM" or "train digits-gap". */
  readonly label: string;
  /** Units finished and the units asked for (steps, images, channels …). */
  readonly done: number;
  readonly total: number;
  readonly unit: string;
  /** Who stopped it: an AbortSignal, the kernel's interrupt (Jupyter's stop button), or Ctrl-C. */
  readonly reason: 'signal' | 'interrupt';
}

/**
 * The error every long operation throws when it is stopped (code CANCELLED). By the time it is
 * thrown the operation has released every tensor it made and nothing of it is still running.
 * `partial` carries the finished part when the operation was asked to keep it (e.g. evaluate's
 * rows so far); it is plain data, never tensors.
 */
export class CancelledError extends TslabCamError {
  readonly progress: CancelledProgress;
  readonly partial: unknown;

  constructor(progress: CancelledProgress, partial?: unknown) {
    const by = progress.reason === 'signal' ? 'its AbortSignal' : 'an interrupt (kernel stop button or Ctrl-C)';
    super('CANCELLED',
      `${progress.label} was cancelled by ${by} after ${progress.done} of ${progress.total} ${progress.unit}; ` +
      `the remaining ${progress.total - progress.done} were not computed and every tensor it made was released.`,
      'Nothing to repair: the kernel is idle and the next cell runs normally. Run it again to start over' +
      (partial !== undefined ? ', or use the error\'s `partial` result.' : '.'));
    this.name = 'TslabCamError';
    this.progress = progress;
    this.partial = partial;
  }
}

/** Levenshtein distance, used to suggest the names closest to a mistyped one. */
export function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The `count` candidates nearest to `name` (substring matches first, then edit distance). */
export function closestNames(name: string, candidates: readonly string[], count = 5): string[] {
  const lower = name.toLowerCase();
  return [...candidates]
    .map((c) => {
      const cl = c.toLowerCase();
      const contains = cl.includes(lower) || lower.includes(cl) ? 0 : 1;
      return { c, contains, d: editDistance(lower, cl) };
    })
    .sort((x, y) => x.contains - y.contains || x.d - y.d)
    .slice(0, count)
    .map((x) => x.c);
}
