/**
 * Prints how many bytes the display outputs take in a saved notebook: the plotly.js embed and each
 * figure, split by MIME type. Usage:
 *   node -r ts-node/register scripts/display-sizes.ts [executed.ipynb]
 * Without an argument it executes notebooks/99-display-check.ipynb (needs `npx tsc -p tsconfig.json`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { executeNotebook, ROOT, type Notebook, type NotebookOutput } from './jupyter';
import { overlayFigure } from '../src/render/figures';
import { syntheticExample } from '../src/render/synthetic';
import { toBundle } from '../src/notebook/display';
import '../src/notebook/renderers';

const MIMES = ['application/vnd.plotly.v1+json', 'text/html', 'image/png', 'text/plain'];

/** Bytes as nbformat writes them (JSON with indent 1, which puts every array element on its own line). */
function bytes(v: unknown, depth = 0): number {
  const json = JSON.stringify(v ?? '', null, 1);
  const lines = json.split('\n').length;
  return Buffer.byteLength(json, 'utf8') + (lines - 1) * depth;
}

function text(v: unknown): string {
  return Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '';
}

function kb(n: number): string {
  return (n / 1024).toFixed(1);
}

/** One row per display output: what it is and its bytes in the .ipynb, in total and by MIME type. */
export function displaySizes(nb: Notebook): { label: string; total: number; byMime: Record<string, number> }[] {
  const rows: { label: string; total: number; byMime: Record<string, number> }[] = [];
  for (const cell of nb.cells) {
    for (const o of (cell.outputs ?? []) as NotebookOutput[]) {
      if (o.output_type !== 'display_data' || !o.data) continue;
      const html = text(o.data['text/html']);
      const label = html.includes('data-tslab-cam-plotly') ? 'plotly.js embed (once per session)' : text(o.data['text/plain']).slice(0, 70);
      const byMime: Record<string, number> = {};
      // Depths match the indentation an output's lines get inside the notebook file.
      for (const m of MIMES) if (o.data[m] !== undefined) byMime[m] = bytes(o.data[m], 5);
      rows.push({ label, total: bytes(o, 4), byMime });
    }
  }
  return rows;
}

if (require.main === module) {
  let file = process.argv[2];
  if (!file) {
    file = path.join(ROOT, 'out', 'sizes', '99-display-check.ipynb');
    executeNotebook(path.join(ROOT, 'notebooks', '99-display-check.ipynb'), file, 180);
  }
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;
  const rows = displaySizes(nb);
  console.log(`notebook: ${path.relative(ROOT, path.resolve(file))} (${kb(fs.statSync(file).size)} KB on disk)\n`);
  console.log('| output | total KB | plotly JSON KB | text/html KB | image/png KB |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const m = (k: string) => (r.byMime[k] !== undefined ? kb(r.byMime[k]) : '–');
    console.log(`| ${r.label.replace(/\|/g, '\\|').replace(/[\u2028\u2029\n]/g, ' ')} | ${kb(r.total)} | ${m(MIMES[0])} | ${m(MIMES[1])} | ${m(MIMES[2])} |`);
  }
  photoOverlay();
}

/**
 * The same 224×224 overlay on a photograph-like input (texture and sensor noise compress far worse
 * than the smooth synthetic scene), with the time to build its bundle (figure + PNG) in Node.
 */
function photoOverlay(): void {
  const ex = syntheticExample({ size: 224, layerSize: 7 });
  let seed = 7;
  const data = Float32Array.from(ex.input.data, (v, i) => {
    seed = (seed * 16807) % 2147483647;
    return Math.min(1, Math.max(0, v + 0.15 * Math.sin(i * 0.37) * Math.sin((i / 672) * 0.5) + 0.02 * (seed / 2147483647 - 0.5)));
  });
  const result = { ...ex.gradCam, input: { data, shape: ex.input.shape } };
  const runs = 5;
  let bundle = toBundle(overlayFigure(result));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) bundle = toBundle(overlayFigure(result));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / runs;
  const output = { output_type: 'display_data', data: bundle.data, metadata: bundle.metadata };
  console.log(`\n224×224 overlay on a photograph-like input: ${kb(bytes(output, 4))} KB in the notebook ` +
    `(PNG ${kb(bytes(bundle.data['image/png'], 5))} KB, plotly JSON ${kb(bytes(bundle.data['application/vnd.plotly.v1+json'], 5))} KB); ` +
    `bundle built in ${ms.toFixed(0)} ms`);
}
