/**
 * The CAM family after Grad-CAM, checked together: the GAP-head reductions by verify() on the
 * built-in digits-gap model, batch = singles, cpu = wasm, no leaks (also when a call throws inside
 * the gradient pass), and the layers a method cannot use.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadModel } from '../../src/model/load';
import { builtinSamples } from '../../src/model/builtin';
import { loadImage } from '../../src/model/image';
import { cam, explain, gradCam, guidedGradCam, verify, type IdentityCheck, type MapResult } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { gapNet, mobileNetV2, randomImages, resNet } from '../fixtures/models';
import * as targets from '../../src/model/targets';
import { resultFigure, toBundle } from '../../src/notebook';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

const FAMILY = ['gradCamPlusPlus', 'xGradCam', 'hiResCam', 'gradCamElementWise', 'layerCam', 'eigenCam', 'eigenGradCam'] as const;
/** Which identity each method's reduction is (eigen methods have no closed form on a GAP head). */
const REDUCTION: Record<string, number | null> = { xGradCam: 6, hiResCam: 7, layerCam: 8, gradCamElementWise: 9, gradCamPlusPlus: 10, eigenCam: null, eigenGradCam: null };

test('verify(): the GAP-head reductions (identities 6–10) hold on digits-gap for every built-in sample and two classes', async () => {
  const model = await loadModel('builtin:digits-gap');
  const worst: Record<number, number> = {};
  let checked = 0;
  for (const s of builtinSamples()) {
    const image = await loadImage(s.path, { model });
    for (const classIndex of [s.labels[0], (s.labels[0] + 5) % 10]) {
      const plain = gradCam(model, image, { classIndex });
      for (const method of FAMILY) {
        const [r] = explain(model, image, { method, classIndex }) as MapResult[];
        const checks = verify(r, { model, image });
        const id = REDUCTION[method];
        if (id === null) {
          assert.deepEqual(checks, [], `${method} declares no identity`);
          continue;
        }
        assert.ok(checks.length > 0 && checks.every((c) => c.id === id && !c.skipped && c.pass), `${method} on ${s.name}, class ${classIndex}: ${JSON.stringify(checks)}`);
        for (const c of checks) worst[id] = Math.max(worst[id] ?? 0, c.relDiff);
        checked += checks.length;
        // XGrad-CAM = HiResCAM = Grad-CAM on this head (the chain), to float32 rounding.
        if (id === 6 || id === 7) assert.ok(relDiff(r.raw.data, plain.raw.data) < 1e-5, `${method} = Grad-CAM`);
      }
    }
    image.dispose();
  }
  console.log(`identities 6–10 on digits-gap: ${checked} checks, worst relative difference per identity ${JSON.stringify(worst)}`);
  model.dispose();
});

test('verify(): the reductions fail on wrong numbers and are skipped with a reason away from the GAP layer', async () => {
  const model = await loadModel('builtin:digits-gap');
  const image = await loadImage(builtinSamples()[0].path, { model });
  const find = (cs: IdentityCheck[], id: number) => cs.find((c) => c.id === id)!;
  const pp = explain(model, image, { method: 'gradCamPlusPlus' })[0];
  assert.equal(find(verify({ ...pp, alpha: pp.alpha.map((a) => a * 1.01) } as MapResult, { model, image }), 10).pass, false, 'a 1% error in α fails identity 10');
  // Without pytorch-grad-cam's ε the closed form differs by more than the tolerance: ε matters here.
  assert.equal(find(verify({ ...pp, epsilon: 0 } as MapResult, { model, image }), 10).pass, false, 'dropping εZ² fails identity 10');
  const hi = explain(model, image, { method: 'hiResCam' })[0];
  assert.equal(find(verify({ ...hi, raw: { ...hi.raw, data: hi.raw.data.map((v, i) => (i === 5 ? v + 0.01 : v)) } }, { model, image }), 7).pass, false);
  const inner = explain(model, image, { method: 'layerCam', layer: 'relu2' })[0];
  assert.match(find(verify(inner, { model, image }), 8).skipped ?? '', /layer the GAP averages/);
  assert.match(find(verify(hi), 7).skipped ?? '', /needs the model/);
  image.dispose();
  model.dispose();
});

