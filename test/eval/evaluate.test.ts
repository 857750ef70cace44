/**
 * evaluate(): a methods × metrics table from the registries, batch = singles for every metric,
 * typed errors before any model runs, an error halfway leaks nothing, cancellation gives a table
 * marked partial (or CANCELLED), and the user's model is never changed.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { evaluate, metricNames, registerMetric, samplesFromScenes } from '../../src/eval';
import type { EvalSample } from '../../src/eval';
import { TslabCamError } from '../../src/errors';
import { generateScene } from '../../src/data/scenes';
import { gapNet } from '../fixtures/models';

before(async () => {
  await initBackend();
});

const S = 16;
function samples(n: number, seed = 1): EvalSample[] {
  return Array.from({ length: n }, (_, k) => {
    const pixels = Float32Array.from({ length: S * S * 3 }, (_, i) => ((i * 2654435761 + k * 97 + seed) % 1000) / 1000);
    const mask = new Uint8Array(S * S);
    for (let y = 2 + k; y < 8 + k; y++) for (let x = 3; x < 10; x++) mask[y * S + x] = 1;
    return { pixels, width: S, height: S, channels: 3, box: { x: 3, y: 2 + k, width: 7, height: 6 }, mask, classIndex: k % 3, name: `s${k}` };
  });
}
const isTyped = (code: string, re?: RegExp) => (e: unknown): boolean =>
  e instanceof TslabCamError && e.code === code && /Fix:/.test(e.message) && (!re || re.test(e.message));

test('evaluate: every method × every registered metric, means inside their 95% CIs, no leaks', async () => {
  const model = gapNet({ seed: 3, size: S, head: 'softmax' });
  const before = tf.memory().numTensors;
  const t = await evaluate(model, samples(4), { methods: ['gradCam', 'cam', 'guidedBackprop'], steps: 8 });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  assert.deepEqual(t.methods, ['gradCam', 'cam', 'guidedBackprop']);
  assert.deepEqual(t.metrics, metricNames());
  assert.equal(t.samples, 4);
  assert.equal(t.partial, false);
  for (const row of t.cells) for (const c of row) {
    assert.equal(c.n + t.values[t.methods.indexOf(c.method)][t.metrics.indexOf(c.metric)].filter(Number.isNaN).length, 4);
    if (c.n) assert.ok(c.low <= c.mean && c.mean <= c.high, `${c.method} ${c.metric}`);
  }
  const del = t.cells[0][t.metrics.indexOf('deletion')];
  assert.equal(del.curve!.length, 9, 'the mean deletion curve has steps + 1 points');
  assert.ok(t.msPerImage.gradCam >= 0);
  model.dispose();
});

test('evaluate: a batch equals single runs for every metric', async () => {
  const model = gapNet({ seed: 4, size: S, head: 'softmax' });
  const xs = samples(3);
  const options = { methods: ['gradCam', 'guidedBackprop'], steps: 8 };
  const all = await evaluate(model, xs, { ...options, batchSize: 3 });
  for (let k = 0; k < xs.length; k++) {
    const one = await evaluate(model, [xs[k]], { ...options, batchSize: 1 });
    all.values.forEach((row, a) => row.forEach((vals, b) => {
      const x = vals[k], y = one.values[a][b][0];
      assert.ok(Number.isNaN(x) ? Number.isNaN(y) : Math.abs(x - y) <= 1e-4 * Math.max(1, Math.abs(x)), `${all.methods[a]} ${all.metrics[b]} sample ${k}: ${x} vs ${y}`);
    }));
  }
  model.dispose();
});

test('evaluate: bad input is a typed error naming the fix, before any model runs, with no leaks', async () => {
  const model = gapNet({ seed: 3, size: S, head: 'softmax' });
  const before = tf.memory().numTensors;
  const good = samples(2);
  const bare = good.map(({ box: _b, mask: _m, ...rest }) => rest);
  await assert.rejects(evaluate(model, bare, { metrics: ['pointing'], methods: ['gradCam'] }), isTyped('BAD_SAMPLE', /box or mask/));
  await assert.rejects(evaluate(model, [{ ...good[0], box: undefined, mask: undefined }, good[1]], { metrics: ['maskIoU'], methods: ['gradCam'] }), isTyped('BAD_SAMPLE', /mask/));
  await assert.rejects(evaluate(model, [good[0], { ...good[1], box: { x: 10, y: 2, width: 8, height: 4 } }], { metrics: ['pointing'] }), isTyped('BAD_SAMPLE', /not inside/));
  await assert.rejects(evaluate(model, [{ ...good[0], mask: new Uint8Array(10) }], { metrics: ['maskIoU'] }), isTyped('BAD_SAMPLE', /mask has 10 values/));
  await assert.rejects(evaluate(model, good, { metrics: ['enrgyPointing'] }), isTyped('BAD_OPTION', /energyPointing/));
  await assert.rejects(evaluate(model, good, { metrics: ['deletion'], steps: 0 }), isTyped('BAD_OPTION', /steps/));
  await assert.rejects(evaluate(model, good, { methods: ['nope'], metrics: ['pointing'] }), isTyped('BAD_OPTION', /Unknown method/));
  await assert.rejects(evaluate(model, [{ ...good[0], pixels: new Float32Array(8 * 8 * 3), width: 8, height: 8, box: undefined, mask: undefined }], { metrics: ['deletion'] }), isTyped('BAD_SAMPLE', /model takes/));
  await assert.rejects(evaluate(model, [], {}), isTyped('BAD_SAMPLE'));
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks after the errors');
  model.dispose();
});

test('evaluate: an error halfway (a metric failing on the third sample) propagates and leaks nothing', async () => {
  registerMetric({
    name: 'failsOnThird', label: 'fails on s2', needs: [], direction: 'higher', unit: '', paper: 'test', description: 'test',
    score: (i) => {
      if (i.sample.name === 's2') throw new TslabCamError('BAD_SAMPLE', 'broken sample s2.', 'Remove it.');
      return { value: 1 };
    },
  });
  const model = gapNet({ seed: 3, size: S, head: 'softmax' });
  const before = tf.memory().numTensors;
  await assert.rejects(evaluate(model, samples(4), { methods: ['gradCam'], metrics: ['deletion', 'failsOnThird', 'sanity'], batchSize: 2, steps: 4 }),
    isTyped('BAD_SAMPLE', /s2/));
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks after an error halfway (including the randomised copy)');
  model.dispose();
});

test('evaluate: cancelling gives a table marked partial, or CANCELLED; progress counts samples', async () => {
  const model = gapNet({ seed: 3, size: S, head: 'softmax' });
  const before = tf.memory().numTensors;
  const seen: number[] = [];
  const ac = new AbortController();
  const t = await evaluate(model, samples(6), {
    methods: ['gradCam'], metrics: ['pointing', 'deletion'], steps: 4, batchSize: 2, signal: ac.signal, partialOnCancel: true,
    onProgress: (p) => { seen.push(p.done); if (p.done >= 2) ac.abort(); },
  });
  assert.equal(t.partial, true);
  assert.equal(t.samples, 2);
  assert.equal(t.samplesAsked, 6);
  assert.equal(t.cells[0][0].n, 2);
  assert.deepEqual(seen, [2]);
  const ac2 = new AbortController();
  await assert.rejects(evaluate(model, samples(6), { methods: ['gradCam'], metrics: ['pointing'], batchSize: 2, signal: ac2.signal, onProgress: () => ac2.abort() }),
    isTyped('CANCELLED', /after 2 of 6/));
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

test('evaluate: the sanity metric leaves the user\'s model unchanged', async () => {
  const model = gapNet({ seed: 5, size: S, head: 'softmax' });
  const w0 = model.getWeights().map((w) => Array.from(w.dataSync()));
  const t = await evaluate(model, samples(2), { methods: ['gradCam'], metrics: ['sanity'] });
  assert.ok(Number.isFinite(t.cells[0][0].mean) || t.cells[0][0].n === 0);
  model.getWeights().forEach((w, i) => assert.deepEqual(Array.from(w.dataSync()), w0[i], `weight ${i} unchanged`));
  model.dispose();
});

test('samplesFromScenes: the chosen digit\'s box, mask and label', () => {
  const s = generateScene({ split: 'test', seed: 4, index: 0, labels: [2, 7] });
  const [a] = samplesFromScenes([s], 1);
  assert.equal(a.classIndex, 7);
  assert.deepEqual(a.box, s.digits[1].box);
  assert.equal(a.mask, s.digits[1].mask);
});
