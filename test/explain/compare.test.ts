import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { compareMethods, explain, gradCam, isMethodComparison, type MapResult } from '../../src/explain';
import { scoreCam } from '../../src/explain/scorecam';
import { classComparisonFigure } from '../../src/render/figures';
import { findRenderer } from '../../src/notebook/display';
import { resultListFigure } from '../../src/notebook';
import { TslabCamError } from '../../src/errors';
import { gapNet, randomImages, vggFlat } from '../fixtures/models';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('compareMethods: every method\'s result equals its own call, for several classes at once; no leaks', () => {
  const model = gapNet({ seed: 3, size: 16 });
  const x = randomImages(1, 16, 6);
  const before = tf.memory().numTensors;
  const c = compareMethods(model, x, { methods: ['gradCam', 'cam', 'scoreCam', 'ablationCam', 'fullGrad', 'randomCam', 'guidedBackprop'], classIndex: [2, 0] });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(isMethodComparison(c));
  assert.deepEqual(c.classes, [2, 0]);
  assert.deepEqual(c.methods, ['gradCam', 'cam', 'scoreCam', 'ablationCam', 'fullGrad', 'randomCam', 'guidedBackprop']);
  c.rows.forEach((row, j) => {
    assert.deepEqual(row.map((r) => r.classIndex), new Array(7).fill(c.classes[j]));
    assert.ok(relDiff((row[0] as MapResult).raw.data, gradCam(model, x, { classIndex: c.classes[j] }).raw.data) < 1e-6);
    assert.ok(relDiff((row[2] as MapResult).raw.data, scoreCam(model, x, { classIndex: c.classes[j] }).raw.data) < 1e-6);
  });
  x.dispose();
  model.dispose();
});

test('compareMethods: default methods skip what cannot run on the model (CAM without a GAP head) and say why; asked ones throw', () => {
  const model = vggFlat({ seed: 2, size: 16 });
  const x = randomImages(1, 16, 3);
  const c = compareMethods(model, x, { classIndex: 1, batchSize: 8 });
  assert.ok(c.skipped.some((s) => s.method === 'cam' && /GlobalAveragePooling2D/.test(s.reason)));
  assert.ok(!c.methods.includes('cam') && c.methods.includes('gradCam') && c.methods.includes('scoreCam'));
  assert.throws(() => compareMethods(model, x, { methods: ['cam'] }), (e: unknown) => e instanceof TslabCamError && e.code === 'NOT_GAP_MODEL');
  assert.throws(() => compareMethods(model, x, { methods: ['nope'] }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
  assert.throws(() => compareMethods(model, x, { methods: [] }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION');
  const two = randomImages(2, 16, 3);
  assert.throws(() => compareMethods(model, two, { methods: ['gradCam'] }), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_IMAGE');
  tf.dispose([x, two]);
  model.dispose();
});

test('compareMethods displays as one panel per method with a class dropdown; hover shows each map\'s value', () => {
  const model = gapNet({ seed: 4, size: 12 });
  const x = randomImages(1, 12, 1);
  const c = compareMethods(model, x, { methods: ['gradCam', 'scoreCam', 'guidedBackprop'], classIndex: [0, 1, 2] });
  const fig = classComparisonFigure(c.rows);
  const data = fig.plotly.data as Array<Record<string, unknown>>;
  const block = data.length / 3;
  // Per class: input, then per method an image (+ a map for map methods): 1 + 2 + 2 + 1 = 6 traces.
  assert.equal(block, 6);
  const menu = (fig.plotly.layout as { updatemenus: Array<{ buttons: Array<{ label: string; args: [{ visible: boolean[] }] }> }> }).updatemenus[0];
  assert.equal(menu.buttons.length, 3);
  menu.buttons.forEach((b, j) => assert.deepEqual(b.args[0].visible, data.map((_, i) => Math.floor(i / block) === j)));
  assert.match(menu.buttons[1].label, /class 1/);
  const heat = data.filter((d) => d.type === 'heatmap');
  assert.equal(heat.length, 6);
  assert.ok(heat.every((h) => /value=%\{z/.test(String(h.hovertemplate))));
  assert.ok(findRenderer(c), 'a comparison displays itself');
  // A results list mixing methods on one image is the comparison row.
  const mixed = [...explain(model, x, { method: 'gradCam' }), ...explain(model, x, { method: 'randomCam' })];
  assert.equal(resultListFigure(mixed).kind, 'comparison');
  x.dispose();
  model.dispose();
});
