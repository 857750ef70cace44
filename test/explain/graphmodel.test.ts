/**
 * The explain layer on tf.GraphModel: every registered method that runs on a graph model gives the
 * numbers of its layers-format twin (the repo's own fixture writer makes the twin), 1e-5 relative.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { initBackend } from '../../src/model/backend';
import { loadModel } from '../../src/model/load';
import { runEngine } from '../../src/model/engine';
import { explain } from '../../src/explain/explain';
import { methodNames } from '../../src/explain/registry';
import { cam } from '../../src/explain/cam';
import { gradCam } from '../../src/explain/gradcam';
import { guidedBackprop } from '../../src/explain/guided';
import { verify } from '../../src/explain/verify';
import type { ExplainResult, GradCamResult, NDArray } from '../../src/explain/types';
import { resultFigure } from '../../src/notebook/renderers';
import { isFigure } from '../../src/render/spec';
import { TslabCamError } from '../../src/errors';
import { gapNet, mobileNetV2, randomImages } from '../fixtures/models';
import { GraphTwin, graphTwin, nodeOfLayer } from '../fixtures/graph-models';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

interface Twin extends GraphTwin {
  /** The target layer of the layers model and the node that computes it in the graph. */
  readonly layer: string;
  readonly node: string;
}

async function twin(layers: tf.LayersModel, layer: string): Promise<Twin> {
  const t = await graphTwin(layers);
  return { ...t, layer, node: nodeOfLayer(t, layer) };
}

/**
 * Methods that need a layers model: CAM reads the Dense weights; Score-CAM, Ablation-CAM and
 * FullGrad re-run parts of the model layer by layer. They refuse a graph model with GRAPH_MODEL.
 */
const REFUSE = new Set(['cam', 'scoreCam', 'ablationCam', 'fullGrad']);

/** The numeric fields a method's result carries, by name, as flat arrays. */
function numbers(r: ExplainResult): Map<string, ArrayLike<number>> {
  const o = r as unknown as Record<string, unknown>;
  const out = new Map<string, ArrayLike<number>>();
  for (const key of ['raw', 'gradient', 'product', 'grads', 'f']) {
    const v = o[key] as NDArray | undefined;
    if (v && v.data) out.set(key, v.data);
  }
  for (const key of ['F', 'alpha']) if (o[key] instanceof Float32Array) out.set(key, o[key] as Float32Array);
  if (typeof o.S === 'number') out.set('S', [o.S]);
  return out;
}

/** Every field of `b` (graph) equals `a` (layers) to 1e-5 relative; returns the worst difference. */
function sameNumbers(a: ExplainResult, b: ExplainResult, what: string): number {
  assert.equal(b.classIndex, a.classIndex, `${what}: class`);
  const na = numbers(a);
  const nb = numbers(b);
  assert.deepEqual([...nb.keys()], [...na.keys()], `${what}: fields`);
  assert.ok(na.has('raw') || na.has('gradient') || na.has('F'), `${what}: no map, gradient or F compared`);
  let worst = 0;
  for (const [key, va] of na) {
    const d = relDiff(nb.get(key)!, va);
    assert.ok(d <= 1e-5, `${what}: ${key} differs by ${d.toExponential(2)}`);
    worst = Math.max(worst, d);
  }
  return worst;
}

for (const [name, make, layer] of [
  ['gapNet', () => gapNet(), 'conv2'],
  ['MobileNetV2 64×64', () => mobileNetV2({ size: 64 }), 'out_relu6'],
] as const) {
  test(`every registered method on a graph model equals its layers twin (${name}), or refuses with GRAPH_MODEL`, async () => {
    const t = await twin(make(), layer);
    const x = randomImages(2, t.size, 11);
    const before = tf.memory().numTensors;
    const report: string[] = [];
    for (const method of methodNames()) {
      if (REFUSE.has(method)) {
        assert.throws(() => explain(t.graph, x, { method, layer: t.node }), (e: unknown) => e instanceof TslabCamError && e.code === 'GRAPH_MODEL' && /gradCam/.test(e.message), method);
        continue;
      }
      const a = explain(t.layers, x, { method, layer: t.layer });
      const b = explain(t.graph, x, { method, layer: t.node });
      assert.equal(b.length, 2);
      let worst = 0;
      for (let i = 0; i < 2; i++) worst = Math.max(worst, sameNumbers(a[i], b[i], `${name} ${method} image ${i}`));
      report.push(`${method} ${worst.toExponential(1)}`);
    }
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    console.log(`${name}: worst relative difference graph vs layers: ${report.join(', ')}`);
    x.dispose();
    t.layers.dispose();
    t.graph.dispose();
  });
}

