/**
 * Modern architectures at their real size (224×224 unless the point is another shape), random
 * weights: for each, the default target layer is the one a practitioner picks, the engine's
 * ∂S_c/∂f matches finite differences at that layer and at a layer inside a block, and the public
 * Grad-CAM and guided backprop run without leaking. Timings are printed, never asserted.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { runEngine } from '../../src/model/engine';
import { findTargetLayer, resolveLayer } from '../../src/model/inspect';
import { runGraph, runUntil } from '../../src/model/graph';
import { gradCam } from '../../src/explain/gradcam';
import { guidedBackprop } from '../../src/explain/guided';
import { denseNet121, efficientNetB0, mobileNetV3Small, plainCnn, rescalingNet, resNet50 } from '../fixtures/architectures';
import { bestDifferenceQuotient, mulberry32 } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

/**
 * Finite-difference checks of ∂S_c/∂f at a layer. Difference quotients of S_c (central and one-sided) at `count` elements of f (the largest gradients, and seeded picks
 * among those ≥ 10% of the largest), with the graph before the layer computed once (runUntil):
 * each evaluation runs only the layers after it. Each element is tried at seven steps from 1e-3 to 1
 * of max(1, |f|), and the closest agreement counts: the networks are piecewise smooth, so a wrong
 * gradient cannot agree to 1% at any step, while a right one usually does at some (single
 * elements of random 224² networks move S by ~1e-6·|S|: float32 rounding on one side, ReLU
 * kinks on the other, so those are held to the median within 2e-2 and each within 5e-2; the
 * directional derivative below is the tight check).
 */
function fdAt(model: tf.LayersModel, image: tf.Tensor4D, layer: string, c: number, count = 6): { elements: number[]; directional: number } {
  const info = resolveLayer(model, layer);
  const out = runEngine(model, image, { layer, classIndex: c });
  const base = out.f.dataSync() as Float32Array;
  const grads = out.grads.dataSync() as Float32Array;
  const order = Array.from(grads.keys()).filter((i) => base[i] !== 0).sort((i, j) => Math.abs(grads[j]) - Math.abs(grads[i]));
  const big = order.filter((i) => Math.abs(grads[i]) >= 0.1 * Math.abs(grads[order[0]]));
  const rand = mulberry32(7);
  const picks = new Set(order.slice(0, Math.ceil(count / 2)));
  while (picks.size < count && picks.size < big.length) picks.add(big[Math.floor(rand() * big.length)]);
  // In a tidy, as the engine does: layers make temporary tensors that only the memo does not hold.
  let found: Map<number, tf.Tensor> | null = null;
  tf.tidy(() => {
    found = runUntil(model, image, info.path[0]);
    return found ? [...found.values()] : [];
  });
  const known = found as Map<number, tf.Tensor> | null;
  assert.ok(known, `${layer}: runUntil gave nothing`);
  // The layer's own output must be recomputed so that the override replaces it.
  const own = model.getLayer(info.path[0]);
  const ownId = (own as unknown as { inboundNodes: Array<{ outputTensors: tf.SymbolicTensor[] }> }).inboundNodes[0].outputTensors[0].id;
  const ownValue = known.get(ownId);
  known.delete(ownId);
  const score = (v: Float32Array): number => tf.tidy(() => runGraph(model, image, { capture: info.path, scoreKind: 'logits', override: tf.tensor(v, out.f.shape), known }).scores.dataSync()[c]);
  const rels = [...picks].map((i) => bestDifferenceQuotient(base, i, grads[i], score).rel);
  // The derivative along one direction d over every element, ⟨∂S/∂f, d⟩, with d = sign(∂S/∂f)
  // (±1 at random where the gradient is 0): no cancellation, so S moves far more than its
  // float32 rounding at steps too small to cross many ReLU kinks, and a wrong gradient anywhere
  // (a missed skip path, a wrong scale, a wrong zero) shows as an O(1) error.
  const d = Float32Array.from(grads, (g) => (g > 0 ? 1 : g < 0 ? -1 : rand() < 0.5 ? -1 : 1));
  const along = grads.reduce((a, g, i) => a + g * d[i], 0);
  let directional = Infinity;
  for (const eps of [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]) {
    const numeric = (score(base.map((v, i) => v + eps * d[i])) - score(base.map((v, i) => v - eps * d[i]))) / (2 * eps);
    directional = Math.min(directional, Math.abs(numeric - along) / Math.max(Math.abs(along), Math.abs(numeric), 1e-12));
    if (directional < 1e-4) break;
  }
  for (const t of new Set([...known.values(), ...(ownValue ? [ownValue] : [])])) if (t !== image) t.dispose();
  out.dispose();
  return { elements: rels, directional };
}

