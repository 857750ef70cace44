import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { backendInfo, initBackend } from '../../src/model/backend';
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
    assert.equal(info.wasmThreads, false, 'tfjs turns wasm threads off under Node');
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