test('on a graph model a batch of 3 equals 3 single images (Grad-CAM, guided backprop), and aug smoothing equals the twin', async () => {
  const t = await twin(gapNet(), 'conv2');
  const x = randomImages(3, t.size, 5);
  const before = tf.memory().numTensors;
  for (const method of ['gradCam', 'guidedBackprop']) {
    const batch = explain(t.graph, x, { method, layer: t.node });
    for (let i = 0; i < 3; i++) {
      const one = tf.tidy(() => x.slice([i, 0, 0, 0], [1, -1, -1, -1]));
      const single = explain(t.graph, one, { method, layer: t.node })[0];
      one.dispose();
      sameNumbers(batch[i], single, `${method} batch[${i}] vs single`);
    }
  }
  const a = explain(t.layers, x, { method: 'gradCam', layer: t.layer, augSmooth: true });
  const b = explain(t.graph, x, { method: 'gradCam', layer: t.node, augSmooth: true });
  for (let i = 0; i < 3; i++) assert.ok(relDiff(b[i].raw.data, a[i].raw.data) <= 1e-5, `augSmooth image ${i}`);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  x.dispose();
  t.layers.dispose();
  t.graph.dispose();
});

test('single-image entry points take a graph model: guided backprop differentiates to the input placeholder', async () => {
  const t = await twin(mobileNetV2({ size: 64 }), 'out_relu6');
  const x = randomImages(1, t.size, 8);
  const before = tf.memory().numTensors;
  const a = guidedBackprop(t.layers, x);
  const b = guidedBackprop(t.graph, x);
  assert.equal(b.layer, t.graph.inputs[0].name);
  assert.ok(b.gradient.data.some((v) => v !== 0), 'guided gradient is all zero');
  assert.ok(relDiff(b.gradient.data, a.gradient.data) <= 1e-5, `guided gradient ${relDiff(b.gradient.data, a.gradient.data)}`);
  const g = gradCam(t.graph, x); // default target node
  assert.equal(g.raw.shape.length, 2);
  assert.throws(() => cam(t.graph, x), (e: unknown) => e instanceof TslabCamError && e.code === 'GRAPH_MODEL' && /Fix:|gradCam/.test(`${e.message} ${e.fix ?? ''}`));
  assert.equal(tf.memory().numTensors, before, 'tensors leaked (also after the refusal)');
  x.dispose();
  t.layers.dispose();
  t.graph.dispose();
});

test('verify on a graph result: α by finite differences (identity 5) passes by feeding the node; identity 4 is skipped with a reason', async () => {
  const t = await twin(gapNet(), 'conv2');
  const x = randomImages(1, t.size, 3);
  const before = tf.memory().numTensors;
  const r = gradCam(t.graph, x, { layer: t.node }) as GradCamResult;
  const checks = verify(r, { model: t.graph, image: x });
  const five = checks.find((c) => c.id === 5)!;
  const four = checks.find((c) => c.id === 4)!;
  assert.ok(five.pass && !five.skipped, `identity 5: ${JSON.stringify(five)}`);
  assert.ok(four.skipped && /graph model/.test(four.skipped), `identity 4: ${JSON.stringify(four)}`);
  // the same identity on the layers twin gives the same finite difference
  const twinFive = verify(gradCam(t.layers, x, { layer: t.layer }), { model: t.layers, image: x }).find((c) => c.id === 5)!;
  assert.ok(Math.abs(twinFive.rhs - five.rhs) <= 1e-3 * Math.abs(twinFive.rhs), `fd ${five.rhs} vs ${twinFive.rhs}`);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  x.dispose();
  t.layers.dispose();
  t.graph.dispose();
});

