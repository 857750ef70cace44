/** The eval figures from plain data: one bar trace per metric with CIs, curves, the sanity verdict in the title; strings escaped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evalBarsFigure, perturbationCurvesFigure, sanityFigure } from '../../src/render/evalfigures';
import type { EvalTable, SanityReport } from '../../src/eval';
import '../../src/eval/metrics';

const est = (mean: number) => ({ mean, low: mean - 0.1, high: mean + 0.1, n: 5 });
const table: EvalTable = {
  methods: ['gradCam', '<img src=x onerror=alert(1)>'], metrics: ['pointing', 'deletion'],
  cells: [
    [{ method: 'gradCam', metric: 'pointing', ...est(0.9) }, { method: 'gradCam', metric: 'deletion', ...est(0.2), curve: [1, 0.5, 0] }],
    [{ method: '<img src=x onerror=alert(1)>', metric: 'pointing', ...est(0.1) }, { method: '<img src=x onerror=alert(1)>', metric: 'deletion', ...est(0.6), curve: [1, 0.9, 0.2] }],
  ],
  values: [[[1], [0.2]], [[0], [0.6]]], samples: 5, samplesAsked: 10, partial: true, msPerImage: { gradCam: 1 },
};

test('evalBarsFigure: a bar trace per metric with 95% CI error bars, a dropdown, PARTIAL in the title, escaped names', () => {
  const f = evalBarsFigure(table);
  assert.equal(f.kind, 'evalBars');
  assert.equal(f.plotly.data.length, 2);
  assert.deepEqual(f.plotly.data[0].y, [0.9, 0.1]);
  assert.match(f.title, /PARTIAL: 5 of 10/);
  const json = JSON.stringify(f.plotly);
  assert.ok(!json.includes('<img'), 'method names are escaped');
});

test('perturbationCurvesFigure / sanityFigure: curves over x ∈ [0,1] and stages; a failing method is named in the title', () => {
  const c = perturbationCurvesFigure(table, 'deletion');
  assert.equal(c.plotly.data.length, 2);
  assert.deepEqual(c.plotly.data[0].x, [0, 0.5, 1]);
  const s = (m: number) => ({ mean: m, low: m, high: m, n: 3 });
  const report: SanityReport = {
    threshold: 0.5, samples: 3,
    curves: [
      { method: 'gradCam', stages: [{ layers: [], spearman: s(1), ssim: s(1) }, { layers: ['dense'], spearman: s(0.1), ssim: s(0.2) }], finalSpearman: 0.1, passed: true, verdict: 'ok' },
      { method: 'edge<b>', stages: [{ layers: [], spearman: s(1), ssim: s(1) }, { layers: ['dense'], spearman: s(0.99), ssim: s(0.99) }], finalSpearman: 0.99, passed: false, verdict: 'fails' },
    ],
  };
  const f = sanityFigure(report);
  assert.match(f.title, /FAILS/);
  assert.equal(f.plotly.data.length, 4, 'ρ and SSIM per method');
  assert.ok(!JSON.stringify(f.plotly).includes('<b>'));
});
