import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { MAX_WASM_THREADS, backendInfo, backendLine, backendSummary, chooseThreads, initBackend, type BackendInfo } from '../../src/model/backend';
import { TslabCamError } from '../../src/errors';

test('automatic choice: tensorflow → wasm → cpu, with the reason and every attempt recorded', async () => {
  delete process.env.TSLAB_CAM_BACKEND;
  const info = await initBackend();
  assert.equal(tf.getBackend(), info.name);
  assert.ok(['tensorflow', 'wasm', 'cpu'].includes(info.name));
  assert.equal(info.attempts[info.attempts.length - 1].ok, true);
  if (info.name === 'wasm') {
    assert.equal(info.attempts[0].name, 'tensorflow');
    assert.equal(info.attempts[0].ok, false, 'tfjs-node is not installed on this machine');
    assert.match(info.reason, /tensorflow unavailable/);
    // The default is one thread; the suite may run with TSLAB_CAM_THREADS set.
    const want = chooseThreads(undefined, process.env.TSLAB_CAM_THREADS).count;
    assert.equal(info.wasmThreadCount, want, JSON.stringify(info));
    assert.equal(info.wasmThreads, want > 1);
  }
  assert.equal((await backendInfo()).name, info.name);
});

test('the option and TSLAB_CAM_BACKEND choose; unknown names are typed errors', async () => {
  const cpu = await initBackend({ backend: 'cpu' });
  assert.equal(cpu.name, 'cpu');
  assert.match(cpu.reason, /option/);
  process.env.TSLAB_CAM_BACKEND = 'wasm';
  const wasm = await initBackend();
  assert.equal(wasm.name, 'wasm');
  assert.match(wasm.reason, /TSLAB_CAM_BACKEND/);
  process.env.TSLAB_CAM_BACKEND = 'gpu';
  await assert.rejects(initBackend(), (e: unknown) => e instanceof TslabCamError && e.code === 'BACKEND' && /tensorflow, wasm, cpu/.test(e.message));
  delete process.env.TSLAB_CAM_BACKEND;
  await assert.rejects(initBackend({ backend: 'webgl' as 'cpu' }), (e: unknown) => e instanceof TslabCamError && e.code === 'BACKEND');
});

/**
 * A fresh node process, as a new user's first cell is: no initBackend, nothing chosen yet.
 * `mode` prepares what the user did before the README chain.
 */
