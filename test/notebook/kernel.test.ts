import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { makeNotebook, notebookErrors, ROOT } from '../../scripts/jupyter';
import { executeInScratch } from '../helpers/notebook';

// Real Jupyter + the real tslab kernel: the documented one-line import must compile with types.
test('the setup notebook imports the library with types and reports the backend', () => {
  const { nb } = executeInScratch(path.join(ROOT, 'notebooks', '00-setup-check.ipynb'), 300);
  assert.deepEqual(notebookErrors(nb), []);
  const text = nb.cells.flatMap((c) => c.outputs ?? [])
    .map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
  assert.match(text, /backend=(wasm|tensorflow|cpu) \(/);
});

/** Runs cells whose last one throws; tslab aborts requests that arrive within 200 ms of an error, so one error per notebook. */
function errorText(cells: string[]): string {
  const nb = makeNotebook(cells);
  // nbclient stops at a failing cell unless the cell says it raises.
  nb.cells[nb.cells.length - 1].metadata = { tags: ['raises-exception'] };
  const { nb: done } = executeInScratch(nb, 300, 'errors.ipynb');
  assert.deepEqual(notebookErrors({ ...done, cells: done.cells.slice(0, -1) }), []);
  return (done.cells[done.cells.length - 1].outputs ?? []).filter((o) => o.name === 'stderr').map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
}

test('in real tslab a thrown TslabCamError shows its problem and fix, not the library\'s stack', () => {
  assert.equal(errorText([
    'import * as tc from "..";\nconst model = await tc.loadModel("builtin:digits-gap");\nconst x = await tc.loadImage(tc.builtinSamples()[0].path, { model: model });',
    'tc.gradCam(model, x, { classIndex: 2.5 })',
  ]), 'TslabCamError [BAD_CLASS]: classIndex is 2.5, not an integer.\n' +
    'Fix: Pass a whole class index from 0 to 9 (e.g. 2 or 3), or omit it to explain the top-1 prediction.\n(error.stack has the full trace)\n');
});

test('in real tslab a missing model path is explained relative to the notebook\'s folder', () => {
  const text = errorText(['import * as tc from "..";\nawait tc.loadModel("./no-such-model/model.json")']);
  const cwd = /folder, (\/[^)]*)\)/.exec(text)?.[1] ?? '';
  assert.match(cwd, /tslab-cam-errors-[^/]+\/notebooks$/, 'the kernel runs in the notebook\'s folder');
  assert.equal(text, `TslabCamError [MODEL_LOAD]: Model file ${cwd}/no-such-model/model.json does not exist.\n` +
    `Fix: Check the path (a relative path is relative to the notebook's folder, ${cwd}), or use a URL or 'builtin:digits-gap'.\n(error.stack has the full trace)\n`);
});
