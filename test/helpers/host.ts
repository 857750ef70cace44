/** Runs `fn` as if inside a tslab cell (tslab defines globalThis.__tslab__ there). */
export function asInTslab<T>(fn: () => T): T {
  const g = globalThis as { __tslab__?: unknown };
  g.__tslab__ = {};
  try {
    return fn();
  } finally {
    delete g.__tslab__;
  }
}
