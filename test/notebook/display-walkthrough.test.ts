import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as util from 'util';
import { syntheticExample } from '../../src/render/synthetic';
import {
  PLOTLY_MIME, makeDisplayable, markPlotlyEmbedded, stepFigure, stepSummary, toBundle, useDisplayWriter, type DisplayContent, type StepLike,
} from '../../src/notebook';
import { EVIL } from '../render/fixtures';

const ex = syntheticExample({ size: 32, layerSize: 4, className: 'cat' });
const check = { id: 3, name: EVIL, latex: 'S_c = \\frac{1}{Z}\\sum M_c + b_c', lhs: 1, rhs: 1, diff: 0, relDiff: 0, tolerance: 1e-4, pass: true };

function step(index: number, key: StepLike['key'], extra: Partial<StepLike> = {}): StepLike {
  return { index, key, title: { ja: `ステップ ${EVIL}`, en: `Step title ${index}` }, latex: 'L_c = \\mathrm{ReLU}(\\sum_k \\alpha_k^c f_k)',
    numbers: { c: 3, 'α (first)': '0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, …', [EVIL]: EVIL }, checks: [], ...extra };
}

function walkthroughOf(steps: StepLike[]) {
  return { steps, classIndex: 3, layer: EVIL, allPassed: true, step: (n: number) => steps[n - 1] };
}

test('each step kind gets its figure; a step that does not apply gets none', () => {
  assert.equal(stepFigure(step(1, 'features', { result: ex.cam }))?.kind, 'featureMaps');
  assert.equal(stepFigure(step(3, 'scores', { result: ex.cam }))?.kind, 'bars');
  assert.equal(stepFigure(step(4, 'cam', { result: ex.cam }))?.kind, 'overlay');
  assert.equal(stepFigure(step(5, 'gradCam', { result: ex.gradCam }))?.kind, 'overlay');
  assert.equal(stepFigure(step(6, 'guidedBackprop', { result: ex.guided }))?.kind, 'guided');
  assert.equal(stepFigure(step(4, 'cam', { notApplicable: 'no GAP head' })), null);
});

test('a step bundle: header with the equation, the figure, the checks; every string escaped', () => {
  const b = toBundle(step(5, 'gradCam', { result: ex.gradCam, checks: [check] }));
  assert.deepEqual(Object.keys(b.data).sort(), [PLOTLY_MIME, 'text/html', 'text/plain'].sort());
  const html = b.data['text/html']!;
  assert.ok(html.includes('\\[L_c = \\mathrm{ReLU}(\\sum_k \\alpha_k^c f_k)\\]'), 'equation for MathJax');
  assert.ok(html.indexOf('tslab-cam-step') < html.indexOf('tslab-cam-figure') && html.indexOf('tslab-cam-figure') < html.indexOf('tslab-cam-checks'));
  assert.ok(!html.includes('alert(1)</script>'));
  assert.ok(!html.includes('<img src=x'));
  assert.equal(html.split('<script').length - 1, 1, 'only the draw script');
  assert.match(b.data['text/plain'], /^Step 5 · Step title 5: c=3, α \(first\)=0\.1, 0\.2, .*… · checks 1\/1 pass$/);
  assert.ok(b.data['text/plain'].length < 120, 'one short line');
  const na = toBundle(step(4, 'cam', { notApplicable: `no GAP head ${EVIL}` }));
  assert.deepEqual(Object.keys(na.data).sort(), ['text/html', 'text/plain']);
  assert.match(na.data['text/html']!, /Not applicable: no GAP head &lt;\/script&gt;/);
});

test('a walkthrough shows an overview; it and its steps display themselves as last expressions', () => {
  const wt = makeDisplayable(walkthroughOf([step(1, 'features', { result: ex.cam }), step(4, 'cam', { notApplicable: 'n/a' }),
    step(5, 'gradCam', { result: ex.gradCam, checks: [check] })]));
  const overview = toBundle(wt);
  assert.match(overview.data['text/plain'], /^walkthrough: 3 steps, class 3, layer .*every identity check passed$/s);
  assert.ok(!overview.data['text/html']!.includes('<script'));
  assert.match(overview.data['text/html']!, /1\/1 pass/);
  const sent: DisplayContent[] = [];
  useDisplayWriter((c) => sent.push(c));
  markPlotlyEmbedded(true);
  try {
    assert.equal(util.inspect(wt.step(3)), stepSummary(wt.steps[2]));
    assert.equal(util.inspect(wt), overview.data['text/plain']);
  } finally {
    useDisplayWriter(undefined);
    markPlotlyEmbedded(false);
  }
  assert.equal(sent.length, 2);
  assert.equal(typeof sent[0].data[PLOTLY_MIME], 'object');
  assert.match(String(sent[1].data['text/html']), /tslab-cam-walkthrough/);
});
