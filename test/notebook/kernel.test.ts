import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { notebookErrors, ROOT } from '../../scripts/jupyter';
import { executeInScratch } from '../helpers/notebook';

// Real Jupyter + the real tslab kernel: the documented one-line import must compile with types.
test('the setup notebook imports the library with types and reports the backend', () => {
  const { nb } = executeInScratch(path.join(ROOT, 'notebooks', '00-setup-check.ipynb'), 300);
  assert.deepEqual(notebookErrors(nb), []);
  const text = nb.cells.flatMap((c) => c.outputs ?? [])
    .map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
  assert.match(text, /backend=(wasm|tensorflow|cpu) \(/);
});
