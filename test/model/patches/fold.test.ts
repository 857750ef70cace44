import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/model/backend';
import { foldableInput, foldedConvBatchNorm } from '../../../src/model/patches/fold';
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
  bn.setWeights(bn.getWeights().map((w, i) => tf.tidy(() => {
    const r = tf.randomUniform(w.shape, 0, 1, 'float32', seed + i);
    return w.shape.length && /variance/.test(bn.weights[i].name) ? tf.add(r, 0.2) : tf.sub(tf.mul(r, 2), 0.5);
  })));
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