test('the no-gradient engine mode on a graph model: f and scores of the twin, grads null; a wrong image size is BAD_IMAGE', async () => {
  const t = await twin(gapNet(), 'conv2');
  const x = randomImages(2, t.size, 4);
  const before = tf.memory().numTensors;
  const a = runEngine(t.layers, x, { layer: t.layer, gradients: false });
  const b = runEngine(t.graph, x, { layer: t.node, gradients: false });
  assert.equal(b.grads, null);
  assert.deepEqual(b.classIndices, a.classIndices);
  assert.ok(relDiff(b.f.dataSync(), a.f.dataSync()) <= 1e-5 && relDiff(b.scores.dataSync(), a.scores.dataSync()) <= 1e-5);
  a.dispose();
  b.dispose();
  const wrong = randomImages(1, t.size + 4, 4);
  assert.throws(() => gradCam(t.graph, wrong), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_IMAGE' && /takes 32×32×3/.test(e.message));
  assert.throws(() => explain(t.graph, x, { method: 'gradCam', target: (out: tf.Tensor) => out.sum(1) }), (e: unknown) => e instanceof TslabCamError && e.code === 'UNSUPPORTED');
  wrong.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked (also after the errors)');
  x.dispose();
  t.layers.dispose();
  t.graph.dispose();
});

test('display: resultFigure shows a graph model result as it shows the twin\'s', async () => {
  const t = await twin(gapNet(), 'conv2');
  const x = randomImages(1, t.size, 6);
  for (const method of ['gradCam', 'guidedBackprop', 'guidedGradCam']) {
    const b = explain(t.graph, x, { method, layer: t.node })[0];
    const a = explain(t.layers, x, { method, layer: t.layer })[0];
    const fb = resultFigure(b);
    const fa = resultFigure(a);
    assert.ok(isFigure(fb), `${method}: not a figure`);
    assert.equal(fb.kind, fa.kind, method);
    // The same panels and traces; titles and summaries name the node where the twin's name the layer.
    assert.deepEqual(fb.plotly.data.map((d) => (d as { type?: string }).type), fa.plotly.data.map((d) => (d as { type?: string }).type), method);
    assert.equal(fb.title.split(t.node).join('<layer>'), fa.title.split(t.layer).join('<layer>'), method);
    assert.equal(fb.summary.split(t.node).join('<layer>').replace(/-?\d+\.\d+(e-?\d+)?/g, '#'), fa.summary.split(t.layer).join('<layer>').replace(/-?\d+\.\d+(e-?\d+)?/g, '#'), method);
  }
  x.dispose();
  t.layers.dispose();
  t.graph.dispose();
});

// A real converted graph model shipped in npm (a devDependency, see test/model/graphmodel-real.test.ts):
// a mini-Xception whose last conv has one channel per class, followed by Mean and Softmax.
const EMOTION = path.join(path.dirname(require.resolve('@vladmandic/human')), '..', 'models', 'emotion.json');

test('real graph model (emotion.json, 64×64×1): every method runs, Grad-CAM has its known answer L_c = ReLU(f_c)/Z, identity 5 passes', async () => {
  const m = await loadModel(EMOTION);
  assert.ok(m instanceof tf.GraphModel);
  const x = tf.randomUniform([2, 64, 64, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  for (const method of methodNames()) {
    if (REFUSE.has(method)) {
      assert.throws(() => explain(m, x, { method }), (e: unknown) => e instanceof TslabCamError && e.code === 'GRAPH_MODEL', method);
      continue;
    }
    const r: ExplainResult[] = explain(m, x, { method });
    assert.equal(r.length, 2, method);
    const n = numbers(r[0]);
    assert.ok([...n.values()].every((v) => Array.from(v).every(Number.isFinite)), `${method}: non-finite numbers`);
    assert.ok(isFigure(resultFigure(r[0])), `${method}: no figure`);
  }
  // S_c = mean_{x,y} f_c(x,y) + const at the last conv: ∂S_c/∂f_k = δ_kc / Z, so α = e_c / Z.
  const one = tf.tidy(() => x.slice([0, 0, 0, 0], [1, -1, -1, -1]));
  const g = gradCam(m, one) as GradCamResult;
  const [h, w, K] = g.f.shape;
  const expected = Float32Array.from({ length: h * w }, (_, p) => Math.max(0, g.f.data[p * K + g.classIndex]) / (h * w));
  assert.ok(relDiff(g.raw.data, expected) <= 1e-5, `Grad-CAM vs ReLU(f_c)/Z: ${relDiff(g.raw.data, expected)}`);
  const five = verify(g, { model: m, image: one }).find((c) => c.id === 5)!;
  assert.ok(five.pass, JSON.stringify(five));
  one.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  x.dispose();
  m.dispose();
});