function runFirstUse(mode: 'none' | 'setCpu' | 'tensorFirst'): { stdout: string; stderr: string; lines: string[] } {
  const root = path.resolve(__dirname, '..', '..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-first-use-'));
  const script = path.join(dir, 'first-use.js');
  fs.writeFileSync(script, `
const tc = require(${JSON.stringify(path.join(root, 'src', 'index.ts'))});
globalThis.__tslab__ = {}; // what tslab sets in every cell: the first-use line goes to stdout
(async () => {
  if (${JSON.stringify(mode)} === 'setCpu') await tc.tf.setBackend('cpu');
  if (${JSON.stringify(mode)} === 'tensorFirst') tc.tf.tensor([1, 2]).dispose();
  const model = await tc.loadModel('builtin:digits-gap');
  const sample = tc.builtinSamples().find((s) => s.name === 'two-digits');
  const x = await tc.loadImage(sample.path, { model: model });
  const r = tc.gradCam(model, x, { classIndex: 7 });
  const failed = tc.verify(r, { model: model, image: x }).filter((c) => c.pass === false).length;
  console.log(JSON.stringify({ tfBackend: tc.tf.getBackend(), resultBackend: r.backend, info: (await tc.backendInfo()).name, failed }));
})().catch((e) => { console.error(e); process.exit(1); });
`);
  const env: NodeJS.ProcessEnv = { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', TS_NODE_PROJECT: path.join(root, 'tsconfig.test.json') };
  delete env.TSLAB_CAM_BACKEND;
  try {
    const res = spawnSync(process.execPath, ['--require', 'ts-node/register', script], { cwd: root, env, encoding: 'utf8', timeout: 120000 });
    assert.equal(res.status, 0, res.stderr);
    return { stdout: res.stdout, stderr: res.stderr, lines: res.stdout.trim().split('\n') };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const BANNER = /looks like you are running TensorFlow\.js in Node|install our node backend|={10,}/i;

test('first use without initBackend: the README chain runs on wasm, says so once, and tfjs prints no banner', () => {
  const { stdout, stderr, lines } = runFirstUse('none');
  assert.doesNotMatch(stdout + stderr, BANNER);
  assert.equal(stderr, '');
  assert.deepEqual(lines.slice(0, -1), ['tslab-cam computes on wasm: automatic order tensorflow → wasm → cpu; tensorflow unavailable.']);
  assert.deepEqual(JSON.parse(lines[lines.length - 1]), { tfBackend: 'wasm', resultBackend: 'wasm', info: 'wasm', failed: 0 });
});

test('an explicit tf.setBackend wins over the first-use choice, and the line says cpu is slow', () => {
  const { stdout, stderr, lines } = runFirstUse('setCpu');
  assert.doesNotMatch(stdout + stderr, BANNER);
  assert.deepEqual(lines.slice(0, -1), [backendLine({ name: 'cpu', reason: 'already active (chosen by tf.setBackend, or by tfjs for tensors created first)', attempts: [], tfjsVersion: tf.version.tfjs })]);
  assert.match(lines[0], /15–40× slower than wasm: await tc\.initBackend\(\) picks the fastest that works\.$/);
  assert.deepEqual(JSON.parse(lines[lines.length - 1]), { tfBackend: 'cpu', resultBackend: 'cpu', info: 'cpu', failed: 0 });
});

test('tensors created before the first call keep tfjs\'s cpu choice, still without the banner', () => {
  const { stdout, stderr, lines } = runFirstUse('tensorFirst');
  assert.doesNotMatch(stdout + stderr, BANNER);
  assert.equal(JSON.parse(lines[lines.length - 1]).tfBackend, 'cpu');
});

test('thread count: the option, then TSLAB_CAM_THREADS, then every core (capped at 8); bad values are typed errors', () => {
  const cores = Math.min(MAX_WASM_THREADS, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  assert.deepEqual(chooseThreads(3, '1'), { count: 3, reason: 'threads option 3' });
  assert.equal(chooseThreads(undefined, '1').count, 1);
  assert.equal(chooseThreads(undefined, ' 2 ').count, 2);
  assert.equal(chooseThreads(undefined, 'all').count, cores);
  assert.equal(chooseThreads('all', undefined).count, cores);
  assert.equal(chooseThreads(undefined, undefined).count, 1, 'one thread unless asked: threads stop the kernel interrupt from reaching synchronous cells');
  assert.match(chooseThreads(undefined, undefined).reason, /default/);
  assert.equal(chooseThreads(64, undefined).count, MAX_WASM_THREADS);
  for (const bad of [0, -1, 1.5, NaN]) {
    assert.throws(() => chooseThreads(bad, undefined), (e: unknown) => e instanceof TslabCamError && e.code === 'BACKEND' && /Fix: /.test(e.message));
  }
  for (const bad of ['two', '0', '1.5', '-2']) {
    assert.throws(() => chooseThreads(undefined, bad), (e: unknown) => e instanceof TslabCamError && e.code === 'BACKEND' && /TSLAB_CAM_THREADS/.test(e.message));
  }
});

/** Runs test/fixtures/threads-child.ts with TSLAB_CAM_THREADS=threads; it must exit by itself. */
function child(threads: number): { info: { wasmThreadCount: number; wasmThreads: boolean; threadsReason: string }; out: Record<string, string> } {
  const root = path.join(__dirname, '..', '..');
  const r = spawnSync(process.execPath, ['--require', 'ts-node/register', path.join(root, 'test', 'fixtures', 'threads-child.ts')], {
    cwd: root,
    env: { ...process.env, TSLAB_CAM_THREADS: String(threads), TS_NODE_TRANSPILE_ONLY: 'true', TS_NODE_PROJECT: path.join(root, 'tsconfig.test.json') },
    encoding: 'utf8',
    // A worker that kept the process alive would hit this.
    timeout: 240_000,
  });
  assert.equal(r.error, undefined, `child with ${threads} threads: ${String(r.error)}`);
  assert.equal(r.status, 0, `child with ${threads} threads exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
}

test('wasm with 2 threads (threaded-SIMD binary, XNNPACK pool) gives bit-identical forward passes and engine outputs to 1 thread, and the process exits by itself', () => {
  const one = child(1);
  const two = child(2);
  assert.equal(one.info.wasmThreadCount, 1);
  assert.equal(one.info.wasmThreads, false);
  assert.equal(two.info.wasmThreadCount, 2, JSON.stringify(two.info));
  assert.equal(two.info.wasmThreads, true);
  assert.match(two.info.threadsReason, /TSLAB_CAM_THREADS=2/);
  assert.deepEqual(Object.keys(two.out), Object.keys(one.out));
  assert.ok(Object.keys(one.out).length >= 10);
  for (const k of Object.keys(one.out)) assert.equal(two.out[k], one.out[k], `${k}: threaded output differs`);
});

test('asking for another thread count once wasm runs is a typed error that says to restart', async () => {
  const info = await initBackend({ backend: 'wasm' });
  const other = (info.wasmThreadCount ?? 1) === 1 ? 2 : 1;
  await assert.rejects(initBackend({ backend: 'wasm', threads: other }), (e: unknown) => e instanceof TslabCamError && e.code === 'BACKEND' && /restart/.test(e.message));
  assert.equal((await initBackend({ backend: 'wasm', threads: info.wasmThreadCount })).name, 'wasm');
});

test('backendSummary names the backend and, for wasm, its thread count', () => {
  const info = (name: string, wasmThreadCount?: number): BackendInfo => ({ name, wasmThreadCount } as unknown as BackendInfo);
  assert.equal(backendSummary(info('wasm', 2)), 'wasm backend, 2 threads');
  assert.equal(backendSummary(info('wasm', 1)), 'wasm backend, 1 thread');
  assert.equal(backendSummary(info('wasm')), 'wasm backend, 1 thread');
  assert.equal(backendSummary(info('tensorflow', 4)), 'tensorflow backend');
});
