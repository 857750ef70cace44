import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { executeNotebook, notebookErrors, ROOT } from '../../scripts/jupyter';

// Real Jupyter + the real tslab kernel: the documented one-line import must compile with types.
test('the setup notebook imports the library with types and reports the backend', () => {
  const out = path.join(ROOT, 'out', 'test', '00-setup-check.ipynb');
  const nb = executeNotebook(path.join(ROOT, 'notebooks', '00-setup-check.ipynb'), out, 300);
  assert.deepEqual(notebookErrors(nb), []);
  const text = nb.cells.flatMap((c) => c.outputs ?? [])
    .map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
  assert.match(text, /backend=(wasm|tensorflow|cpu) \(/);
});
