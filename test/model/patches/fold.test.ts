import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend';
import { foldCacheStats, foldableInput, foldedConvBatchNorm, releaseFoldCache } from '../../../src/model/patches/fold';
import { runGraph } from '../../../src/model/graph';
import { nodeOf } from '../../../src/model/layers';
import { relDiff } from '../../helpers/numeric';

before(async () => {
  await initBackend();
});

interface Case {
  readonly name: string;
  readonly conv: () => tf.layers.Layer;
  readonly bn: { center: boolean; scale: boolean };
}

const CASES: Case[] = [
  { name: 'conv 3×3 same, no bias', conv: () => tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false }), bn: { center: true, scale: true } },
  { name: 'conv 3×3 stride 2 valid, bias', conv: () => tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'valid', useBias: true, biasInitializer: 'randomNormal' }), bn: { center: true, scale: true } },
  { name: 'conv dilated, BN without γ and β', conv: () => tf.layers.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same' }), bn: { center: false, scale: false } },
  { name: 'depthwise ×2 stride 2 same', conv: () => tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', useBias: false }), bn: { center: true, scale: true } },
  { name: 'conv 1×1 stride 2 same, bias', conv: () => tf.layers.conv2d({ filters: 5, kernelSize: 1, strides: 2, padding: 'same', biasInitializer: 'randomNormal' }), bn: { center: true, scale: true } },
  { name: 'depthwise stride 1 valid', conv: () => tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'valid', useBias: false }), bn: { center: true, scale: true } },
];

/** input → conv → BN → ReLU → GAP → Dense, with BN statistics and affine parameters far from 0/1. */
function model(c: Case, seed: number): tf.LayersModel {
  const input = tf.input({ shape: [11, 9, 3] });
  const conv = c.conv();
  let h = conv.apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ ...c.bn, epsilon: 1e-3, name: 'bn' });
  h = bn.apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU({ name: 'relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(h) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  // Non-trivial moving statistics and affine parameters, so a wrong fold cannot hide.
  const values = bn.getWeights().map((w, i) => tf.tidy(() => {
    const r = tf.randomUniform(w.shape, 0, 1, 'float32', seed + i);
    return w.shape.length && /variance/.test(bn.weights[i].name) ? tf.add(r, 0.2) : tf.sub(tf.mul(r, 2), 0.5);
  }));
  bn.setWeights(values);
  tf.dispose(values);
  return m;
}

test('a folded conv → BatchNorm equals BatchNorm(conv(x)) on wasm and cpu: conv, bias, stride, dilation, depthwise, no γ/β', async () => {
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    CASES.forEach((c, k) => {
      const m = model(c, 10 * k);
      const before = tf.memory().numTensors;
      const bn = m.getLayer('bn');
      const fold = foldableInput(bn, nodeOf(bn.output as tf.SymbolicTensor), null);
      assert.ok(fold, `${c.name}: foldable`);
      const x = tf.randomNormal([2, 11, 9, 3], 0, 1, 'float32', k) as tf.Tensor4D;
      const [folded, reference] = tf.tidy(() => [
        foldedConvBatchNorm(fold.conv, bn, x).dataSync(),
        (bn.apply(fold.conv.apply(x), { training: false }) as tf.Tensor).dataSync(),
      ]);
      assert.equal(folded.length, reference.length);
      assert.ok(relDiff(folded, reference) < 1e-5, `${backend} ${c.name}: ${relDiff(folded, reference)}`);
      x.dispose();
      assert.equal(tf.memory().numTensors, before, `${c.name}: no leak`);
      m.dispose();
    });
  }
  await initBackend({ backend: 'wasm' });
});

test('runGraph folds only where the conv output is not wanted: capturing or overriding the conv itself still works', () => {
  const m = model(CASES[0], 3);
  const conv = m.layers[1];
  const x = tf.randomNormal([1, 11, 9, 3], 0, 1, 'float32', 7);
  tf.tidy(() => {
    const convOut = tf.model({ inputs: m.inputs, outputs: conv.output as tf.SymbolicTensor }).predict(x) as tf.Tensor;
    const run = runGraph(m, x, { capture: [conv.name], scoreKind: 'logits' });
    assert.ok(run.captured);
    assert.ok(relDiff(run.captured.dataSync(), convOut.dataSync()) < 1e-6, 'captured conv output is the raw conv');
    // Scores of the folded run (capture elsewhere) equal those of the unfolded one (capture at the conv).
    const folded = runGraph(m, x, { capture: ['relu'], scoreKind: 'logits' });
    assert.ok(relDiff(folded.scores.dataSync(), run.scores.dataSync()) < 1e-5);
    // Overriding the conv output (as the finite-difference checks do) reaches the scores.
    const bumped = runGraph(m, x, { capture: [conv.name], scoreKind: 'logits', override: tf.add(convOut, 0.5) });
    assert.ok(relDiff(bumped.scores.dataSync(), run.scores.dataSync()) > 1e-3, 'override changes the scores');
  });
  x.dispose();
  m.dispose();
});

