import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as vm from 'vm';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { CancelledError, TslabCamError } from '../../src/errors';
import { runChunks, runChunksAsync, simulateInterrupt, withRestore, type RunProgress } from '../../src/run';

/** Sum of x·(i+1) over a chunk's rows, made with several intermediate tensors the chunk must free. */
function chunkSum(x: tf.Tensor2D, start: number, end: number): tf.Scalar {
  const rows = tf.slice(x, [start, 0], [end - start, -1]);
  const w = tf.range(start + 1, end + 1).reshape([-1, 1]);
  return tf.sum(tf.mul(rows, w));
}

function engineDepth(): number {
  return (tf.engine() as unknown as { state: { scopeStack: unknown[] } }).state.scopeStack.length;
}

test('runChunks: results in order, chunk intermediates freed, returned tensors kept, sum equals the unchunked one', async () => {
  await initBackend();
  const x = tf.randomNormal([10, 5], 0, 1, 'float32', 3) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const events: RunProgress[] = [];
  const parts = runChunks({ total: 10, chunk: 3, label: 'sum', unit: 'rows', onProgress: (p) => events.push(p) }, (s, e) => chunkSum(x, s, e));
  assert.equal(parts.length, 4);
  assert.equal(tf.memory().numTensors, before + 4, 'only the four returned scalars remain');
  const chunked = parts.reduce((a, t) => a + t.dataSync()[0], 0);
  const whole = chunkSum(x, 0, 10);
  assert.ok(Math.abs(chunked - whole.dataSync()[0]) < 1e-4, `${chunked} vs ${whole.dataSync()[0]}`);
  tf.dispose([...parts, whole, x]);
  assert.deepEqual(events.map((e) => [e.done, e.state]), [[0, 'running'], [3, 'running'], [6, 'running'], [9, 'running'], [10, 'running'], [10, 'done']]);
  assert.equal(events[0].total, 10);
  assert.equal(events[events.length - 1].etaMs, null);
});

test('runChunks: a signal aborted mid-run ends it CANCELLED at the next boundary with every tensor released', async () => {
  await initBackend();
  const x = tf.randomNormal([12, 4], 0, 1, 'float32', 4) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const ac = new AbortController();
  const states: string[] = [];
  let ran = 0;
  assert.throws(() => runChunks({ total: 12, chunk: 2, label: 'sum', unit: 'rows', signal: ac.signal, keepPartial: true, onProgress: (p) => states.push(p.state) },
    (s, e) => { ran++; if (e === 6) ac.abort(); return chunkSum(x, s, e); }), (e: unknown) => {
    assert.ok(e instanceof CancelledError);
    assert.equal(e.code, 'CANCELLED');
    assert.deepEqual(e.progress, { label: 'sum', done: 6, total: 12, unit: 'rows', reason: 'signal' });
    assert.match(e.message, /after 6 of 12 rows; the remaining 6 were not computed/);
    assert.equal((e.partial as unknown[]).length, 3);
    return true;
  });
  assert.equal(ran, 3);
  assert.equal(tf.memory().numTensors, before, 'the finished chunks\' results are disposed too');
  assert.equal(states[states.length - 1], 'cancelled');
  const again = runChunks({ total: 12, chunk: 4, label: 'sum', progress: false }, (s, e) => chunkSum(x, s, e).dataSync()[0]);
  assert.equal(again.length, 3, 'the next call works');
  x.dispose();
});

test('runChunks: an error in a chunk propagates unchanged, ends the run as failed, frees everything', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const states: string[] = [];
  assert.throws(() => runChunks({ total: 5, chunk: 1, label: 'boom', onProgress: (p) => states.push(p.state) }, (s) => {
    tf.ones([3, 3]);
    if (s === 2) throw new RangeError('chunk 2 failed');
    return tf.zeros([2]);
  }), /chunk 2 failed/);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(states[states.length - 1], 'failed');
  assert.equal(engineDepth(), 0);
});

