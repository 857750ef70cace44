import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import {
  checkInteractions, embedsIn, FIGURES, launchBrowser, openTutorial, pageFacts, runAllCells, saveNotebook, SHOTS, skipReason,
  startServer, tutorialFolder, wakeMimeFigures,
} from './jupyter-browser';

// Tutorial 03 in a real JupyterLab 4 (project venv) and Debian's Chromium, run through the UI:
// once with jupyterlab-plotly (the plotly MIME type wins), once with it disabled (our text/html
// draws with the embedded plotly.js), then the saved notebook reopened untrusted (the static route).
const skip = skipReason();
let browser: Browser;
/** The folder whose notebook the text/html test saved: the static test reopens it. */
let savedByHtmlRoute = '';

before(async () => {
  if (skip) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

test('JupyterLab 4 with jupyterlab-plotly: every figure through the plotly MIME renderer, hover, sliders, dropdown, LaTeX, no errors', { skip }, async (t) => {
  const server = await startServer('lab', tutorialFolder(), 'mime', true);
  try {
    const { page, problems } = await openTutorial(browser, server);
    await runAllCells(page);
    // The renderer first shows the bundle's PNG; the interactive figure is built when the mouse enters.
    const first = await pageFacts(page);
    assert.equal(first.mimeRendered, FIGURES, 'the plotly MIME type is the one shown');
    assert.equal(first.htmlFigures, 0, 'our text/html is not shown when the plotly renderer is there');
    assert.equal(first.pngShown, FIGURES, 'each figure shows its PNG until the mouse enters it');
    await wakeMimeFigures(page);
    const facts = await pageFacts(page);
    t.diagnostic(`JupyterLab 4, MIME route, first run: ${JSON.stringify(facts)}`);
    assert.equal(facts.plots, FIGURES, 'plotly drew every figure');
    assert.ok(facts.mathMarkdown > 0 && facts.mathOutputs > 0, 'MathJax typeset the markdown and the identity tables');
    assert.equal(facts.errorOutputs, 0);
    assert.ok(facts.embeds <= 1, 'plotly.js embedded at most once');
    const hover = await checkInteractions(page);
    t.diagnostic(`hover text: ${hover}`);
    await page.screenshot({ path: path.join(SHOTS, 'jupyterlab-plotly-mime.png') });
    const saved = await saveNotebook(page, server);
    assert.equal(embedsIn(saved), 1, 'the saved notebook holds one plotly.js embed');

    // A page reload reads the saved notebook back; the renderer shows every figure's PNG again.
    await page.reload();
    await page.waitForSelector('.jp-OutputArea .jp-RenderedPlotly', { timeout: 60_000 });
    await page.waitForFunction(`document.querySelectorAll('.jp-OutputArea .jp-RenderedPlotly').length === ${FIGURES}`, undefined, { timeout: 30_000 });
    const reloaded = await pageFacts(page);
    t.diagnostic(`JupyterLab 4, MIME route, after reload: ${JSON.stringify(reloaded)}`);
    assert.equal(reloaded.pngShown, FIGURES);
    await wakeMimeFigures(page);
    assert.equal((await pageFacts(page)).plots, FIGURES, 'and each becomes interactive under the mouse');
    assert.deepEqual(problems, []);
    await page.context().close();
  } finally {
    await server.stop();
  }
});

test('JupyterLab 4 without the plotly renderer: our text/html draws every figure with the embedded plotly.js, hover and controls work', { skip }, async (t) => {
  const folder = tutorialFolder();
  const server = await startServer('lab', folder, 'html', false);
  try {
    const { page, problems } = await openTutorial(browser, server);
    await runAllCells(page);
    await page.waitForFunction(`document.querySelectorAll('.jp-OutputArea .tslab-cam-figure[data-drawn] .plot-container').length === ${FIGURES}`,
      undefined, { timeout: 60_000 });
    const facts = await pageFacts(page);
    t.diagnostic(`JupyterLab 4, text/html route, first run: ${JSON.stringify(facts)}`);
    assert.equal(facts.mimeRendered, 0, 'the plotly renderer is disabled');
    assert.deepEqual([facts.htmlFigures, facts.htmlDrawn, facts.plots], [FIGURES, FIGURES, FIGURES]);
    assert.equal(facts.pngShown, 0, 'each PNG is removed once plotly drew');
    assert.ok(facts.mathMarkdown > 0 && facts.mathOutputs > 0, 'MathJax typeset the markdown and the identity tables');
    assert.equal(facts.errorOutputs, 0);
    assert.equal(facts.embeds, 1, 'plotly.js embedded exactly once');
    assert.equal(facts.windowPlotly, true);
    const hover = await checkInteractions(page);
    t.diagnostic(`hover text: ${hover}`);
    await page.screenshot({ path: path.join(SHOTS, 'jupyterlab-text-html.png') });
    const saved = await saveNotebook(page, server);
    assert.equal(embedsIn(saved), 1);
    savedByHtmlRoute = folder;

    // Reloaded from the same server, the saved notebook is trusted (the server signed it on save):
    // the embed and the figure scripts run again and every figure draws.
    await page.reload();
    await page.waitForSelector('.jp-OutputArea .tslab-cam-figure', { timeout: 60_000 });
    await page.waitForFunction(`document.querySelectorAll('.jp-OutputArea .tslab-cam-figure[data-drawn] .plot-container').length === ${FIGURES}`,
      undefined, { timeout: 60_000 });
    const reloaded = await pageFacts(page);
    t.diagnostic(`JupyterLab 4, text/html route, after reload: ${JSON.stringify(reloaded)}`);
    assert.equal(reloaded.embeds, 1);
    assert.deepEqual(problems, []);
    await page.context().close();
  } finally {
    await server.stop();
  }
});

test('JupyterLab 4, the saved notebook reopened untrusted without running: every PNG shows and nothing runs', { skip }, async (t) => {
  assert.ok(savedByHtmlRoute, 'the text/html test saved its notebook');
  // A server with fresh Jupyter folders has never signed this notebook: it opens untrusted.
  for (const [name, plotlyRenderer] of [['untrusted-html', false], ['untrusted-mime', true]] as const) {
    const server = await startServer('lab', savedByHtmlRoute, name, plotlyRenderer);
    try {
      const { page, problems } = await openTutorial(browser, server);
      await page.waitForFunction(`document.querySelectorAll('.jp-OutputArea img.tslab-cam-fallback, .jp-OutputArea .jp-RenderedPlotly img.plot-img').length === ${FIGURES}`,
        undefined, { timeout: 60_000 });
      await page.waitForTimeout(2000); // time for any script (there must be none) to run
      const facts = await pageFacts(page);
      t.diagnostic(`JupyterLab 4, reopened untrusted, plotly renderer ${plotlyRenderer ? 'on' : 'off'}: ${JSON.stringify(facts)}`);
      assert.equal(facts.pngShown, FIGURES, 'every figure shows its PNG');
      assert.deepEqual([facts.plots, facts.htmlDrawn, facts.embeds, facts.windowPlotly], [0, 0, 0, false], 'no script ran');
      if (plotlyRenderer) assert.equal(facts.mimeRendered, FIGURES);
      else assert.equal(facts.htmlFigures, FIGURES, 'the sanitised text/html keeps the figure host and its data: PNG');
      const prompts = await page.evaluate(`Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')).map((e) => e.textContent)`) as string[];
      assert.ok(prompts.every((p) => !p.includes('*')), 'no cell is running');
      if (!plotlyRenderer) await page.screenshot({ path: path.join(SHOTS, 'jupyterlab-untrusted.png') });
      assert.deepEqual(problems, []);
      await page.context().close();
    } finally {
      await server.stop();
    }
  }
});