test('a batch of 8 equals 8 single-image results for every family method', () => {
  const model = resNet({ size: 24, seed: 8 });
  const images = randomImages(8, 24, 31);
  const classes = [0, 1, 2, 3, 4, 0, 1, 2];
  const singles = classes.map((_, i) => images.slice(i, 1));
  const before = tf.memory().numTensors;
  for (const method of FAMILY) {
    for (const layer of ['res2_a_relu', 'res3_out']) {
      const batch = explain(model, images, { method, layer, classIndex: classes }) as MapResult[];
      assert.equal(batch.length, 8);
      batch.forEach((r, i) => {
        const [one] = explain(model, singles[i], { method, layer, classIndex: classes[i] }) as MapResult[];
        assert.equal(r.classIndex, classes[i]);
        assert.ok(relDiff(r.raw.data, one.raw.data) <= 1e-5, `${method} at ${layer}, image ${i}: ${relDiff(r.raw.data, one.raw.data)}`);
      });
    }
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([images, ...singles]);
  model.dispose();
});

test('cpu and wasm agree to 1e-5 on every family method (maps and weights)', async () => {
  const out: Record<string, MapResult[]> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    await tf.setBackend(backend);
    const m = mobileNetV2({ size: 64, seed: 9 });
    const img = randomImages(2, 64, 5);
    out[backend] = FAMILY.map((method) => explain(m, img, { method, layer: 'block_4_add', classIndex: [1, 2] }) as MapResult[]).flat();
    img.dispose();
    m.dispose();
  }
  await initBackend({ backend: 'wasm' });
  out.wasm.forEach((w, i) => {
    const c = out.cpu[i];
    assert.ok(relDiff(w.raw.data, c.raw.data) <= 1e-5, `${w.method}: map ${relDiff(w.raw.data, c.raw.data)}`);
    const wa = (w as { alpha?: Float32Array }).alpha;
    if (wa) assert.ok(relDiff(wa, (c as { alpha?: Float32Array }).alpha!) <= 1e-5, `${w.method}: α`);
  });
});

test('no leaks when a call throws inside the gradient pass, with and without augSmooth; unusable layers are typed errors', () => {
  const model = resNet({ size: 16, seed: 2 });
  const x = randomImages(2, 16, 4);
  const before = tf.memory().numTensors;
  const boom = () => {
    tf.zeros([3]); // a tensor made inside the pass before the failure
    throw new TslabCamError('BAD_OPTION', 'the target failed halfway.', 'none');
  };
  for (const method of FAMILY) {
    for (const augSmooth of [false, true]) {
      assert.throws(() => explain(model, x, { method, target: boom, augSmooth }), /failed halfway/);
      assert.equal(tf.memory().numTensors, before, `${method}${augSmooth ? ' (augSmooth)' : ''}: leaked ${tf.memory().numTensors - before}`);
    }
    assert.throws(() => explain(model, x, { method, layer: 'gap' }), (e: unknown) => e instanceof TslabCamError && e.code === 'NO_SPATIAL_LAYER' && /Fix:/.test(e.message));
    assert.throws(() => explain(model, x, { method, layer: 'res9' }), (e: unknown) => e instanceof TslabCamError && e.code === 'UNKNOWN_LAYER');
    assert.equal(tf.memory().numTensors, before);
  }
  for (const epsilon of [-1, NaN, Infinity, '1e-6']) {
    for (const method of ['gradCamPlusPlus', 'xGradCam']) {
      assert.throws(() => explain(model, x, { method, epsilon } as never), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && /epsilon/.test(e.message));
    }
  }
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});

test('targets through the article\'s methods: guided Grad-CAM explains the same target in both passes; CAM refuses a function', () => {
  const model = gapNet({ size: 16, seed: 3, classes: 4 });
  const x = randomImages(1, 16, 2);
  const before = tf.memory().numTensors;
  const t = targets.regression(2);
  const g = guidedGradCam(model, x, { target: t });
  assert.equal(g.target, 'regression output 2');
  assert.equal(g.guided.target, 'regression output 2');
  const hi = explain(model, x, { method: 'hiResCam', target: t })[0];
  assert.match(resultFigure(hi).title, /HiResCAM · regression output 2/, 'figures name the target where a class would be');
  assert.match(toBundle(hi).data['text/plain'], /regression output 2/);
  const byClass = guidedGradCam(model, x, { classIndex: 2 });
  assert.deepEqual(Array.from(g.product.data), Array.from(byClass.product.data), 'regression(2) on a linear head = class 2');
  assert.equal(guidedGradCam(model, x, { target: 1 }).guided.classIndex, 1);
  // Smoothing reaches L_c; the guided gradient is the unsmoothed one.
  const smooth = guidedGradCam(model, x, { classIndex: 2, augSmooth: true, eigenSmooth: true });
  assert.equal(smooth.gradCam.smoothed, 'aug');
  assert.deepEqual(Array.from(smooth.guided.gradient.data), Array.from(byClass.guided.gradient.data));
  assert.throws(() => cam(model, x, { target: t }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && /gradient method/.test(e.message));
  assert.equal(cam(model, x, { target: 3 }).classIndex, 3);
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});
