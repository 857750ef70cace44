/**
 * README's code runs as written. Every fenced block whose info string is `ts cell` is one notebook
 * cell, in README order; the notebook runs in real Jupyter + tslab with no initBackend, from a
 * temporary folder whose parent stands in for the package (so `import * as tc from ".."` is the
 * import a notebook in notebooks/ of this repo writes).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeNotebook, notebookErrors, ROOT, type NotebookOutput } from '../scripts/jupyter';
import { executeInScratch } from './helpers/notebook';

/** The bodies of the README's ```ts cell blocks, in order. */
export function readmeCells(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts cell\n([\s\S]*?)^```$/gm)].map((m) => m[1].replace(/\n$/, ''));
}

function textOf(o: NotebookOutput): string {
  const t = o.text ?? o.data?.['text/plain'] ?? '';
  return Array.isArray(t) ? t.join('') : String(t);
}

const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
const BANNER = /looks like you are running TensorFlow\.js in Node|install our node backend/i;

test('readmeCells reads exactly the blocks marked ts cell', () => {
  const md = 'x\n```ts cell\na;\nb\n```\n\n```ts\nnot a cell\n```\n```ts cell\nc\n```\n';
  assert.deepEqual(readmeCells(md), ['a;\nb', 'c']);
});

test('README quick start, cell by cell in real Jupyter + tslab: wasm, no tfjs banner, the overlay figure, verify with 0 failures', () => {
  const cells = readmeCells(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  assert.equal(cells.length, 3, 'the quick start is three cells');
  const { nb } = executeInScratch(makeNotebook(cells), 300, 'readme.ipynb');
  {
    assert.deepEqual(notebookErrors(nb), []);
    const outs = nb.cells.map((c) => c.outputs ?? []);
    const all = outs.flat().map(textOf).join('\n');
    assert.doesNotMatch(all, BANNER);
    assert.equal(outs.flat().filter((o) => o.name === 'stderr').length, 0, 'nothing on stderr');

    // Cell 1: the first use chose wasm and said so, once.
    const first = outs[0].map(textOf).join('');
    assert.match(first, /^tslab-cam computes on wasm: automatic order tensorflow → wasm → cpu; tensorflow unavailable\.$/m);
    assert.equal(all.split('tslab-cam computes on').length - 1, 1);

    // Cell 2: its last expression is the overlay figure (a plotly bundle) and its one line.
    const figure = outs[1].filter((o) => o.output_type === 'display_data' && o.data && PLOTLY_MIME in o.data);
    assert.equal(figure.length, 1, `one plotly figure in cell 2, saw ${JSON.stringify(outs[1].map((o) => Object.keys(o.data ?? {})))}`);
    assert.match(outs[1].map(textOf).join(''), /Grad-CAM · class 7/);

    // Cell 3: verify's table with zero failures.
    const verdict = /identity checks: (\d+) pass, (\d+) fail/.exec(outs[2].map(textOf).join(''));
    assert.ok(verdict, 'cell 3 shows the identity checks');
    assert.ok(Number(verdict[1]) >= 3, `at least 3 identities pass, saw ${verdict[0]}`);
    assert.equal(Number(verdict[2]), 0);
  }
});

test('README "Adding a method": its cell, run after the quick start in real Jupyter + tslab, registers a method and explains a batch with it', () => {
  const md = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const method = [...md.matchAll(/^```ts after-quick-start\n([\s\S]*?)^```$/gm)].map((m) => m[1].replace(/\n$/, ''));
  assert.equal(method.length, 1, 'one "Adding a method" cell');
  const { nb } = executeInScratch(makeNotebook([...readmeCells(md), ...method]), 300, 'readme-method.ipynb');
  assert.deepEqual(notebookErrors(nb), []);
  const last = (nb.cells[nb.cells.length - 1].outputs ?? []);
  assert.ok(last.some((o) => o.output_type === 'display_data' && o.data && PLOTLY_MIME in o.data), 'the results display as a figure');
  assert.match(last.map(textOf).join(''), /\d+ Max-Grad-CAM results?: /);
});
