import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { TslabCamError } from '../../src/errors';
import {
  WASM_HEAP_LIMIT_BYTES, activationBytes, bytesPerImage, guardWasmHeap, memoryBudget, planChunks, runChunks, type MemoryBudget,
} from '../../src/run';

const MIB = 1024 * 1024;
const budget = (availableMiB: number): MemoryBudget => ({ backend: 'wasm', limitBytes: WASM_HEAP_LIMIT_BYTES, usedBytes: 0, heapBytes: 16 * MIB, availableBytes: availableMiB * MIB });

function heapBytes(): number {
  return (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
}

/** A small conv net whose input size is a parameter; building it allocates only its weights. */
function convNet(size: number, channels = 8): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [size, size, 3], filters: channels, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.conv2d({ filters: channels * 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c2', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ units: 4, name: 'fc', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
}

test('activationBytes reads the layers\' output shapes: known sizes for a 32×32 net', async () => {
  await initBackend();
  const m = convNet(32);
  const a = activationBytes(m);
  assert.equal(a.inputBytes, 32 * 32 * 3 * 4);
  assert.equal(a.largestBytes, 32 * 32 * 8 * 4);
  assert.equal(a.largestLayer, 'c1');
  assert.equal(a.totalBytes, (32 * 32 * 3 + 32 * 32 * 8 + 16 * 16 * 16 + 16 + 4) * 4);
  assert.equal(bytesPerImage(a, 'forward'), a.inputBytes + 2 * a.largestBytes);
  assert.equal(bytesPerImage(a, 'gradient'), 2 * a.totalBytes);
  m.dispose();
});

test('planChunks: fixed + chunk × perItem ≤ share × available; a batchSize that does not fit is lowered', () => {
  const p = planChunks({ total: 100, bytesPerItem: 10 * MIB, fixedBytes: 20 * MIB, label: 'Score-CAM', budget: budget(400) });
  assert.equal(p.chunk, 18); // (200 − 20) / 10
  assert.equal(p.chunks, 6);
  assert.equal(p.chunkBytes, 200 * MIB);
  const q = planChunks({ total: 100, bytesPerItem: 10 * MIB, batchSize: 64, label: 'Score-CAM', budget: budget(400) });
  assert.deepEqual([q.chunk, q.lowered], [20, true]);
  const r = planChunks({ total: 5, bytesPerItem: 1 * MIB, batchSize: 64, label: 'x', budget: budget(400) });
  assert.deepEqual([r.chunk, r.chunks, r.lowered], [5, 1, false]);
});

test('planChunks refuses, before allocating, an input whose one image cannot fit: the size and the fix are named', async () => {
  await initBackend();
  assert.equal(tf.getBackend(), 'wasm');
  // 8192×8192 RGB with 64 channels at full resolution: one image's activations are ~16 GiB.
  const big = convNet(8192, 64);
  const heap = heapBytes();
  const tensors = tf.memory().numTensors;
  const perImage = bytesPerImage(activationBytes(big), 'forward');
  assert.ok(perImage > WASM_HEAP_LIMIT_BYTES);
  assert.throws(() => planChunks({ total: 8, bytesPerItem: perImage, label: 'Score-CAM', unit: 'image' }), (e: unknown) => {
    assert.ok(e instanceof TslabCamError);
    assert.equal(e.code, 'OUT_OF_MEMORY');
    assert.match(e.message, /Score-CAM: one image needs about [\d,]+ MiB, but the wasm backend has [\d,]+ MiB available/);
    assert.match(e.message, /Nothing was allocated/);
    assert.match(e.fix, /smaller input image/);
    return true;
  });
  assert.equal(heapBytes(), heap, 'the heap did not grow');
  assert.equal(tf.memory().numTensors, tensors);
  big.dispose();
});

test('guardWasmHeap: a tensor larger than the heap can hold is a typed error and the backend keeps working with the same numbers', async () => {
  await initBackend();
  assert.ok(guardWasmHeap());
  const m = convNet(16);
  const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 9);
  const before = (m.predict(x) as tf.Tensor).arraySync();
  const tensors = tf.memory().numTensors;
  const heap = heapBytes();
  // 2^30 + 16 floats: 4 GiB + 64 bytes, more than the heap can ever hold: refused before _malloc
  // (whose 32-bit size would wrap around to 64 bytes).
  assert.throws(() => tf.fill([2 ** 30 + 16], 1), (e: unknown) => e instanceof TslabCamError && e.code === 'OUT_OF_MEMORY' && /more than the wasm backend can ever hold/.test(e.message));
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(heapBytes(), heap);
  assert.deepEqual((m.predict(x) as tf.Tensor).arraySync(), before, 'same outputs after the refused allocation');
  tf.dispose(x);
  m.dispose();
});

test('memoryBudget on wasm: limit is the heap maximum, available never exceeds limit − used', async () => {
  await initBackend();
  const b = memoryBudget();
  assert.equal(b.backend, 'wasm');
  assert.equal(b.limitBytes, WASM_HEAP_LIMIT_BYTES);
  assert.ok(b.heapBytes !== null && b.heapBytes >= 16 * MIB);
  assert.ok(b.availableBytes > 0 && b.availableBytes <= b.limitBytes - b.usedBytes);
});

test('a batch chunked by planChunks gives the same outputs as single images', async () => {
  await initBackend();
  const m = convNet(24);
  const images = tf.randomUniform([7, 24, 24, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
  const tensors = tf.memory().numTensors;
  const perImage = bytesPerImage(activationBytes(m), 'forward');
  // A budget that fits three images per chunk at the default share of one half.
  const plan = planChunks({ total: 7, bytesPerItem: perImage, label: 'predict', budget: { ...budget(0), availableBytes: perImage * 6.5 } });
  assert.equal(plan.chunk, 3);
  const chunked = runChunks({ total: 7, chunk: plan.chunk, label: 'predict', progress: false }, (s, e) =>
    (m.predict(tf.slice(images, [s, 0, 0, 0], [e - s, -1, -1, -1])) as tf.Tensor).arraySync() as number[][]).flat();
  const singles = Array.from({ length: 7 }, (_, i) => tf.tidy(() => (m.predict(tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1])) as tf.Tensor).arraySync() as number[][])[0]);
  assert.equal(chunked.length, 7);
  chunked.forEach((row, i) => row.forEach((v, c) => assert.ok(Math.abs(v - singles[i][c]) <= 1e-5 * Math.max(1, Math.abs(v)), `image ${i} class ${c}: ${v} vs ${singles[i][c]}`)));
  assert.equal(tf.memory().numTensors, tensors);
  images.dispose();
  m.dispose();
});

test('guardWasmHeap, for real: filling the heap to its 4 GiB limit gives OUT_OF_MEMORY instead of a dead backend (TSLAB_CAM_HEAVY=1: ~4 GiB of RAM)', {
  skip: process.env.TSLAB_CAM_HEAVY === '1' ? false : 'set TSLAB_CAM_HEAVY=1 (needs ~4 GiB of free memory)',
}, async () => {
  await initBackend();
  assert.ok(guardWasmHeap());
  const x = tf.randomNormal([1, 32, 32, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, 8, 8], 0, 1, 'float32', 2) as tf.Tensor4D;
  const reference = tf.tidy(() => tf.conv2d(x, w, 1, 'same').sum().dataSync()[0]);
  const tensors = tf.memory().numTensors;
  const held: tf.Tensor[] = [];
  let error: unknown;
  try {
    // 768 MiB at a time: unguarded, the sixth _malloc returned 0 and tfjs wrote the tensor at address 0.
    for (let i = 0; i < 8; i++) held.push(tf.fill([192 * MIB], 1)); // 192 Mi floats = 768 MiB
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof TslabCamError && error.code === 'OUT_OF_MEMORY', String(error));
  assert.match((error as Error).message, /could not allocate 768 MiB: its heap is [\d,]+ MiB of at most 4,096 MiB/);
  tf.dispose(held);
  assert.equal(tf.memory().numTensors, tensors);
  assert.equal(tf.tidy(() => tf.conv2d(x, w, 1, 'same').sum().dataSync()[0]), reference, 'the backend still computes the same numbers');
  tf.dispose([x, w]);
});
