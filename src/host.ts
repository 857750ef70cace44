/**
 * Where this code runs. The lowest layer: model, explain, render and notebook may all ask, because
 * what a user should read differs (a notebook's working folder is the notebook's own; a log line
 * belongs in the cell there and nowhere in a script).
 */

/** True when this code runs inside a tslab kernel (tslab sets globalThis.__tslab__ per cell). */
export function inTslab(): boolean {
  return (globalThis as { __tslab__?: unknown }).__tslab__ !== undefined;
}

/**
 * Where a relative path starts, for error messages. A tslab kernel runs in the notebook's folder,
 * so there the user knows it as that; elsewhere it is the process's current directory.
 */
export function relativeTo(): string {
  return inTslab() ? `a relative path is relative to the notebook's folder, ${process.cwd()}`
    : `a relative path is relative to the current directory, ${process.cwd()}`;
}
