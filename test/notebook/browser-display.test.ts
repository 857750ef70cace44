import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { exportHtml, notebookErrors, ROOT } from '../../scripts/jupyter';
import { FIGURE_COUNT, runDisplayNotebook } from '../render/display-notebook';
import { toBundle } from '../../src/notebook';
import { plotlyScriptHtml } from '../../src/notebook/plotly-embed';
import { syntheticExample } from '../../src/render/synthetic';

// Real headless Chromium from Debian on the HTML export (nbconvert) of the executed display notebook.
const SHOTS = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-browser-'));
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];
let browser: Browser;
let htmlFile = '';

before(async () => {
  const { nb, file } = runDisplayNotebook();
  assert.deepEqual(notebookErrors(nb), []);
  htmlFile = file.replace(/\.ipynb$/, '.html');
  exportHtml(file, htmlFile);
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
});

after(async () => {
  await browser?.close();
  fs.rmSync(SHOTS, { recursive: true, force: true });
});

/** Opens the export offline: only file: and data: URLs load (nbconvert's CDN links are refused). */
async function open(javaScriptEnabled: boolean, file = htmlFile): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ javaScriptEnabled, viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /tslab-cam|plotly/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.route('**/*', (route) => (/^(file|data):/.test(route.request().url()) ? route.continue() : route.abort()));
  await page.goto('file://' + file);
  return { page, problems };
}

