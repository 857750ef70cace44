/**
 * Every notebook the repo ships is valid nbformat (4.5, with cell ids), checked by nbformat's own
 * validator with warnings as errors (nbformat warns MissingIDFieldWarning on 4.5 cells without
 * ids, which `npm start` used to print), and its ids are the stable ones the generators derive.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cellIds, jupyterPython, makeNotebook, ROOT, type Notebook } from '../scripts/jupyter';

const DIR = path.join(ROOT, 'notebooks');
const NOTEBOOKS = fs.readdirSync(DIR).filter((f) => f.endsWith('.ipynb')).sort();

const VALIDATE = [
  'import sys, warnings, nbformat',
  'warnings.simplefilter("error")',
  'for p in sys.argv[1:]:',
  '    nb = nbformat.read(p, as_version=nbformat.NO_CONVERT)',
  '    nbformat.validate(nb)',
  '    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), (p, nb.nbformat, nb.nbformat_minor)',
  '    print(p, "ok")',
].join('\n');

test('every notebook in notebooks/ passes nbformat.validate with warnings as errors', () => {
  assert.ok(NOTEBOOKS.length >= 7, `found ${NOTEBOOKS.join(', ')}`);
  const res = spawnSync(jupyterPython(), ['-c', VALIDATE, ...NOTEBOOKS.map((n) => path.join(DIR, n))], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  assert.equal(res.stdout.trim().split('\n').length, NOTEBOOKS.length);
});

test('a notebook without ids fails that check, so the check can see the defect', () => {
  const nb = makeNotebook(['1 + 1']);
  delete nb.cells[0].id;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-nbformat-')), 'no-ids.ipynb');
  try {
    fs.writeFileSync(file, JSON.stringify(nb));
    const res = spawnSync(jupyterPython(), ['-c', VALIDATE, file], { encoding: 'utf8' });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr, /MissingIDFieldWarning|id/);
  } finally {
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
});

test('cell ids are derived from the sources: regenerating gives the same ids, repeats are numbered', () => {
  assert.deepEqual(cellIds(['a', 'b', 'a']), cellIds(['a', 'b', 'a']));
  const [a, b, a2] = cellIds(['a', 'b', 'a']);
  assert.notEqual(a, b);
  assert.equal(a2, `${a}-2`);
  assert.match(a, /^[0-9a-f]{12}$/);
  for (const name of NOTEBOOKS) {
    const nb = JSON.parse(fs.readFileSync(path.join(DIR, name), 'utf8')) as Notebook;
    const sources = nb.cells.map((c) => (c.cell_type === 'markdown' ? '%md\n' : '') + (Array.isArray(c.source) ? c.source.join('') : c.source));
    assert.deepEqual(nb.cells.map((c) => c.id), cellIds(sources), `${name}: ids are not the generated ones; rerun its scripts/make-*.ts`);
  }
});
