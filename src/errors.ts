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
  | 'CANCELLED'
  | 'OUT_OF_MEMORY';

export class TslabCamError extends Error {
  readonly code: ErrorCode;
  /** What the user can do about it; also appended to `message`. */
  readonly fix: string;

  constructor(code: ErrorCode, problem: string, fix: string, options?: { cause?: unknown }) {
    super(fix ? `${problem} Fix: ${fix}` : problem);
    this.name = 'TslabCamError';
    this.code = code;
    this.fix = fix;
    if (options && options.cause !== undefined) {
      (this as { cause?: unknown }).cause = options.cause;
    }
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
