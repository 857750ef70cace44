/**
 * Layout facts of tutorial 03's page in real headless Chromium (the HTML export of the executed
 * notebook, offline): plotly's toolbar never covers a title, the identity table's equation column
 * and skip reasons have room, hovering an overlay names the input pixel and the map value, and a
 * digit class reads "class 3", not "class 3 (3)".
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { exportHtml, notebookErrors, ROOT } from '../../scripts/jupyter';
import { executeInScratch } from '../helpers/notebook';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];
const SHOTS = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-layout-'));
let browser: Browser;
let page: Page;

interface Box { x: number; y: number; width: number; height: number }
function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

before(async () => {
  const { nb, file } = executeInScratch(path.join(ROOT, 'notebooks', '03-gradcam.ipynb'), 600);
  assert.deepEqual(notebookErrors(nb), []);
  const html = file.replace(/\.ipynb$/, '.html');
  exportHtml(file, html);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
  await page.route('**/*', (route) => (/^(file|data):/.test(route.request().url()) ? route.continue() : route.abort()));
  await page.goto('file://' + html);
  await page.waitForFunction(`document.querySelectorAll('.tslab-cam-figure').length > 0 &&
    Array.from(document.querySelectorAll('.tslab-cam-figure')).every((f) => f.querySelector('svg.main-svg'))`, undefined, { timeout: 60_000 });
});

after(async () => {
  await browser?.close();
  if (!process.env.KEEP_SHOTS) fs.rmSync(SHOTS, { recursive: true, force: true });
  else console.log(`screenshots in ${SHOTS}`);
});

test('plotly\'s toolbar and each figure\'s title never overlap', async () => {
  const figures = await page.locator('.tslab-cam-figure').all();
  assert.ok(figures.length >= 4, `tutorial 03 draws ${figures.length} figures`);
  for (const [i, fig] of figures.entries()) {
    await fig.scrollIntoViewIfNeeded();
    await fig.locator('.nsewdrag').first().hover(); // the toolbar shows on hover
    const bar = await fig.locator('.modebar').first().boundingBox();
    const title = await fig.locator('.gtitle').first().boundingBox();
    assert.ok(bar && title, `figure ${i}: toolbar and title are drawn`);
    assert.ok(!overlaps(bar, title), `figure ${i}: toolbar ${JSON.stringify(bar)} covers title ${JSON.stringify(title)}`);
    for (const menu of await fig.locator('g.updatemenu-container').all()) {
      const m = await menu.boundingBox();
      assert.ok(m && !overlaps(m, title), `figure ${i}: a menu ${JSON.stringify(m)} covers the title`);
    }
  }
});

test('the identity table gives the equation column and skip reasons room', async () => {
  await page.locator('table.tslab-cam-checks').last().screenshot({ path: path.join(SHOTS, 'checks.png') });
  const eq = await page.$$eval('td.tslab-cam-eq', (tds) => tds.map((td) => td.getBoundingClientRect().width));
  assert.ok(eq.length >= 4, `identity rows: ${eq.length}`);
  assert.ok(Math.min(...eq) >= 240, `equation column widths ${eq.join(', ')} px`);
  // Squeezed, every column had the same width (Jupyter's table-layout: fixed); now the equation is the widest.
  const widths = await page.evaluate(`Array.from(document.querySelectorAll('table.tslab-cam-checks tbody tr')).map((tr) =>
    Array.from(tr.children).map((td) => td.getBoundingClientRect().width))`) as number[][];
  for (const row of widths) assert.equal(Math.max(...row.slice(0, 8)), row[2], `column widths ${row.map(Math.round).join(', ')}`);
  const reasons = await page.$$eval('td.tslab-cam-result', (tds) => tds.filter((td) => /skipped/.test(td.textContent ?? '')).map((td) => td.getBoundingClientRect().width));
  assert.ok(reasons.length >= 1, 'digits-fc skips the CAM identities, with a reason');
  assert.ok(Math.min(...reasons) >= 200, `skip reason widths ${reasons.join(', ')} px`);
});

test('hovering an overlay shows the input pixel and the map value; digit classes read "class 3"', async () => {
  const overlay = page.locator('.tslab-cam-figure').first();
  await overlay.scrollIntoViewIfNeeded();
  const box = await overlay.locator('.nsewdrag').first().boundingBox();
  assert.ok(box);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForSelector('.hoverlayer .hovertext');
  const text = (await page.locator('.hoverlayer .hovertext').allTextContents()).join(' | ');
  // The input pixel under the pointer (64×64 input, pointer at the centre) and the map cell there.
  assert.match(text, /inputx=(3[0-3]) y=(3[0-3])RGB \d{1,3}, \d{1,3}, \d{1,3}/, text);
  assert.match(text, /Grad-CAMx=\d+ y=\d+value=[\d.e-]+/, text);
  const titles = (await page.locator('.gtitle').allTextContents()).join(' | ');
  assert.match(titles, /Grad-CAM · class \d · layer relu4/);
  assert.doesNotMatch(titles, /class (\d+) \(\1\)/);
});
