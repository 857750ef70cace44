/**
 * The cascading randomisation test (Adebayo et al. 2018) can fail, and does when it should: an
 * "edge map of the input" method that ignores the weights fails; Grad-CAM passes on the built-in
 * model; guided backprop's result is measured and printed. The user's model never changes.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadModel } from '../../src/model/load';
import { defineMapMethod } from '../../src/explain';
import { SANITY_THRESHOLD, cascadeLayers, sanityCheck, samplesFromScenes } from '../../src/eval';
import { evaluationScenes } from '../../src/data/evaluate';
import { TslabCamError } from '../../src/errors';

/** Sobel gradient magnitude of the input's grey level, average-pooled to the layer's h×w: ignores the weights. */
function edgeMaps(images: tf.Tensor4D, h: number, w: number): Float32Array[] {
  const [n, H, W] = images.shape;
  const px = images.mean(-1).dataSync();
  return Array.from({ length: n }, (_, k) => {
    const out = new Float32Array(h * w);
    const at = (x: number, y: number): number => px[k * H * W + Math.min(H - 1, Math.max(0, y)) * W + Math.min(W - 1, Math.max(0, x))];
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const gx = at(x + 1, y - 1) + 2 * at(x + 1, y) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x - 1, y) - at(x - 1, y + 1);
      const gy = at(x - 1, y + 1) + 2 * at(x, y + 1) + at(x + 1, y + 1) - at(x - 1, y - 1) - 2 * at(x, y - 1) - at(x + 1, y - 1);
      out[Math.floor((y * h) / H) * w + Math.floor((x * w) / W)] += Math.hypot(gx, gy);
    }
    return out;
  });
}
defineMapMethod<{ edges: true }, Float32Array>({
  name: 'edgeTest', label: 'Edge map (ignores the model)', latex: 'E = |\\nabla I|', paper: 'none: a sanity-check failure on purpose', needs: 'forward',
  batch: (ctx) => edgeMaps(ctx.images as tf.Tensor4D, ctx.pass.f.shape[1] as number, ctx.pass.f.shape[2] as number),
  map: (p) => ({ map: p.extra, parts: { edges: true } }),
});

let model: tf.LayersModel;
before(async () => {
  await initBackend();
  model = await loadModel('builtin:digits-gap');
});

test('sanity: the edge "method" fails, Grad-CAM passes on digits-gap, guided backprop is measured; the model is unchanged', async () => {
  const samples = samplesFromScenes(evaluationScenes({ singles: 6, doubles: 0 }));
  const w0 = model.getWeights().map((w) => Array.from(w.dataSync()));
  const before = tf.memory().numTensors;
  const r = await sanityCheck(model, samples, { methods: ['edgeTest', 'gradCam', 'guidedBackprop'] });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks (the copy is disposed)');
  model.getWeights().forEach((w, i) => assert.deepEqual(Array.from(w.dataSync()), w0[i], `the user's weight ${i} is unchanged`));
  const layers = cascadeLayers(model).length;
  const [edge, grad, guided] = r.curves;
  for (const c of r.curves) {
    assert.equal(c.stages.length, layers + 1, 'stage 0 (trained) + one per randomised layer');
    assert.equal(c.stages[0].spearman.mean, 1);
    assert.deepEqual(c.stages[layers].layers.length, layers);
  }
  assert.ok(edge.finalSpearman > 0.99, `edge map ρ stays 1 (${edge.finalSpearman})`);
  assert.equal(edge.passed, false);
  assert.match(edge.verdict, /FAILS the sanity check/);
  assert.ok(grad.finalSpearman < SANITY_THRESHOLD, `Grad-CAM ρ at full randomisation ${grad.finalSpearman.toFixed(3)}`);
  assert.equal(grad.passed, true);
  assert.match(grad.verdict, /passes/);
  // Guided backprop: measured and stated, whatever it is.
  process.stdout.write(`# guided backprop on digits-gap: ρ by stage ${guided.stages.map((s) => s.spearman.mean.toFixed(3)).join(' → ')}; SSIM ${guided.stages.map((s) => s.ssim.mean.toFixed(3)).join(' → ')}; ${guided.verdict}\n`);
  process.stdout.write(`# Grad-CAM on digits-gap: ρ by stage ${grad.stages.map((s) => s.spearman.mean.toFixed(3)).join(' → ')}\n`);
  assert.ok(Number.isFinite(guided.finalSpearman));
});

test('sanity: bad input and cancellation are typed errors with no leaks', async () => {
  const before = tf.memory().numTensors;
  await assert.rejects(sanityCheck(model, [], { methods: ['gradCam'] }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_SAMPLE');
  const samples = samplesFromScenes(evaluationScenes({ singles: 1, doubles: 0 }));
  await assert.rejects(sanityCheck(model, samples, { methods: ['nope'] }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
  const ac = new AbortController();
  await assert.rejects(sanityCheck(model, samples, { methods: ['gradCam'], signal: ac.signal, onProgress: () => ac.abort() }),
    (e: unknown) => e instanceof TslabCamError && e.code === 'CANCELLED');
  assert.equal(tf.memory().numTensors, before);
});
