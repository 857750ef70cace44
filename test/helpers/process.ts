/** Stopping a Jupyter server from a test, with every process it started. */
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';

/** Every live descendant of `pid`, read from /proc (Linux; elsewhere none). */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  for (const e of entries) {
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift() as number;
    for (const [child, pp] of parent) {
      if (pp === p) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/**
 * SIGTERM (the server shuts its kernels down), SIGKILL after 10 s, then SIGKILL to every process
 * it had started. Kernels run in sessions of their own (jupyter_client) and inherit the server's
 * pipes: one that outlives the server keeps the test process from exiting. Found once (a tslab
 * kernel alive 19 minutes after its server had gone), so survivors are killed by pid.
 */
export async function stopServer(server: ChildProcess): Promise<void> {
  const started = server.pid ? descendants(server.pid) : [];
  if (server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  }
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  server.stdout?.destroy();
  server.stderr?.destroy();
}
