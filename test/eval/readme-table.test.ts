/** The README table of `npm run evaluate`: one row per method, and "beats the floor" only when the 95% CIs are apart in the better direction. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { README_METRICS, identicalRows, mergeRows, tablesMarkdown } from '../../scripts/evaluate';
import type { EvalTable } from '../../src/eval';
import '../../src/eval/metrics';

function table(rows: Record<string, number[]>): EvalTable {
  const methods = Object.keys(rows);
  return {
    methods, metrics: [...README_METRICS],
    cells: methods.map((m) => README_METRICS.map((metric, j) => ({ method: m, metric, mean: rows[m][j], low: rows[m][j] - 0.05, high: rows[m][j] + 0.05, n: 10 }))),
    values: [], samples: 10, samplesAsked: 10, partial: false, msPerImage: Object.fromEntries(methods.map((m) => [m, 2])),
  };
}

test('tablesMarkdown: a row per method; a method beats Random-CAM where its CI is apart on the better side', () => {
  //                       pointing energy locErr avgDrop incConf deletion insertion sanity
  const t = table({
    randomCam: [0.1, 0.2, 0.9, 0.5, 0.1, 0.5, 0.5, 0.0],
    gradCam: [0.9, 0.2, 0.5, 0.5, 0.1, 0.2, 0.5, 0.02],
  });
  const md = tablesMarkdown([{ kind: 'digits-gap', table: t, seconds: 3 }], 64, 'wasm');
  assert.match(md, /\| Grad-CAM \| 0\.9 ± 0\.05 \|/);
  assert.match(md, /Grad-CAM beats Random-CAM on Pointing game, Localisation error, Deletion AUC \(95% CIs apart\)/);
  assert.match(md, /Sanity check \(mean ρ < 0\.5 with every layer randomised\): every method passes/);
  // A ρ far below the floor's is no win: the sanity column is judged by its threshold only.
  const negative = tablesMarkdown([{ kind: 'digits-gap', table: table({ randomCam: [0.1, 0.2, 0.9, 0.5, 0.1, 0.5, 0.5, 0.0], fullGrad: [0.1, 0.2, 0.9, 0.5, 0.1, 0.5, 0.5, -0.6], guidedBackprop: [0.1, 0.2, 0.9, 0.5, 0.1, 0.5, 0.5, 0.7] }), seconds: 1 }], 64, 'wasm');
  assert.match(negative, /FullGrad beats Random-CAM on no metric/);
  assert.match(negative, /failed by Guided Backprop; passed by the rest/);
  const noFloor = tablesMarkdown([{ kind: 'digits-fc', table: table({ gradCam: [1, 1, 1, 1, 1, 1, 1, 1] }), seconds: 1 }], 64, 'wasm');
  assert.match(noFloor, /not registered/);
});

test('identicalRows: methods with the same value on every scene and metric are grouped, and said so in the table', () => {
  const values = (...perMetric: number[][]): number[][] => README_METRICS.map((_, m) => perMetric[m % perMetric.length]);
  const t: EvalTable = {
    ...table({ gradCam: [1, 1, 1, 1, 1, 1, 1, 1], hiResCam: [1, 1, 1, 1, 1, 1, 1, 1], layerCam: [1, 1, 1, 1, 1, 1, 1, 1], randomCam: [0, 0, 0, 0, 0, 0, 0, 0] }),
    values: [values([0.5, 0.25]), values([0.5, 0.25 + 1e-9]), values([0.5, 0.26]), values([0.1, 0.2])],
  };
  assert.deepEqual(identicalRows(t), [['gradCam', 'hiResCam']]);
  assert.match(tablesMarkdown([{ kind: 'digits-gap', table: t, seconds: 1 }], 64, 'wasm'), /- Grad-CAM, HiResCAM: the same value on every scene and metric/);
  assert.deepEqual(identicalRows({ ...t, values: [] }), []);
});

test('mergeRows: re-measured rows replace their method and keep the rest; the table names them, their date and time', () => {
  const base = table({ gradCam: [0.9, 0.2, 0.5, 0.5, 0.1, 0.2, 0.5, 0.02], randomCam: [0.3, 0.2, 0.9, 0.5, 0.1, 0.5, 0.5, 0.0] });
  const part = table({ randomCam: [0.1, 0.2, 0.9, 0.5, 0.1, 0.5, 0.5, 0.0], scoreCam: [0.8, 0.2, 0.5, 0.5, 0.1, 0.2, 0.5, 0.3] });
  const merged = mergeRows(base, part);
  assert.deepEqual(merged.methods, ['gradCam', 'randomCam', 'scoreCam']);
  assert.equal(merged.cells[0], base.cells[0]);
  assert.equal(merged.cells[1][0].mean, 0.1);
  assert.equal(merged.cells[2][0].mean, 0.8);
  const md = tablesMarkdown([{ kind: 'digits-gap', table: merged, seconds: 9, remeasured: [{ methods: ['randomCam', 'scoreCam'], seconds: 2, date: '2026-11-30' }] }], 64, 'wasm');
  assert.match(md, /Re-measured 2026-11-30 on the same scenes \(`--methods randomCam,scoreCam --update`\): Random-CAM, Score-CAM, 2 s\./);
  assert.throws(() => mergeRows(base, { ...part, samples: 5 }), /5 samples/);
});
