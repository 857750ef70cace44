/**
 * Targets beyond a class score, each on a small model built here: the engine's gradient of the
 * target at the feature layer against central finite differences of the target itself (f is
 * perturbed at the layer, the rest of the model re-run, the target re-evaluated).
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { runEngine, type TargetFn } from '../../src/model/engine';
import { runGraph } from '../../src/model/graph';
import * as targets from '../../src/model/targets';
import { gradCam, hiResCam } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { mulberry32 } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

const SIZE = 8;

/** conv(relu) 'feat' → a head of the caller's choice; seeded weights. */
function build(head: (x: tf.SymbolicTensor) => tf.SymbolicTensor | tf.SymbolicTensor[], seed: number): tf.LayersModel {
  const input = tf.input({ shape: [SIZE, SIZE, 3] });
  const x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'feat', kernelInitializer: tf.initializers.glorotUniform({ seed }) }).apply(input) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: head(x) });
}
const dense = (units: number, seed: number, activation: 'linear' | 'sigmoid' | 'softmax' = 'linear') =>
  tf.layers.dense({ units, activation, kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: tf.initializers.constant({ value: 0.1 }) });
const gapThen = (x: tf.SymbolicTensor) => tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;

/** target(output of the model with f replaced) for image 0: what the finite difference differentiates. */
function targetAt(model: tf.LayersModel, image: tf.Tensor4D, f: Float32Array, shape: number[], t: targets.Target): number {
  return tf.tidy(() => {
    const r = runGraph(model, image, { capture: ['feat'], scoreKind: 'logits', outputIndex: t.outputIndex, override: tf.tensor(f, shape) });
    return t.fn(r.scores).dataSync()[0];
  });
}

/** The engine's ∂target/∂f at the largest-|gradient| elements and a few random ones, against central differences. */
function checkGradient(model: tf.LayersModel, t: targets.Target, what: string): void {
  const image = tf.randomUniform([1, SIZE, SIZE, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const out = runEngine(model, image, { layer: 'feat', target: t.fn, outputIndex: t.outputIndex });
  const f = out.f.dataSync() as Float32Array;
  const g = out.grads.dataSync() as Float32Array;
  const value = out.targetValues!.dataSync()[0];
  assert.ok(Math.abs(value - targetAt(model, image, f, out.f.shape, t)) < 1e-5, `${what}: the engine's target value`);
  assert.deepEqual(out.classIndices, [-1]);
  const rand = mulberry32(3);
  const order = Array.from(g.keys()).filter((i) => f[i] > 0.05).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
  assert.ok(order.length > 0 && g[order[0]] !== 0, `${what}: gradient not all zero`);
  const picks = new Set([...order.slice(0, 3), ...Array.from({ length: 3 }, () => order[Math.floor(rand() * order.length)])]);
  for (const i of picks) {
    const eps = 1e-2 * Math.max(1, Math.abs(f[i]));
    const plus = Float32Array.from(f);
    const minus = Float32Array.from(f);
    plus[i] += eps;
    minus[i] -= eps;
    const fd = (targetAt(model, image, plus, out.f.shape, t) - targetAt(model, image, minus, out.f.shape, t)) / (2 * eps);
    const rel = Math.abs(fd - g[i]) / Math.max(Math.abs(g[i]), 1e-6);
    assert.ok(rel < 1e-2, `${what}: element ${i} analytic ${g[i]} vs finite difference ${fd}`);
  }
  out.dispose();
  assert.equal(tf.memory().numTensors, before, `${what}: leak`);
  image.dispose();
}

test('binary sigmoid model: positive class explains the logit z, negative class −z', () => {
  const m = build((x) => dense(1, 2, 'sigmoid').apply(gapThen(x)) as tf.SymbolicTensor, 1);
  checkGradient(m, targets.binary('positive'), 'binary positive');
  checkGradient(m, targets.binary('negative'), 'binary negative');
  const x = tf.randomUniform([1, SIZE, SIZE, 3], 0, 1, 'float32', 6);
  const pos = hiResCam(m, x, { target: targets.binary('positive') });
  const neg = hiResCam(m, x, { target: targets.binary('negative') });
  assert.equal(pos.target, 'sigmoid: positive class');
  assert.ok(Math.abs(pos.S + neg.S) < 1e-6 && pos.S !== 0, 'S(negative) = −S(positive)');
  x.dispose();
  m.dispose();
});

test('regression output, and a chosen output of a multi-output model', () => {
  const reg = build((x) => dense(3, 3).apply(tf.layers.flatten({}).apply(x)) as tf.SymbolicTensor, 2);
  checkGradient(reg, targets.regression(2), 'regression');
  reg.dispose();
  const multi = build((x) => [dense(5, 4, 'softmax').apply(gapThen(x)) as tf.SymbolicTensor, dense(2, 5).apply(tf.layers.flatten({}).apply(x)) as tf.SymbolicTensor], 3);
  checkGradient(multi, targets.output(1, 1), 'multi-output');
  checkGradient(multi, targets.output(0, 4), 'multi-output, softmax output read before the softmax');
  multi.dispose();
});

test('segmentation: class c summed over a mask region; similarity to a reference embedding', () => {
  const seg = build((x) => tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'seg', kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) }).apply(x) as tf.SymbolicTensor, 4);
  const mask = Array.from({ length: SIZE * SIZE }, (_, i) => (i % SIZE < 4 && i < SIZE * 5 ? 1 : 0));
  checkGradient(seg, targets.segmentation(2, mask, [SIZE, SIZE]), 'segmentation');
  // Without a target, a (N, H, W, C) output is refused with the fix.
  const x = tf.randomUniform([1, SIZE, SIZE, 3], 0, 1, 'float32', 6);
  assert.throws(() => gradCam(seg, x), (e: unknown) => e instanceof TslabCamError && e.code === 'UNSUPPORTED' && /targets\.segmentation/.test(e.message));
  seg.dispose();
  const emb = build((x) => dense(6, 8).apply(gapThen(x)) as tf.SymbolicTensor, 5);
  checkGradient(emb, targets.similarity([1, -2, 0.5, 0, 1, 3]), 'similarity');
  // Cosine similarity with its own embedding is 1.
  const own = Array.from((emb.predict(x) as tf.Tensor).dataSync());
  const r = gradCam(emb, x, { target: targets.similarity(own) });
  assert.ok(Math.abs(r.S - 1) < 1e-5, `similarity to itself ${r.S}`);
  tf.dispose(emb.predict(x) as tf.Tensor);
  x.dispose();
  emb.dispose();
});

