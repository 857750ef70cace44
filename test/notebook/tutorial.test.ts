import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { Notebook, notebookErrors, ROOT } from '../../scripts/jupyter';
import { executeInScratch } from '../helpers/notebook';
import { TUTORIAL } from '../../scripts/make-tutorial';

function texts(nb: Notebook): string[] {
  return nb.cells.flatMap((c) => c.outputs ?? []).map((o) => {
    if (o.text) return Array.isArray(o.text) ? o.text.join('') : o.text;
    const plain = o.data?.['text/plain'];
    return Array.isArray(plain) ? plain.join('') : typeof plain === 'string' ? plain : '';
  });
}

/** Every "identity checks: P pass, F fail, S skipped" line the notebook displayed. */
function checkLines(nb: Notebook): Array<{ pass: number; fail: number }> {
  return texts(nb).flatMap((t) => [...t.matchAll(/identity checks: (\d+) pass, (\d+) fail/g)].map((m) => ({ pass: Number(m[1]), fail: Number(m[2]) })));
}

// Which identities each notebook must show passing (at least this many checks in total).
const MIN_PASSING: Record<string, number> = {
  '01-gap.ipynb': 1,
  '02-cam.ipynb': 3 + 6,
  '03-gradcam.ipynb': 3 + 1,
  '04-guided-gradcam.ipynb': 0,
  '05-your-model.ipynb': 1,
  // Grad-CAM's identities 4 (×2) and 5, Ablation-CAM's 11, FullGrad's 12.
  '06-cam-family.ipynb': 3 + 1 + 1,
  '07-measuring.ipynb': 0,
};

for (const name of Object.keys(TUTORIAL)) {
  test(`tutorial ${name} runs top to bottom in real Jupyter + tslab, and every identity it shows passes`, () => {
    // From a scratch copy: tutorial 05 saves ./my-model/ beside itself.
    const { nb } = executeInScratch(path.join(ROOT, 'notebooks', name), 600);
    assert.deepEqual(notebookErrors(nb), []);
    const lines = checkLines(nb);
    assert.equal(lines.reduce((s, l) => s + l.fail, 0), 0, `${name}: a displayed identity failed: ${JSON.stringify(lines)}`);
    assert.ok(lines.reduce((s, l) => s + l.pass, 0) >= MIN_PASSING[name], `${name}: expected ≥ ${MIN_PASSING[name]} passing checks, saw ${JSON.stringify(lines)}`);
    const all = texts(nb).join('\n');
    assert.doesNotMatch(all, /FAILED/);
    if (name.startsWith('04')) assert.match(all, /every identity of the walkthrough passed/);
    // Figures arrive as multi-MIME bundles (plotly JSON for frontends that render it, HTML with the PNG everywhere).
    const figures = nb.cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data && 'application/vnd.plotly.v1+json' in o.data &&
      /<img class="tslab-cam-fallback"[^>]*src="data:image\/png;base64,/.test(([] as string[]).concat(o.data['text/html'] as string | string[]).join('')));
    assert.ok(figures.length >= 1, `${name}: no figure output`);
  });
}
