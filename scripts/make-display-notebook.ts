/**
 * Writes notebooks/99-display-check.ipynb: every figure kind, the inspect hook, show(), a progress
 * bar, with hostile class/layer names, on synthetic results (no model needed). The display tests
 * execute it with the real tslab kernel and open its HTML export in Chromium.
 *
 * LIB/RENDER are the import paths: the package entry (it re-exports the display API and
 * syntheticExample); the environment variables point them elsewhere for experiments.
 */
import * as fs from 'fs';
import * as path from 'path';
import { makeNotebook, ROOT } from './jupyter';

const LIB = process.env.DISPLAY_NOTEBOOK_LIB ?? '..';
const RENDER = process.env.DISPLAY_NOTEBOOK_RENDER ?? '..';

/** The cells; the test counts on 10 figures, 1 progress bar and 1 identity table. */
export const DISPLAY_CELLS: string[] = [
  '%md\n# 99 · Display check\n\nEvery figure of tslab-cam on synthetic results. Each shows as an interactive plotly figure ' +
    'where JavaScript runs, and as a PNG everywhere else.',
  `import * as tc from "${LIB}";\nimport { syntheticExample } from "${RENDER}";\n` +
    `const evil = '<script>alert(1)</script> "q" \\'a\\' \\u2028 </script>';\n` +
    'const ex = syntheticExample({ size: 224, layerSize: 7, channels: 16, className: evil, layer: "conv<b>last</b>" });\n' +
    'const ex2 = syntheticExample({ size: 224, layerSize: 7, channels: 16, classIndex: 5, className: "dog", seed: 2 });\n' +
    'const mid = syntheticExample({ size: 224, layerSize: 14, channels: 16, layer: "conv_mid", seed: 1 });',
  '%md\n## Overlay (224×224) — a figure as the last expression displays itself',
  'tc.overlay(ex.gradCam)',
  '%md\n## Heatmap at layer resolution, jet colours',
  'tc.show(tc.heatmap(ex.cam.M, { colormap: "jet", title: "M_c (CAM) " + evil }));',
  '%md\n## Class dropdown',
  'tc.classDropdown([ex.gradCam, ex2.gradCam])',
  '%md\n## Layer slider',
  'tc.layerSlider([ex.gradCam, mid.gradCam])',
  '%md\n## Feature maps ordered by w_k^c',
  'tc.featureMaps(ex.cam, { count: 8 })',
  '%md\n## Comparison row',
  'tc.comparison(ex)',
  '%md\n## Guided Grad-CAM',
  'tc.guidedImage(ex.guidedGradCam)',
  '%md\n## A result as the last expression',
  'tc.displayableResult(ex.cam)',
  '%md\n## A batch over two images as the last expression: a gallery',
  'tc.displayableResults([ex.gradCam, ex2.gradCam])',
  '%md\n## A walkthrough step (equation, numbers, figure, checks)',
  'tc.show({ index: 5, key: "gradCam", title: { ja: "Grad-CAM: α と L", en: "Grad-CAM: α and L" },\n' +
    '  latex: "L_c = \\\\mathrm{ReLU}\\\\Big(\\\\sum_k \\\\alpha_k^c f_k\\\\Big)", numbers: { c: 3, layer: evil }, result: ex.gradCam, checks: [] });',
  '%md\n## Identity checks',
  'tc.show([{ id: 1, name: evil, latex: "S_c = \\\\sum_k w_k^c F_k + b_c", lhs: 1, rhs: 1, diff: 0, relDiff: 0, tolerance: 1e-5, pass: true }]);',
  '%md\n## Progress',
  'const p = tc.createProgress({ total: 5, label: "demo", minIntervalMs: 0 });\n' +
    'for (let i = 0; i < 5; i++) { await new Promise((r) => setTimeout(r, 20)); p.tick(1, `step ${i}`); }\np.done("finished");',
];

if (require.main === module) {
  const out = path.join(ROOT, 'notebooks', '99-display-check.ipynb');
  fs.writeFileSync(out, JSON.stringify(makeNotebook(DISPLAY_CELLS), null, 1) + '\n');
  console.log(`wrote ${out}`);
}
