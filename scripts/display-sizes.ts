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
import { pinkNoiseImage } from './photo-like';

let photo: ReturnType<typeof pinkNoiseImage> | undefined;

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

/** The overlay figure over a 224×224 photograph-like input (1/f noise), the size issue 15 targets. */
export function photoOverlayFigure(): ReturnType<typeof overlayFigure> {
  const ex = syntheticExample({ size: 224, layerSize: 7 });
  photo ??= pinkNoiseImage(224, 7); // generated once: its DFT is not what is being timed
  return overlayFigure({ ...ex.gradCam, input: photo });
}

/** Bytes of a bundle as one display_data output in a saved notebook, in total and by MIME type. */
export function outputBytes(bundle: ReturnType<typeof toBundle>): { total: number; byMime: Record<string, number> } {
  const output = { output_type: 'display_data', data: bundle.data, metadata: bundle.metadata };
  const byMime: Record<string, number> = {};
  for (const m of MIMES) if ((bundle.data as Record<string, unknown>)[m] !== undefined) byMime[m] = bytes((bundle.data as Record<string, unknown>)[m], 5);
  return { total: bytes(output, 4), byMime };
}

/**
 * The 224×224 overlay on a photograph-like input (1/f noise compresses far worse than the smooth
 * synthetic scene), with the time to build its bundle (figure + PNG) in Node.
 */
function photoOverlay(): void {
  const fig = photoOverlayFigure();
  const runs = 5;
  let bundle = toBundle(fig);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) bundle = toBundle(photoOverlayFigure());
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / runs;
  const { total, byMime } = outputBytes(bundle);
  const part = (m: string): string => (byMime[m] !== undefined ? `${kb(byMime[m])} KB` : 'none');
  console.log(`\n224×224 overlay on a photograph-like input (1/f noise): ${kb(total)} KB in the notebook ` +
    `(plotly JSON ${part(MIMES[0])}, text/html ${part(MIMES[1])}, image/png ${part(MIMES[2])}); ` +
    `bundle and figure built in ${ms.toFixed(0)} ms`);
}
