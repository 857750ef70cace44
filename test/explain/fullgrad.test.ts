import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadModel } from '../../src/model/load';
import { loadImage } from '../../src/model/image';
import { builtinSamples } from '../../src/model/builtin';
import { explain, verify } from '../../src/explain';
import { biasOf, fullGrad, fullGradBatch, type FullGradResult } from '../../src/explain/fullgrad';
import { TslabCamError } from '../../src/errors';
import { gapNet, mobileNetV2, randomImages, resNet } from '../fixtures/models';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

/** x (2×2×1) → 1×1 conv (weight 2, bias 1) → Flatten → Dense (class 0: g, bias 0.5). */
function handModel(activation: 'linear' | 'elu' = 'linear'): tf.LayersModel {
  const input = tf.input({ shape: [2, 2, 1] });
  const z = tf.layers.conv2d({ filters: 1, kernelSize: 1, name: 'z', activation, weights: [tf.tensor4d([2], [1, 1, 1, 1]), tf.tensor1d([1])] }).apply(input) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({}).apply(z) as tf.SymbolicTensor;
  const W = tf.tensor2d([1, 0, -2, 0, 0.5, 0, 3, 0], [4, 2]);
  const out = tf.layers.dense({ units: 2, weights: [W, tf.tensor1d([0.5, 0])] }).apply(flat) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

test('fullGrad: known answer on a hand-worked model (map and both sides of completeness)', () => {
  const model = handModel();
  const x = tf.tensor4d([1, -1, 2, 0], [1, 2, 2, 1]);
  const r = fullGrad(model, x, { classIndex: 0 });
  // g = [1, -2, 0.5, 3]; ∂S/∂x = 2g; |x ⊙ 2g| = [2, 4, 2, 0] → scaled [0.5, 1, 0.5, 0];
  // conv bias part |1 · g| = [1, 2, 0.5, 3] → scaled [0.2, 0.6, 0, 1]; the Dense bias is not spatial.
  assert.ok(relDiff(r.raw.data, [0.7, 1.6, 0.5, 1.0]) < 1e-6, `map ${r.raw.data}`);
  // S = Σ g (2x + 1) + 0.5 = 11 = input term 8 + bias term (Σ g = 2.5) + 0.5.
  assert.ok(Math.abs(r.S - 11) < 1e-5);
  assert.ok(Math.abs(r.completeness.inputTerm - 8) < 1e-5 && Math.abs(r.completeness.biasTerm - 3) < 1e-5, JSON.stringify(r.completeness));
  assert.deepEqual(r.mapLayers, ['z']);
  x.dispose();
  model.dispose();
});

test('fullGrad: BatchNorm\'s bias is β − γμ/√(σ²+ε)', () => {
  const input = tf.input({ shape: [2] });
  const bn = tf.layers.batchNormalization({ epsilon: 0.01 });
  bn.apply(input);
  bn.setWeights([tf.tensor1d([2, 3]), tf.tensor1d([0.5, -1]), tf.tensor1d([1, -2]), tf.tensor1d([0.24, 0.99])]);
  const b = biasOf(bn)!;
  assert.ok(relDiff(b, [0.5 - 2 / 0.5, -1 + 6 / 1]) < 1e-6, `${b}`);
});

test('fullGrad: completeness (identity 12) on both built-in models and every sample to 1e-4 relative', async () => {
  for (const name of ['digits-gap', 'digits-fc']) {
    const model = await loadModel(`builtin:${name}`);
    for (const s of builtinSamples()) {
      const x = await loadImage(s.path, { model });
      for (const classIndex of [undefined, 3] as const) {
        const r = fullGrad(model, x, { classIndex });
        const [check] = verify(r);
        assert.equal(check.id, 12);
        assert.ok(check.pass && !check.skipped && check.relDiff < 1e-4, `${name} ${s.name}: ${JSON.stringify(check)}`);
        assert.ok(r.completeness.layers >= 5);
      }
      x.dispose();
    }
    model.dispose();
  }
});

test('fullGrad: completeness on a fused conv+ReLU net, a ResNet and MobileNetV2 (BN, ReLU6, skips); batch of 8 = 8 singles; no leaks', () => {
  // gapNet's convs fuse their ReLU and bias: the bias gradient is taken before the ReLU.
  for (const model of [gapNet({ seed: 7, size: 16 }), resNet({ seed: 3, size: 16 }), mobileNetV2({ seed: 2, size: 32 })]) {
    const size = model.inputs[0].shape[1] as number;
    const x = randomImages(8, size, 4);
    const before = tf.memory().numTensors;
    const batch = fullGradBatch(model, x);
    for (let i = 0; i < 8; i++) {
      const xi = x.slice(i, 1);
      const one = fullGrad(model, xi, { classIndex: batch[i].classIndex });
      xi.dispose();
      assert.ok(relDiff(batch[i].raw.data, one.raw.data) < 1e-5, `image ${i}`);
      assert.ok(verify(one)[0].pass, JSON.stringify(verify(one)[0]));
    }
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
    model.dispose();
  }
});

test('fullGrad: cpu = wasm to 1e-5', async () => {
  const model = resNet({ seed: 5, size: 16 });
  const x = randomImages(2, 16, 8);
  const wasm = explain(model, x, { method: 'fullGrad', classIndex: [0, 1] }) as FullGradResult[];
  await tf.setBackend('cpu');
  try {
    const cpu = explain(model, x, { method: 'fullGrad', classIndex: [0, 1] }) as FullGradResult[];
    for (let i = 0; i < 2; i++) assert.ok(relDiff(cpu[i].raw.data, wasm[i].raw.data) < 1e-5, `${relDiff(cpu[i].raw.data, wasm[i].raw.data)}`);
  } finally {
    await tf.setBackend('wasm');
  }
  x.dispose();
  model.dispose();
});

test('fullGrad: an activation whose derivative it cannot form is a typed error after the backward pass, with no tensor left', () => {
  const model = handModel('elu');
  const x = tf.tensor4d([1, -1, 2, 0], [1, 2, 2, 1]);
  const before = tf.memory().numTensors;
  assert.throws(() => fullGrad(model, x), (e: unknown) => e instanceof TslabCamError && e.code === 'UNSUPPORTED' && /elu/.test(e.message));
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});
