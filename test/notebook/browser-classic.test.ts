import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type Browser } from 'playwright-core';
import { jupyterEnv, jupyterPython, notebookErrors } from '../../scripts/jupyter';
import { FIGURE_COUNT, runDisplayNotebook } from '../render/display-notebook';
import { freePort } from './jupyter-browser';
import { stopServer } from '../helpers/process';

// The executed display notebook opened in a real classic Notebook 6 server: trusted, its scripts run
// and plotly draws every figure; untrusted, Jupyter strips the scripts and every figure's PNG shows.
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-classic-'));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];
let server: ChildProcess | undefined;
let browser: Browser;
let base = '';


async function waitForServer(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`Jupyter did not start at ${url}`);
}

before(async () => {
  const { nb, file } = runDisplayNotebook();
  assert.deepEqual(notebookErrors(nb), []);
  const untrusted = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: { source: string }[] };
  untrusted.cells[0].source += '\n\n(untrusted copy)';
  fs.copyFileSync(file, path.join(DIR, 'trusted.ipynb'));
  fs.writeFileSync(path.join(DIR, 'untrusted.ipynb'), JSON.stringify(untrusted));
  // A private data dir, so the signature database and config are this test's alone.
  const env = { ...jupyterEnv(), JUPYTER_DATA_DIR: path.join(DIR, 'data'), JUPYTER_CONFIG_DIR: path.join(DIR, 'config') };
  execFileSync(jupyterPython(), ['-m', 'nbformat.sign', path.join(DIR, 'trusted.ipynb')], { env, stdio: 'ignore' });
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(jupyterPython(), ['-m', 'notebook', '--allow-root', '--no-browser', '--ip', '127.0.0.1', '--port', String(port),
    '--NotebookApp.token=', '--NotebookApp.password=', `--notebook-dir=${DIR}`], { env, stdio: 'ignore' });
  await waitForServer(`${base}/api`, 30_000);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
});

after(async () => {
  await browser?.close();
  process.on('exit', () => fs.rmSync(DIR, { recursive: true, force: true }));
  if (server) await stopServer(server);
});

async function openNotebook(name: string) {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  // Only the local server and data: URLs (MathJax etc. from CDNs are refused: no network here).
  await page.route('**/*', (r) => (r.request().url().startsWith(base) || r.request().url().startsWith('data:') ? r.continue() : r.abort()));
  await page.goto(`${base}/notebooks/${name}`);
  await page.waitForSelector('.tslab-cam-figure', { timeout: 30_000 });
  return { page, problems };
}

test('classic Notebook, trusted: every figure draws with the embedded plotly.js', async () => {
  const { page, problems } = await openNotebook('trusted.ipynb');
  await page.waitForFunction(`document.querySelectorAll('.tslab-cam-figure[data-drawn] .tslab-cam-plot svg.main-svg').length > 0 &&
    Array.from(document.querySelectorAll('.tslab-cam-figure')).every((f) => f.querySelector('svg.main-svg'))`, undefined, { timeout: 60_000 });
  assert.equal(await page.locator('.tslab-cam-figure').count(), FIGURE_COUNT);
  assert.equal(await page.locator('img.tslab-cam-fallback').count(), 0);
  await page.screenshot({ path: path.join(DIR, 'classic-trusted.png') });
  assert.deepEqual(problems.filter((p) => !/MathJax/i.test(p)), []);
  await page.close();
});

test('classic Notebook, untrusted: scripts are stripped and every figure shows its PNG', async () => {
  const { page, problems } = await openNotebook('untrusted.ipynb');
  await page.waitForTimeout(3000); // give any script (there should be none) time to run
  const shown = await page.evaluate(`Array.from(document.querySelectorAll('.tslab-cam-figure img.tslab-cam-fallback'))
    .filter((i) => i.complete && i.naturalWidth > 100 && i.getBoundingClientRect().width > 100).length`);
  assert.equal(shown, FIGURE_COUNT);
  assert.equal(await page.locator('svg.main-svg').count(), 0);
  assert.equal(await page.evaluate('typeof window.Plotly'), 'undefined');
  await page.screenshot({ path: path.join(DIR, 'classic-untrusted.png') });
  assert.deepEqual(problems.filter((p) => !/MathJax/i.test(p)), []);
  await page.close();
});
