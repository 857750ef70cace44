import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from '../../scripts/jupyter';

// scripts/ensure-system.sh waits for the apt/dpkg lock before apt-get, bounded, printing the wait.
// apt and dpkg take fcntl (POSIX) record locks, so the holder here takes the same kind (Python's
// lockf) on a lock file in a temporary folder: the real /var/lib/dpkg locks are never touched.
const SCRIPT = path.join(ROOT, 'scripts', 'ensure-system.sh');
const PY = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** A process holding an fcntl write lock on `file` for `seconds`; resolves once the lock is held. */
async function holdLock(file: string, seconds: number): Promise<ChildProcess> {
  const holder = spawn(PY, ['-c', `import fcntl, sys, time
f = open(sys.argv[1], "w")
fcntl.lockf(f, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))`, file, String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.on('data', (b: Buffer) => (b.toString().includes('held') ? resolve() : undefined));
    holder.once('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
  });
  return holder;
}

function runWait(lock: string, bound: number): Promise<{ code: number | null; stderr: string; exitedAt: bigint }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT, '--wait-for-apt'], {
      env: { ...process.env, TSLAB_CAM_APT_LOCKS: lock, TSLAB_CAM_APT_WAIT: String(bound) }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('exit', (code) => resolve({ code, stderr, exitedAt: process.hrtime.bigint() }));
  });
}

function tempLock(): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-lock-')), 'lock-frontend');
  fs.writeFileSync(file, '');
  return file;
}

test('a free lock: no wait, nothing printed', async () => {
  const r = await runWait(tempLock(), 5);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, '');
});

test('a held lock: the script names the holder, waits until it is released, and says how long it waited', async () => {
  const lock = tempLock();
  const holder = await holdLock(lock, 3);
  let releasedAt = 0n;
  holder.once('exit', () => (releasedAt = process.hrtime.bigint()));
  const r = await runWait(lock, 60);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`waiting for the apt/dpkg lock ${lock}, held by process ${holder.pid} \\(python3\\); up to 60 s`));
  const waited = /the apt\/dpkg lock is free after waiting (\d+) s/.exec(r.stderr);
  assert.ok(waited && Number(waited[1]) >= 1, r.stderr);
  assert.ok(releasedAt > 0n && releasedAt < r.exitedAt, 'the script returned only after the holder released the lock');
});

test('a lock held past the bound: exit 1 with the holder and a Fix', async () => {
  const lock = tempLock();
  const holder = await holdLock(lock, 60);
  try {
    const r = await runWait(lock, 2);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`the apt/dpkg lock ${lock} is still held by process ${holder.pid} \\(python3\\) after 2 s`));
    assert.match(r.stderr, /Fix: let that apt run finish \(or stop it\), then run this command again; or wait longer with TSLAB_CAM_APT_WAIT=SECONDS\./);
    assert.equal(holder.exitCode, null, 'the holder still held it');
  } finally {
    holder.kill();
  }
});