test('every figure draws with plotly (SVG and heatmap/image elements), no page errors, the PNG is removed', async () => {
  const { page, problems } = await open(true);
  await page.waitForFunction(`document.querySelectorAll('.tslab-cam-figure[data-drawn]').length === ${FIGURE_COUNT} &&
    document.querySelectorAll('img.tslab-cam-fallback').length === 0`, undefined, { timeout: 60_000 });
  const figs = await page.$$eval('.tslab-cam-figure', (els) => els.map((f) => ({
    svg: f.querySelectorAll('.tslab-cam-plot svg.main-svg').length,
    heatmaps: f.querySelectorAll('g.hm image').length,
    images: f.querySelectorAll('g.im image').length,
    bars: f.querySelectorAll('g.bars path').length,
    sliders: f.querySelectorAll('g.slider-container').length,
    menus: f.querySelectorAll('g.updatemenu-container').length,
  })));
  assert.equal(figs.length, FIGURE_COUNT);
  for (const [i, f] of figs.entries()) {
    assert.ok(f.svg > 0, `figure ${i} has plotly SVG`);
    assert.ok(f.heatmaps + f.images > 0, `figure ${i} drew a heatmap or image`);
  }
  // overlay, heatmap, classes, layers, feature maps, comparison, guided, result overlay, gallery, walkthrough step
  assert.deepEqual(figs.map((f) => f.heatmaps > 0), [true, true, true, true, true, true, false, true, true, true]);
  assert.equal(figs[8].images, 2, 'gallery: one image per input');
  assert.ok(figs[0].sliders === 1 && figs[2].menus === 1 && figs[3].sliders === 1 && figs[4].bars > 0);
  assert.equal(figs[5].images, 5, 'comparison row: input, CAM, Grad-CAM, guided backprop, guided Grad-CAM');
  assert.equal(await page.locator('.tslab-cam-progress').count(), 1);
  const shots = await page.$$('.tslab-cam-figure');
  for (const [i, el] of shots.entries()) await el.screenshot({ path: path.join(SHOTS, `figure-${i}.png`) });
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('hovering a heatmap shows its (x, y, value)', async () => {
  const { page, problems } = await open(true);
  await page.waitForFunction(`document.querySelectorAll('.tslab-cam-figure[data-drawn] svg.main-svg').length > 0`, undefined, { timeout: 60_000 });
  const fig = page.locator('.tslab-cam-figure').nth(1);
  await fig.locator('g.hm image').first().waitFor({ timeout: 60_000 });
  await fig.scrollIntoViewIfNeeded();
  const box = await fig.locator('.nsewdrag').first().boundingBox();
  assert.ok(box, 'plot area found');
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.4);
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 5 });
  const hover = fig.locator('.hoverlayer .hovertext');
  await hover.first().waitFor({ timeout: 10_000 });
  const text = await hover.first().textContent();
  assert.match(text ?? '', /x=\d+\s*y=\d+\s*value=-?[\d.e+-]+/);
  await fig.screenshot({ path: path.join(SHOTS, 'hover.png') });
  // The colour-scale menu restyles the map: open it and pick "viridis" (the figure starts in jet).
  const colour = () => page.evaluate(`document.querySelectorAll('.tslab-cam-plot')[1].data[0].colorscale[0][1]`);
  assert.equal(await colour(), 'rgb(0,0,127)');
  await page.mouse.move(1, 1);
  await fig.locator('.updatemenu-header').first().click();
  await fig.locator('.updatemenu-dropdown-button').first().click();
  await page.waitForFunction(`document.querySelectorAll('.tslab-cam-plot')[1].data[0].colorscale[0][1] === 'rgb(68,1,84)'`, undefined, { timeout: 10_000 });
  // The class dropdown of figure 2 switches which class map is visible.
  const classes = page.locator('.tslab-cam-figure').nth(2);
  await classes.scrollIntoViewIfNeeded();
  await classes.locator('.updatemenu-header').first().click();
  await classes.locator('.updatemenu-dropdown-button').nth(1).click();
  await page.waitForFunction(`(() => { const d = document.querySelectorAll('.tslab-cam-plot')[2].data;
    return d[1].visible === false && d[2].visible === true; })()`, undefined, { timeout: 10_000 });
  await classes.screenshot({ path: path.join(SHOTS, 'class-dropdown.png') });
  // Sliders: the overlay's opacity (figure 0) and the layer slider (figure 3), clicked at the rail's right end.
  for (const [index, check] of [[0, 'd[1].opacity === 1'], [3, 'd[1].visible === false && d[2].visible === true']] as const) {
    const f = page.locator('.tslab-cam-figure').nth(index);
    await f.scrollIntoViewIfNeeded();
    const rail = await f.locator('.slider-rail-rect').first().boundingBox();
    assert.ok(rail, `slider of figure ${index}`);
    await page.mouse.click(rail.x + rail.width - 2, rail.y + rail.height / 2);
    await page.waitForFunction(`(() => { const d = document.querySelectorAll('.tslab-cam-plot')[${index}].data; return ${check}; })()`,
      undefined, { timeout: 10_000 });
  }
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('with JavaScript disabled every figure shows its PNG', async () => {
  const { page, problems } = await open(false);
  // A string expression keeps DOM types out of the Node-only type check.
  const imgs = await page.evaluate(`Array.from(document.querySelectorAll('.tslab-cam-figure img.tslab-cam-fallback')).map((img) => ({
    complete: img.complete, w: img.naturalWidth, h: img.naturalHeight, shownW: img.getBoundingClientRect().width }))`) as
    { complete: boolean; w: number; h: number; shownW: number }[];
  assert.equal(imgs.length, FIGURE_COUNT);
  for (const [i, im] of imgs.entries()) assert.ok(im.complete && im.w > 100 && im.h > 100 && im.shownW > 100, `PNG ${i} shows: ${JSON.stringify(im)}`);
  assert.equal(await page.locator('svg.main-svg').count(), 0, 'no plotly without JavaScript');
  await page.screenshot({ path: path.join(SHOTS, 'no-javascript.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('a figure shown before plotly.js draws once it arrives; without plotly.js it keeps its PNG', async () => {
  const figure = toBundle(syntheticExample({ size: 32, layerSize: 4 }).gradCam).data['text/html'];
  const dir = path.dirname(htmlFile);
  const later = path.join(dir, 'plotly-later.html');
  const never = path.join(dir, 'plotly-never.html');
  // The embed comes after the figure and only after a delay, as when a user loads it in a later cell.
  const delayed = plotlyScriptHtml().replace('<script type="text/javascript"', '<script type="text/plain" id="later"');
  fs.writeFileSync(later, `<!DOCTYPE html><meta charset="utf-8"><body>${figure}${delayed}<script>setTimeout(function () {
    var s = document.createElement('script'); s.text = document.getElementById('later').text; document.body.appendChild(s); }, 800);</script></body>`);
  fs.writeFileSync(never, `<!DOCTYPE html><meta charset="utf-8"><body>${figure}</body>`);

  const a = await open(true, later);
  assert.equal(await a.page.locator('img.tslab-cam-fallback').count(), 1, 'PNG first');
  await a.page.waitForSelector('.tslab-cam-figure[data-drawn] svg.main-svg', { timeout: 30_000 });
  await a.page.waitForFunction(`document.querySelectorAll('img.tslab-cam-fallback').length === 0`, undefined, { timeout: 10_000 });
  assert.deepEqual(a.problems, []);
  await a.page.context().close();

  const b = await open(true, never);
  await b.page.waitForTimeout(1500);
  const shown = await b.page.evaluate(`(() => { const i = document.querySelector('img.tslab-cam-fallback');
    return i ? i.complete && i.naturalWidth > 0 : false; })()`);
  assert.equal(shown, true, 'PNG stays when plotly.js never comes');
  assert.equal(await b.page.locator('svg.main-svg').count(), 0);
  assert.deepEqual(b.problems, []);
  await b.page.context().close();
});