interface Case {
  readonly build: () => tf.LayersModel;
  /** The layer a practitioner targets (keras.applications names). */
  readonly target: string;
  /** A layer inside a block (with a skip, SE or concatenation around it). */
  readonly inner: string;
  /** Pixel scale of the test image (255 for models that rescale raw pixels themselves). */
  readonly scale?: number;
}

function imageFor(model: tf.LayersModel, scale: number, seed: number): tf.Tensor4D {
  const [, h, w, c] = model.inputs[0].shape as number[];
  return tf.randomUniform([1, h, w, c], 0, scale, 'float32', seed) as tf.Tensor4D;
}

function ms(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function checkArchitecture(k: Case): void {
  const model = k.build();
  const before = tf.memory().numTensors;
  const x = imageFor(model, k.scale ?? 1, 3);
  try {
    assert.equal(findTargetLayer(model).name, k.target, `${model.name}: default target layer`);
    const c = tf.tidy(() => tf.argMax(model.predict(x) as tf.Tensor, 1).dataSync()[0]);
    const results: string[] = [];
    for (const layer of [k.target, k.inner]) {
      const { elements, directional } = fdAt(model, x, layer, c);
      const sorted = [...elements].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      results.push(`${layer}: directional ${directional.toExponential(1)}, elements median ${median.toExponential(1)} worst ${sorted[sorted.length - 1].toExponential(1)}`);
      assert.ok(directional <= 1e-3, `${model.name} ${layer}: directional derivative rel ${directional.toExponential(2)}`);
      assert.ok(median <= 2e-2, `${model.name} ${layer}: median element rel ${median.toExponential(2)}`);
      for (const r of elements) assert.ok(r <= 5e-2, `${model.name} ${layer}: finite difference rel ${r.toExponential(2)}`);
    }
    gradCam(model, x); // first call packs the weights; not timed
    let gc = 0;
    let gb = 0;
    const tGc = ms(() => {
      const r = gradCam(model, x);
      assert.equal(r.layer, k.target);
      assert.ok(r.upsampled.data.every(Number.isFinite));
      gc = r.L.data.reduce((a, b) => Math.max(a, b), 0);
    });
    const tGb = ms(() => {
      const r = guidedBackprop(model, x);
      assert.deepEqual(r.gradient.shape, (model.inputs[0].shape as number[]).slice(1));
      gb = r.gradient.data.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
    });
    assert.ok(gc > 0, `${model.name}: Grad-CAM map is all zero`);
    assert.ok(gb > 0, `${model.name}: guided gradient is all zero`);
    // One line per model for the README's architecture table (the machine may be loaded).
    console.log(`ARCH | ${model.name} | ${k.target} | ${results.join('; ')} | Grad-CAM ${tGc.toFixed(0)} ms | guided ${tGb.toFixed(0)} ms`);
  } finally {
    x.dispose();
  }
  assert.equal(tf.memory().numTensors, before, `${model.name}: tensors leaked`);
  model.dispose();
}

test('MobileNetV3-Small 224² (hard-swish, SE multiply): default layer, FD, Grad-CAM, guided', () => {
  checkArchitecture({ build: () => mobileNetV3Small(), target: 'Conv_1_hard_swish', inner: 'expanded_conv_9/depthwise/hard_swish' });
});

test('EfficientNet-B0 224² (swish, SE, depthwise): default layer, FD, Grad-CAM, guided', () => {
  checkArchitecture({ build: () => efficientNetB0(), target: 'top_activation', inner: 'block6b_activation' });
});

test('ResNet-50 224² (bottlenecks): default layer, FD, Grad-CAM, guided', () => {
  checkArchitecture({ build: () => resNet50(), target: 'conv5_block3_out', inner: 'conv5_block2_2_relu' });
});

test('DenseNet-121 224² (concatenation): default layer, FD, Grad-CAM, guided', () => {
  checkArchitecture({ build: () => denseNet121(), target: 'relu', inner: 'conv5_block8_1_relu' });
});

test('a model that rescales raw pixels itself (Rescaling layer inside), 224²', () => {
  checkArchitecture({ build: () => rescalingNet(), target: 'relu3', inner: 'relu2', scale: 255 });
});

test('grayscale (1 channel) and non-square (96×160) input', () => {
  checkArchitecture({ build: () => plainCnn(), target: 'block3_conv2', inner: 'block2_conv1' });
  checkArchitecture({ build: () => plainCnn({ channels: 3, size: [160, 96], seed: 2 }), target: 'block3_conv2', inner: 'block1_conv2' });
});
