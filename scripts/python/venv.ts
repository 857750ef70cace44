/**
 * The project's Python side, seen from TypeScript: where the pytorch-grad-cam venv lives, whether
 * it is usable, and a client for Python processes that answer one JSON line per request line.
 * Used by the benchmark's reference (bench/reference.ts) and the peer-correctness test.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';

export const ROOT = path.resolve(__dirname, '..', '..');
/** Made by scripts/ensure-gradcam.sh: grad-cam 1.5.7 over Debian's CPU torch. */
export const GRADCAM_PYTHON = path.join(ROOT, '.venv-gradcam', 'bin', 'python');

/** Why the pytorch-grad-cam venv cannot be used, or null when it can. */
export function gradcamUnavailable(): string | null {
  if (!fs.existsSync(GRADCAM_PYTHON)) {
    return `${path.relative(ROOT, GRADCAM_PYTHON)} is missing: run \`bash scripts/ensure-gradcam.sh\` (needs Debian's python3-torch)`;
  }
  const probe = spawnSync(GRADCAM_PYTHON, ['-c', 'import torch, pytorch_grad_cam'], { encoding: 'utf8', timeout: 120_000 });
  if (probe.status !== 0) {
    const last = (probe.stderr || String(probe.error ?? '')).trim().split('\n').pop() ?? '';
    return `pytorch_grad_cam does not import in .venv-gradcam (${last}): run \`bash scripts/ensure-gradcam.sh\``;
  }
  return null;
}

/** Runs scripts/ensure-gradcam.sh (idempotent; a no-op when the venv is ready); null on success. */
export function ensureGradcam(): string | null {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'ensure-gradcam.sh')], { encoding: 'utf8', timeout: 1_200_000 });
  if (r.status === 0) return null;
  return (r.stderr || String(r.error ?? 'ensure-gradcam.sh failed')).trim();
}

/**
 * A child process that reads one JSON request per stdin line and writes one JSON answer per
 * stdout line, in order. Requests are queued, so `request` may be called without awaiting.
 */
export class JsonLineProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  private stderr = '';
  private exited: Error | null = null;

  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, [...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => {
      // Keep the tail only: torch may warn a lot, and only the end explains a crash.
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      const next = this.waiting.shift();
      if (!next) return;
      try {
        next.resolve(JSON.parse(line));
      } catch {
        next.reject(new Error(`${command}: not a JSON line: ${line.slice(0, 200)}`));
      }
    });
    const fail = (why: string) => {
      this.exited = new Error(`${command} ${args.join(' ')}: ${why}\n${this.stderr.trim()}`);
      for (const w of this.waiting.splice(0)) w.reject(this.exited);
    };
    this.child.on('error', (e) => fail(e.message));
    this.child.on('exit', (code, signal) => fail(`exited (${signal ?? code})`));
  }

  /** The next line the process writes, without sending anything (e.g. its start-up line). */
  next<T>(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.exited) return reject(this.exited);
      this.waiting.push({ resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** Sends one request line and resolves with the answer line. */
  request<T>(message: object): Promise<T> {
    const answer = this.next<T>();
    if (!this.exited) this.child.stdin.write(JSON.stringify(message) + '\n');
    return answer;
  }

  /** Ends the process: a `{"quit": true}` line, then closing stdin; resolves when it has exited. */
  close(): Promise<void> {
    if (this.exited || this.child.exitCode !== null) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin.end(JSON.stringify({ quit: true }) + '\n');
    });
  }
}