test('a target function gives the same gradient as the equal class index; batch targets are per image', () => {
  const m = build((x) => dense(4, 6).apply(gapThen(x)) as tf.SymbolicTensor, 6);
  const x = tf.randomUniform([3, SIZE, SIZE, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const byClass = runEngine(m, x, { layer: 'feat', classIndex: 2 });
  const byFn = runEngine(m, x, { layer: 'feat', target: targets.classScore(2).fn });
  assert.deepEqual(Array.from(byFn.grads.dataSync()), Array.from(byClass.grads.dataSync()));
  const S = byClass.scores.arraySync().map((row) => row[2]);
  assert.ok(Array.from(byFn.targetValues!.dataSync()).every((v, i) => Math.abs(v - S[i]) < 1e-6));
  byClass.dispose();
  byFn.dispose();
  // target: 3 is classIndex: 3.
  const one = x.slice(0, 1);
  const a = gradCam(m, one, { target: 3 });
  assert.equal(a.classIndex, 3);
  assert.equal(a.target, undefined);
  tf.dispose([x, one]);
  m.dispose();
});

test('bad targets are typed errors that name the fix, and leak nothing', () => {
  const m = build((x) => dense(4, 6).apply(gapThen(x)) as tf.SymbolicTensor, 7);
  const x = tf.randomUniform([2, SIZE, SIZE, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const one = x.slice(0, 1);
  const before = tf.memory().numTensors;
  const bad = (fn: () => unknown, re: RegExp) => {
    assert.throws(fn, (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && re.test(e.message) && /Fix:/.test(e.message));
    assert.equal(tf.memory().numTensors, before, `leak after ${re}`);
  };
  const wrongShape: TargetFn = (out) => out.sum();
  bad(() => runEngine(m, x, { target: wrongShape }), /one float32 value per image, shape \[2\].*shape \[\]/);
  bad(() => runEngine(m, x, { target: (out) => out }), /shape \[2,4\]/);
  bad(() => runEngine(m, x, { target: (out) => out.sum(1).toInt() }), /int32/);
  bad(() => runEngine(m, x, { target: () => { throw new TslabCamError('BAD_OPTION', 'thrown inside the tape.', 'none'); } }), /inside the tape/);
  bad(() => runEngine(m, x, { target: targets.regression(0).fn, classIndex: 1 }), /Both classIndex and a target/);
  bad(() => runEngine(m, x, { target: (out) => tf.zeros([out.shape[0]]) }), /does not depend on layer 'feat'/);
  bad(() => gradCam(m, one, { target: 'positive' as never }), /target must be a class index/);
  bad(() => gradCam(m, one, { target: targets.regression(9) }), /regression output 9 does not exist.*4 value/);
  bad(() => gradCam(m, one, { target: targets.binary() }), /one output per image/);
  bad(() => gradCam(m, one, { target: targets.similarity([1, 2]) }), /2 values, the model output 4/);
  bad(() => gradCam(m, one, { target: targets.segmentation(0, [1, 1, 1, 1], [2, 2]) }), /needs an output of shape/);
  bad(() => gradCam(m, one, { target: 1, classIndex: 1 }), /Both classIndex and target/);
  bad(() => targets.regression(-1), /integer ≥ 0/);
  bad(() => targets.output(0, 1.5), /integer ≥ 0/);
  bad(() => targets.binary('maybe' as never), /'positive' or 'negative'/);
  bad(() => targets.segmentation(0, [1, 0, 1], [2, 2]), /mask of H·W values/);
  bad(() => targets.similarity([0, 0]), /non-zero reference/);
  tf.dispose([x, one]);
  m.dispose();
});
