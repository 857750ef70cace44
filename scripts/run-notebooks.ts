/**
 * `npm run notebooks`: executes every notebook in notebooks/ headless through real Jupyter and the
 * tslab kernel, writing the executed .ipynb and an HTML export to out/notebooks/ (git-ignored).
 * Exits non-zero when any cell errs. Prints the time each notebook took.
 */
import * as fs from 'fs';
import * as path from 'path';
import { executeNotebook, exportHtml, notebookErrors, ROOT } from './jupyter';

const dir = path.join(ROOT, 'notebooks');
const outDir = path.join(ROOT, 'out', 'notebooks');
let failed = 0;
const started = Date.now();
for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb')).sort()) {
  const t0 = Date.now();
  const out = path.join(outDir, name);
  try {
    const nb = executeNotebook(path.join(dir, name), out, 600);
    const errs = notebookErrors(nb);
    exportHtml(out, out.replace(/\.ipynb$/, '.html'));
    console.log(`${errs.length ? 'FAIL' : 'ok  '} ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${errs.length ? '\n  ' + errs.join('\n  ') : ''}`);
    if (errs.length) failed++;
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${(e as Error).message.split('\n').slice(0, 5).join(' ')}`);
  }
}
console.log(`all notebooks: ${((Date.now() - started) / 1000).toFixed(1)} s; executed copies and HTML in ${path.relative(ROOT, outDir)}/`);
process.exit(failed ? 1 : 0);