test('runChunks: bad sizes are typed errors', () => {
  assert.throws(() => runChunks({ total: 3, chunk: 0, label: 'x' }, () => 0), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
  assert.throws(() => runChunks({ total: -1, chunk: 1, label: 'x' }, () => 0), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
});

test('runChunksAsync: an AbortSignal fired by a timer stops the run within a chunk, tensors equal before/after', async () => {
  await initBackend();
  const x = tf.randomNormal([64, 64], 0, 1, 'float32', 5) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  let chunks = 0;
  const signal = AbortSignal.timeout(50);
  await assert.rejects(runChunksAsync({ total: 1_000_000, chunk: 1, label: 'matmuls', unit: 'products', signal, progress: false }, () => {
    chunks++;
    const t0 = Date.now();
    while (Date.now() - t0 < 2) tf.matMul(x, x).dispose();
    return tf.matMul(x, x);
  }), (e: unknown) => e instanceof CancelledError && e.progress.reason === 'signal' && e.progress.done === chunks);
  assert.ok(chunks > 0 && chunks < 1_000_000);
  assert.equal(tf.memory().numTensors, before, 'the results of the finished chunks are disposed');
  x.dispose();
});

test('runChunksAsync: the interrupt (as the kernel\'s SIGINT delivers it) cancels; nested runs see their parent cancelled', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const events: RunProgress[] = [];
  let outer = 0;
  const p = runChunksAsync({ total: 100, chunk: 1, label: 'evaluate', unit: 'scenes', onProgress: (e) => events.push(e) }, (s) => {
    outer++;
    if (s === 3) setImmediate(simulateInterrupt);
    // A nested synchronous run inside the chunk: its events name the parent and depth 1.
    return runChunks({ total: 4, chunk: 2, label: 'Score-CAM', unit: 'channels', onProgress: (e) => events.push(e) }, (a, b) => tf.scalar(a + b))
      .map((t) => t.dataSync()[0]).reduce((a, b) => a + b, 0);
  });
  await assert.rejects(p, (e: unknown) => e instanceof CancelledError && e.progress.reason === 'interrupt' && e.progress.done === 4);
  assert.equal(outer, 4);
  assert.equal(tf.memory().numTensors, before);
  const nested = events.filter((e) => e.label === 'Score-CAM');
  const outerId = events.find((e) => e.label === 'evaluate')?.id;
  assert.ok(nested.length > 0 && nested.every((e) => e.depth === 1 && e.parent === outerId));
  assert.equal(events.filter((e) => e.label === 'evaluate').pop()?.state, 'cancelled');
});

test('runChunksAsync: a real SIGINT cancels the run; afterwards Ctrl-C handling is Node\'s default again', async () => {
  await initBackend();
  // Listeners change one event-loop turn late (see interrupt.ts): let earlier runs' changes land.
  await new Promise((r) => setImmediate(r));
  const listenersBefore = process.listenerCount('SIGINT');
  let chunks = 0;
  let listening = 0;
  const p = runChunksAsync({ total: 1e6, chunk: 1, label: 'spin', progress: false }, () => {
    chunks++;
    listening = process.listenerCount('SIGINT');
    if (chunks === 5) process.kill(process.pid, 'SIGINT');
    const t0 = Date.now();
    while (Date.now() - t0 < 1);
  });
  await assert.rejects(p, (e: unknown) => e instanceof CancelledError && e.progress.reason === 'interrupt' && e.progress.done === 5);
  assert.equal(listening, listenersBefore + 1, 'listening while the run is active');
  assert.equal(chunks, 5, 'stopped at the boundary right after the signal');
  await new Promise((r) => setImmediate(r));
  assert.equal(process.listenerCount('SIGINT'), listenersBefore, 'listener removed when no run is active');
});

test('runChunks terminated by SIGINT under vm breakOnSigint (how tslab runs a cell): engine scopes, tensors and progress are put right on the next microtask', async () => {
  await initBackend();
  const x = tf.randomNormal([1, 64, 64, 16], 0, 1, 'float32', 6) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 16, 16], 0, 1, 'float32', 7) as tf.Tensor4D;
  const reference = tf.tidy(() => tf.conv2d(x, w, 1, 'same').sum().dataSync()[0]);
  const before = tf.memory().numTensors;
  const events: RunProgress[] = [];
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const g = globalThis as Record<string, unknown>;
  Object.assign(g, {
    __i18: {
      run: () => runChunks({ total: 1e9, chunk: 1, label: 'Score-CAM', unit: 'channels', onProgress: (e) => events.push(e) }, () => {
        // Results kept across chunks, and a tidy opened inside the chunk: both must go.
        tf.conv2d(x, w, 1, 'same');
        return tf.tidy(() => tf.conv2d(x, w, 1, 'same').mean());
      }),
    },
  });
  // A signal from another process, as Jupyter's interrupt sends it.
  const killer = spawn('sh', ['-c', `sleep 1; kill -INT ${process.pid}`], { stdio: 'ignore' });
  const killed = new Promise((r) => killer.on('exit', r));
  (process.stderr as unknown as { write: (s: string) => boolean }).write = (s: string) => { stderr.push(String(s)); return true; };
  let thrown: unknown;
  try {
    vm.runInThisContext('__i18.run()', { breakOnSigint: true });
  } catch (e) {
    thrown = e;
  }
  const depthAfterTermination = engineDepth();
  await new Promise((r) => setImmediate(r));
  (process.stderr as unknown as { write: typeof write }).write = write;
  assert.equal((thrown as { code?: string }).code, 'ERR_SCRIPT_EXECUTION_INTERRUPTED', 'terminated, not cancelled: no catch or finally of ours ran');
  assert.ok(depthAfterTermination > 0, 'before the microtask the engine still had the abandoned run\'s scopes open');
  assert.equal(engineDepth(), 0, 'every abandoned tfjs scope was ended');
  assert.equal((tf.engine() as unknown as { state: { kernelDepth: number } }).state.kernelDepth, 0);
  assert.equal(tf.memory().numTensors, before, 'every tensor of the run was disposed');
  assert.equal(events[events.length - 1].state, 'cancelled');
  assert.ok(events[events.length - 1].done > 0);
  assert.match(stderr.join(''), /TslabCamError \[CANCELLED\]: Score-CAM was cancelled/);
  assert.equal(tf.tidy(() => tf.conv2d(x, w, 1, 'same').sum().dataSync()[0]), reference, 'the next computation gives the same number');
  assert.equal(tf.memory().numTensors, before);
  await killed;
  delete g.__i18;
  tf.dispose([x, w]);
});

test('withRestore: the restore runs once on normal exit, on a throw, and (later) after termination', async () => {
  let restored = 0;
  assert.equal(withRestore(() => restored++, () => 7), 7);
  assert.throws(() => withRestore(() => restored++, () => { throw new Error('x'); }));
  assert.equal(restored, 2);
  await new Promise((r) => setImmediate(r));
  assert.equal(restored, 2, 'the microtask check does nothing for scopes that ended normally');
});