// ---------------------------------------------------------------------------------------------
// The fold cache

/** The model's output (softmax) through runGraph, i.e. with the fold, as plain numbers. */
function foldedScores(m: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => Float32Array.from(runGraph(m, x, { capture: ['relu'], scoreKind: 'probabilities' }).scores.dataSync()));
}

/** The same model run by tfjs itself (no fold): the reference. */
function plainScores(m: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => Float32Array.from((m.predict(x) as tf.Tensor).dataSync()));
}

test('the fold cache: a second call reuses the folded weights; setWeights on the conv or the BatchNorm, and a training step, are never served stale', async () => {
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    for (const [k, c] of CASES.entries()) {
      const m = model(c, 40 + k);
      const x = tf.randomNormal([2, 11, 9, 3], 0, 1, 'float32', 50 + k);
      const what = `${backend} ${c.name}`;
      const s0 = foldCacheStats();
      const first = foldedScores(m, x);
      const s1 = foldCacheStats();
      assert.equal(s1.misses - s0.misses, 1, `${what}: first call folds`);
      assert.ok(relDiff(first, plainScores(m, x)) < 1e-5, `${what}: first call`);
      const second = foldedScores(m, x);
      const s2 = foldCacheStats();
      assert.equal(s2.misses, s1.misses, `${what}: second call folds nothing`);
      assert.equal(s2.hits - s1.hits, 1, `${what}: second call hits`);
      assert.deepEqual(second, first, `${what}: same weights, same numbers`);

      // setWeights on the conv (the kernel, and the bias where there is one).
      const conv = m.layers[1];
      conv.setWeights(conv.getWeights().map((w) => tf.tidy(() => tf.mul(w, -1.5))));
      const afterConv = foldedScores(m, x);
      assert.ok(relDiff(afterConv, plainScores(m, x)) < 1e-5, `${what}: after conv.setWeights`);
      assert.ok(relDiff(afterConv, first) > 1e-3, `${what}: the new conv weights change the scores`);

      // setWeights on the BatchNorm's moving statistics only.
      const bn = m.getLayer('bn');
      bn.setWeights(bn.getWeights().map((w, i) => tf.tidy(() => (/moving_mean/.test(bn.weights[i].name) ? tf.add(w, 0.7) : tf.clone(w)))));
      const afterBn = foldedScores(m, x);
      assert.ok(relDiff(afterBn, plainScores(m, x)) < 1e-5, `${what}: after bn.setWeights`);
      assert.ok(relDiff(afterBn, afterConv) > 1e-4, `${what}: the new moving mean changes the scores`);

      if (!c.bn.scale || !c.bn.center) {
        // tfjs-layers 4.22 cannot train a BatchNorm without γ and β (its training branch reads
        // this.gamma unconditionally), so this case stops before the training step.
        x.dispose();
        m.dispose();
        continue;
      }
      // One training step: fit updates the conv kernel (optimizer assign) and, in training mode,
      // the BatchNorm's moving mean and variance.
      m.compile({ optimizer: tf.train.sgd(0.5), loss: 'categoricalCrossentropy' });
      const y = tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3);
      const meanBefore = Float32Array.from(bn.getWeights().find((_, i) => /moving_mean/.test(bn.weights[i].name))!.dataSync());
      await m.fit(x, y, { epochs: 1, batchSize: 2, verbose: 0 });
      const meanAfter = bn.getWeights().find((_, i) => /moving_mean/.test(bn.weights[i].name))!.dataSync();
      assert.ok(relDiff(meanAfter, meanBefore) > 1e-4, `${what}: training moved the moving mean`);
      const afterFit = foldedScores(m, x);
      assert.ok(relDiff(afterFit, plainScores(m, x)) < 1e-5, `${what}: after a training step`);
      assert.ok(relDiff(afterFit, afterBn) > 1e-4, `${what}: the training step changes the scores`);
      tf.dispose([x, y]);
      m.dispose();
    }
  }
  await initBackend({ backend: 'wasm' });
});

test('the fold cache is kept out of tf.memory() exactly, and releases a disposed model\'s tensors', () => {
  releaseFoldCache();
  const empty = foldCacheStats();
  assert.equal(empty.entries, 0);
  const base = tf.memory();
  const m = model(CASES[3], 60);
  const x = tf.randomNormal([1, 11, 9, 3], 0, 1, 'float32', 61);
  const withModel = tf.memory().numTensors;
  foldedScores(m, x);
  assert.equal(tf.memory().numTensors, withModel, 'a first (folding) call leaves the count unchanged');
  assert.equal(foldCacheStats().entries, 1);
  assert.equal(foldCacheStats().tensors, 2);
  assert.ok(foldCacheStats().bytes > 0);
  foldedScores(m, x);
  assert.equal(foldCacheStats().entries, 1, 'a second call adds nothing');
  // model.dispose() makes the slot stale; the next sweep (any miss, or this call) frees it.
  m.dispose();
  x.dispose();
  releaseFoldCache({ staleOnly: true });
  assert.equal(foldCacheStats().entries, 0, 'a disposed model keeps no folded weights');
  const end = tf.memory();
  assert.equal(end.numTensors, base.numTensors);
  assert.equal(end.numBytes, base.numBytes);
  assert.equal((end as { numDataBuffers?: number }).numDataBuffers, (base as { numDataBuffers?: number }).numDataBuffers);
});

test('the fold cache: a miss on another model frees the slots of a model disposed before it', () => {
  releaseFoldCache();
  const a = model(CASES[0], 70);
  const x = tf.randomNormal([1, 11, 9, 3], 0, 1, 'float32', 71);
  foldedScores(a, x);
  assert.equal(foldCacheStats().entries, 1);
  a.dispose();
  const b = model(CASES[1], 72);
  foldedScores(b, x);
  assert.equal(foldCacheStats().entries, 1, 'only the live model\'s fold remains');
  b.dispose();
  x.dispose();
  releaseFoldCache();
  assert.equal(foldCacheStats().entries, 0);
});

test('gradients through the folded conv (its own input gradient on wasm) equal tfjs\'s gradient of the unfolded model on cpu, to 1e-5', async () => {
  /** ∂(Σ r·p)/∂x, p the softmax output: through runGraph (fold + the slot's input gradient) or tfjs's own layers. */
  const grad = (m: tf.LayersModel, x: tf.Tensor, r: tf.Tensor, folded: boolean): Float32Array => tf.tidy(() => Float32Array.from(tf.grad((v: tf.Tensor) => {
    const p = folded ? runGraph(m, v, { capture: ['relu'], scoreKind: 'probabilities' }).scores : m.apply(v, { training: false }) as tf.Tensor;
    return tf.sum(tf.mul(p, r));
  })(x).dataSync()));
  for (const [k, c] of CASES.entries()) {
    // tfjs itself cannot differentiate this case (a dilated conv2d, and batchNorm without γ), so it
    // has no reference here; kernels.test.ts checks dilated input gradients against plain JS.
    if (c.name.startsWith('conv dilated')) continue;
    await tf.setBackend('wasm');
    // One model and one input for both backends (the conv and dense initialisers are unseeded).
    const m = model(c, 80 + k);
    const x = tf.randomNormal([2, 11, 9, 3], 0, 1, 'float32', 81 + k);
    const r = tf.randomNormal([2, 3], 0, 1, 'float32', 82 + k);
    const before = tf.memory().numTensors;
    const first = grad(m, x, r, true);
    const second = grad(m, x, r, true); // the slot's kept backward filter
    assert.equal(tf.memory().numTensors, before, `${c.name}: no leak`);
    await tf.setBackend('cpu');
    const reference = grad(m, x, r, false);
    tf.dispose([x, r]);
    m.dispose();
    assert.ok(maxAbsOf(reference) > 1e-4, `${c.name}: a real gradient`);
    assert.ok(relDiff(first, reference) < 1e-5, `${c.name}: wasm folded gradient vs cpu: ${relDiff(first, reference)}`);
    assert.deepEqual(second, first, `${c.name}: the second call gives the same numbers`);
  }
  await initBackend({ backend: 'wasm' });
});

function maxAbsOf(a: ArrayLike<number>): number {
  let v = 0;
  for (let i = 0; i < a.length; i++) v = Math.max(v, Math.abs(a[i]));
  return v;
}
