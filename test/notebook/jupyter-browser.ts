/**
 * Shared by the JupyterLab 4 and Notebook 7 browser tests: a private Jupyter server from the project
 * venv on 127.0.0.1 with a token, tutorial 03 copied into a temporary folder, Debian's Chromium
 * driven by playwright-core, and the checks both frontends must pass.
 *
 * Each server gets its own config, data, runtime, settings and workspace folders, so the notebook
 * signature database (trust) and the disabled plugins are the test's alone.
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { JUPYTER_PATH, ROOT, venvPython, type Notebook } from '../../scripts/jupyter';
import { stopServer } from '../helpers/process';

export const TUTORIAL = '03-gradcam.ipynb';
/** Figures tutorial 03 shows: overlay, overlay (digits-fc), layer slider, class dropdown, class dropdown (digits-fc). */
export const FIGURES = 5;
export const SHOTS = path.join(ROOT, 'out', 'browser');
/** Flags from DESIGN.md: Debian's Chromium, headless, nothing fetched from outside. */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];
/** jupyterlab-plotly's renderer plugin: disabling the package name leaves it on (its plugin id has another prefix). */
export const PLOTLY_PLUGIN = '@jupyterlab/plotly-extension:factory';

/** Why the browser tests cannot run here, or false. Under CI a missing venv is a failure, not a skip. */
export function skipReason(): string | false {
  const missing = !venvPython() ? 'no .jupyter-local/venv (bash scripts/ensure-system.sh test builds it)'
    : !fs.existsSync('/usr/bin/chromium') ? 'no /usr/bin/chromium (bash scripts/ensure-system.sh test installs it)' : '';
  if (missing && process.env.CI) assert.fail(`CI must have it: ${missing}`);
  return missing || false;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
}

/** A free loopback port (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** The temporary folders made here, removed after each frontend's tests. */
const folders: string[] = [];

/** A temporary folder holding tutorial 03, its `import … from ".."` pointed at this checkout. */
export function tutorialFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-browser-'));
  folders.push(dir);
  const nb = JSON.parse(fs.readFileSync(path.join(ROOT, 'notebooks', TUTORIAL), 'utf8')) as Notebook;
  for (const c of nb.cells) {
    const src = Array.isArray(c.source) ? c.source.join('') : c.source;
    c.source = src.replace(/from "\.\."/g, `from ${JSON.stringify(ROOT)}`);
  }
  fs.mkdirSync(path.join(dir, 'notebooks'));
  fs.writeFileSync(path.join(dir, 'notebooks', TUTORIAL), JSON.stringify(nb, null, 1));
  return dir;
}

export interface Server {
  app: 'lab' | 'notebook';
  base: string;
  token: string;
  /** The folder it serves. */
  root: string;
  stop(): Promise<void>;
}

/**
 * Starts JupyterLab 4 (`lab`) or Notebook 7 (`notebook`) from the venv on `folder`/notebooks, with
 * its own Jupyter folders under `folder`/`name`. `plotlyRenderer: false` disables jupyterlab-plotly
 * the way a user would (`jupyter labextension disable`), so text/html is the richest MIME type left.
 * `trust` signs the tutorial first with this server's key, as `jupyter trust` does.
 */
export async function startServer(app: 'lab' | 'notebook', folder: string, name: string, plotlyRenderer: boolean,
  trust = false): Promise<Server> {
  const py = venvPython();
  assert.ok(py, 'the project venv');
  const home = path.join(folder, name);
  const settings = path.join(home, 'settings');
  const env: NodeJS.ProcessEnv = {
    ...process.env, JUPYTER_PATH, JUPYTER_CONFIG_DIR: path.join(home, 'config'), JUPYTER_DATA_DIR: path.join(home, 'data'),
    JUPYTER_RUNTIME_DIR: path.join(home, 'runtime'), JUPYTERLAB_SETTINGS_DIR: settings, JUPYTERLAB_WORKSPACES_DIR: path.join(home, 'workspaces'),
  };
  // Every cell in the DOM (JupyterLab 4 may detach cells scrolled out of view), and no news or update checks (offline).
  const write = (plugin: string, value: object): void => {
    const [pkg, file] = plugin.split(':');
    fs.mkdirSync(path.join(settings, pkg), { recursive: true });
    fs.writeFileSync(path.join(settings, pkg, `${file}.jupyterlab-settings`), JSON.stringify(value));
  };
  write('@jupyterlab/notebook-extension:tracker', { windowingMode: 'none' });
  write('@jupyterlab/apputils-extension:notification', { fetchNews: 'false', checkForUpdates: false });
  if (!plotlyRenderer) execFileSync(py, ['-m', 'jupyter', 'labextension', 'disable', PLOTLY_PLUGIN, '--level=user'], { env, stdio: 'ignore' });
  const root = path.join(folder, 'notebooks');
  if (trust) execFileSync(py, ['-m', 'nbformat.sign', path.join(root, TUTORIAL)], { env, stdio: 'ignore' });
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const server: ChildProcess = spawn(py, ['-m', app === 'lab' ? 'jupyterlab' : 'notebook', '--no-browser', '--allow-root', '--ip=127.0.0.1',
    `--port=${port}`, '--ServerApp.port_retries=0', `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${root}`],
  { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (server.exitCode !== null || i > 300) throw new Error(`Jupyter ${app} did not start:\n${log}`);
    try {
      if ((await fetch(`${base}/api/status?token=${token}`)).ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    app, base, token, root,
    stop: () => stopServer(server),
  };
}

export interface Opened {
  page: Page;
  /** Page errors, dialogs and console errors that mention tslab-cam or plotly. */
  problems: string[];
}

/** Opens the tutorial in a fresh browser context; only the server and data: URLs load. */
export async function openTutorial(browser: Browser, server: Server): Promise<Opened> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => {
    // Notebook 7.6.5's own shortcut-settings listener reads the schema of a plugin it has not loaded
    // (seen on page loads with and without our settings and the plotly renderer): not ours to fix.
    if (e.message === "Cannot read properties of undefined (reading 'schema')" && /\/static\/notebook\/notebook_core\./.test(e.stack ?? '')) return;
    problems.push(`pageerror: ${e.message}${process.env.TSLAB_CAM_DEBUG ? `\n${e.stack}` : ''}`);
  });
  page.on('dialog', (d) => {
    // Leaving a notebook that the frontend still counts as modified asks first: the tests reload on purpose.
    if (d.type() === 'beforeunload') return void d.accept();
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' && /tslab-cam|plotly/i.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.route('**/*', (r) => (r.request().url().startsWith(server.base) || r.request().url().startsWith('data:') ? r.continue() : r.abort()));
  const where = server.app === 'lab' ? `/lab/tree/${TUTORIAL}` : `/notebooks/${TUTORIAL}`;
  await page.goto(`${server.base}${where}?token=${server.token}`);
  await page.waitForSelector('.jp-Notebook .jp-Cell', { timeout: 60_000 });
  await page.waitForSelector('.jp-Notebook .jp-MarkdownOutput mjx-container', { timeout: 30_000 });
  return { page, problems };
}

const PROMPTS = `Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')).map((e) => e.textContent || '')`;

/** Run → Run All Cells from the menu bar, then waits until every code cell shows its execution count. */
export async function runAllCells(page: Page): Promise<void> {
  // The kernel must be up before the menu item is enabled.
  await page.waitForFunction(`(() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');
    return s && s.getAttribute('data-status') === 'idle'; })()`, undefined, { timeout: 60_000 });
  // A click that lands while the session is still settling can be lost: try the menu again then.
  for (let attempt = 1; ; attempt++) {
    await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
    await page.click('.lm-Menu-itemLabel:text-is("Run All Cells")');
    // Park the mouse on the logo: jupyterlab-plotly wakes a figure that appears under the pointer.
    await page.mouse.move(0, 0);
    try {
      await page.waitForFunction(`${PROMPTS}.some((t) => /\\[(\\*|\\d+)\\]/.test(t))`, undefined, { timeout: 20_000 });
      break;
    } catch (e) {
      if (attempt === 3) throw e;
    }
  }
  try {
    await page.waitForFunction(`(() => { const p = ${PROMPTS}; return p.length > 0 && p.every((t) => /\\[\\d+\\]/.test(t)); })()`,
      undefined, { timeout: 180_000 });
  } catch (e) {
    const shot = path.join(SHOTS, `failed-run-all-${Date.now()}.png`);
    await page.screenshot({ path: shot }).catch(() => undefined);
    const prompts = await page.evaluate(PROMPTS).catch(() => []) as string[];
    const status = await page.evaluate(`document.querySelector('.jp-Notebook-ExecutionIndicator')?.getAttribute('data-status')`).catch(() => '?');
    throw new Error(`not every cell ran: prompts ${JSON.stringify(prompts)}, kernel ${status}; screenshot ${shot}\n${(e as Error).message}`);
  }
}

/** Saves through the keyboard and waits until the file on disk holds the outputs. */
export async function saveNotebook(page: Page, server: Server): Promise<Notebook> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+s');
  const file = path.join(server.root, TUTORIAL);
  for (let i = 0; i < 100; i++) {
    try {
      const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;
      if (nb.cells.some((c) => (c.outputs ?? []).length > 0)) return nb;
    } catch {
      // caught mid-write: read again
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the notebook was not saved with its outputs');
}

/** What the page shows, counted in the DOM. */
export interface PageFacts {
  /** Figures drawn by plotly.js (either route). */
  plots: number;
  /** Outputs shown by jupyterlab-plotly's MIME renderer. */
  mimeRendered: number;
  /** Outputs shown as our text/html (figure hosts), and of those the ones our script drew. */
  htmlFigures: number;
  htmlDrawn: number;
  /** PNG images from the bundle that are loaded and visible (our <img> or the renderer's placeholder). */
  pngShown: number;
  /** MathJax output elements in markdown cells and in outputs. */
  mathMarkdown: number;
  mathOutputs: number;
  /** Error outputs (stderr streams, tracebacks). */
  errorOutputs: number;
  /** plotly.js embeds in the page (script elements or sanitised leftovers). */
  embeds: number;
  windowPlotly: boolean;
}

export async function pageFacts(page: Page): Promise<PageFacts> {
  // A string expression keeps DOM types out of the Node-only type check.
  return await page.evaluate(`(() => {
    const shown = (img) => img.complete && img.naturalWidth > 100 && img.getBoundingClientRect().width > 50 &&
      getComputedStyle(img).display !== 'none' && (img.getAttribute('src') || '').startsWith('data:image/png;base64,');
    return {
      plots: document.querySelectorAll('.jp-OutputArea .js-plotly-plot .plot-container').length,
      mimeRendered: document.querySelectorAll('.jp-OutputArea .jp-RenderedPlotly').length,
      htmlFigures: document.querySelectorAll('.jp-OutputArea .tslab-cam-figure').length,
      htmlDrawn: document.querySelectorAll('.jp-OutputArea .tslab-cam-figure[data-drawn]').length,
      pngShown: Array.from(document.querySelectorAll('.jp-OutputArea img.tslab-cam-fallback, .jp-OutputArea .jp-RenderedPlotly img.plot-img')).filter(shown).length,
      mathMarkdown: document.querySelectorAll('.jp-MarkdownOutput mjx-container').length,
      mathOutputs: document.querySelectorAll('.jp-OutputArea-output mjx-container').length,
      errorOutputs: document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
      embeds: document.querySelectorAll('.jp-OutputArea script[data-tslab-cam-plotly]').length,
      windowPlotly: typeof window.Plotly === 'object' && window.Plotly !== null,
    };
  })()`) as PageFacts;
}

/** The n-th figure's plot element (where plotly.js keeps .data), either route. */
export function figure(page: Page, n: number): Locator {
  return page.locator('.jp-OutputArea .js-plotly-plot').nth(n);
}

/**
 * jupyterlab-plotly 7.1 shows the bundle's image/png and builds the interactive figure when the
 * mouse enters it: move over every figure, as a reader scrolling through does.
 */
export async function wakeMimeFigures(page: Page): Promise<void> {
  const figs = page.locator('.jp-OutputArea .jp-RenderedPlotly');
  const n = await figs.count();
  for (let i = 0; i < n; i++) {
    const f = figs.nth(i);
    // Passing over a figure on the way to the next one already wakes it.
    if (await f.locator('.plot-container').count() === 0) {
      await f.scrollIntoViewIfNeeded();
      const box = await f.locator('img.plot-img').boundingBox(); // null once hidden: the figure is up
      if (box) await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 2 });
    }
    await f.locator('.plot-container').waitFor({ timeout: 30_000 });
  }
  await page.mouse.move(1, 1);
}

const dataOf = (n: number, expr: string): string =>
  `(() => { const d = document.querySelectorAll('.jp-OutputArea .js-plotly-plot')[${n}].data; return ${expr}; })()`;

/** Clicks the right end of figure n's first slider and waits for `check` (an expression over its data `d`). */
async function slideToEnd(page: Page, n: number, check: string): Promise<void> {
  const f = figure(page, n);
  await f.scrollIntoViewIfNeeded();
  const rail = await f.locator('.slider-rail-rect').first().boundingBox();
  assert.ok(rail, `slider of figure ${n}`);
  await page.mouse.click(rail.x + rail.width - 2, rail.y + rail.height / 2);
  await page.waitForFunction(dataOf(n, check), undefined, { timeout: 10_000 });
}

/**
 * The interactive checks on tutorial 03's figures: hover text with values on the overlay's map,
 * the opacity slider (figure 0), the layer slider (figure 2) and the class dropdown (figure 3),
 * each read back from the restyled plotly data. Returns the hover text.
 */
export async function checkInteractions(page: Page): Promise<string> {
  // Hover over the overlay until a point on the map is bright, then check the label against the data:
  // the map trace's z at the cell under (x, y).
  const overlay = figure(page, 0);
  await overlay.scrollIntoViewIfNeeded();
  const box = await overlay.locator('.nsewdrag').first().boundingBox();
  assert.ok(box, 'plot area of the overlay');
  const hover = overlay.locator('.hoverlayer .hovertext');
  let text = '';
  let label: RegExpExecArray | null = null;
  for (let k = 0; k < 49 && !(label && Number(label[3]) > 0.2); k++) {
    await page.mouse.move(box.x + box.width * (0.2 + 0.1 * (k % 7)), box.y + box.height * (0.2 + 0.1 * Math.floor(k / 7)), { steps: 2 });
    if (await hover.count() === 0) continue;
    // With hovermode 'x' the input's pixel and the map's value each get a label: read the map's.
    const texts = await hover.allTextContents();
    text = texts.join(' | ');
    label = texts.map((t) => /x=(\d+) y=(\d+)\s*value=(-?[\d.]+(?:e[+-]?\d+)?)/.exec(t)).find((m) => m !== null) ?? null;
  }
  assert.ok(label, `a hover label with x, y and value: ${text}`);
  const [x, y, value] = [Number(label[1]), Number(label[2]), Number(label[3])];
  assert.ok(value > 0.2, `a bright point of the map was hovered: ${text}`);
  const z = await page.evaluate(dataOf(0, `(() => { const m = d[1]; return m.z[Math.round((${y} - m.y0) / m.dy)][Math.round((${x} - m.x0) / m.dx)]; })()`)) as number;
  assert.ok(Math.abs(z - value) <= 5e-4 * Math.max(1, Math.abs(z)), `hover says ${value}, the map holds ${z} there`);
  await page.mouse.move(1, 1);

  assert.equal(await page.evaluate(dataOf(0, 'd[1].opacity')), 0.5, 'the overlay starts at opacity 0.5');
  await slideToEnd(page, 0, 'd[1].opacity === 1');
  const layers = await page.evaluate(dataOf(2, 'd.length - 1')) as number;
  assert.ok(layers >= 2, 'the layer slider has layers to switch');
  await slideToEnd(page, 2, `d[1].visible === false && d[${layers}].visible === true`);

  const classes = figure(page, 3);
  await classes.scrollIntoViewIfNeeded();
  assert.equal(await page.evaluate(dataOf(3, 'd[1].visible !== false && d[2].visible === false')), true, 'first class shown first');
  await classes.locator('.updatemenu-header').first().click();
  await classes.locator('.updatemenu-dropdown-button').nth(1).click();
  await page.waitForFunction(dataOf(3, 'd[1].visible === false && d[2].visible === true'), undefined, { timeout: 10_000 });
  return text;
}

/** Outputs of a saved notebook that carry the plotly.js embed. */
export function embedsIn(nb: Notebook): number {
  return nb.cells.flatMap((c) => c.outputs ?? [])
    .filter((o) => JSON.stringify(o.data?.['text/html'] ?? '').includes('data-tslab-cam-plotly')).length;
}

/**
 * The browser tests of one frontend: tutorial 03 run through the UI with jupyterlab-plotly (the plotly
 * MIME type wins), run again with it disabled (our text/html draws with the embedded plotly.js),
 * each reloaded from the saved file, then the saved notebook reopened untrusted (the static route).
 */
export function frontendTests(app: 'lab' | 'notebook', label: string): void {
  const slug = app === 'lab' ? 'jupyterlab' : 'notebook7';
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
    for (const dir of folders.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`${label} with jupyterlab-plotly: every figure through the plotly MIME renderer, hover, sliders, dropdown, LaTeX, no errors`, { skip }, async (t) => {
    const server = await startServer(app, tutorialFolder(), 'mime', true);
    try {
      const { page, problems } = await openTutorial(browser, server);
      await runAllCells(page);
      // Our bundles store the PNG once, inside text/html, and send no image/png, so the renderer has
      // no placeholder image: it draws the interactive figure (some versions wait for the mouse).
      const first = await pageFacts(page);
      assert.equal(first.mimeRendered, FIGURES, 'the plotly MIME type is the one shown');
      assert.equal(first.htmlFigures, 0, 'our text/html is not shown when the plotly renderer is there');
      assert.equal(first.pngShown, 0, 'no image/png in the bundle, so no PNG placeholder');
      await wakeMimeFigures(page);
      const facts = await pageFacts(page);
      t.diagnostic(`${label}, MIME route, first run: ${JSON.stringify(facts)}`);
      assert.equal(facts.plots, FIGURES, 'plotly drew every figure');
      assert.ok(facts.mathMarkdown > 0 && facts.mathOutputs > 0, 'MathJax typeset the markdown and the identity tables');
      assert.equal(facts.errorOutputs, 0);
      assert.ok(facts.embeds <= 1, 'plotly.js embedded at most once');
      const hover = await checkInteractions(page);
      t.diagnostic(`hover text: ${hover}`);
      await page.screenshot({ path: path.join(SHOTS, `${slug}-plotly-mime.png`) });
      const saved = await saveNotebook(page, server);
      assert.equal(embedsIn(saved), 1, 'the saved notebook holds one plotly.js embed');

      // A page reload reads the saved notebook back; the renderer shows every figure's PNG again.
      await page.reload();
      await page.waitForSelector('.jp-OutputArea .jp-RenderedPlotly', { timeout: 60_000 });
      await page.waitForFunction(`document.querySelectorAll('.jp-OutputArea .jp-RenderedPlotly').length === ${FIGURES}`, undefined, { timeout: 30_000 });
      const reloaded = await pageFacts(page);
      t.diagnostic(`${label}, MIME route, after reload: ${JSON.stringify(reloaded)}`);
      assert.equal(reloaded.pngShown + reloaded.plots, FIGURES, 'every figure shows: its saved PNG, or drawn');
      await wakeMimeFigures(page);
      assert.equal((await pageFacts(page)).plots, FIGURES, 'and each becomes interactive under the mouse');
      assert.deepEqual(problems, []);
      await page.context().close();
    } finally {
      await server.stop();
    }
  });

  test(`${label} without the plotly renderer: our text/html draws every figure with the embedded plotly.js, hover and controls work`, { skip }, async (t) => {
    const folder = tutorialFolder();
    const server = await startServer(app, folder, 'html', false);
    try {
      const { page, problems } = await openTutorial(browser, server);
      await runAllCells(page);
      await page.waitForFunction(`document.querySelectorAll('.jp-OutputArea .tslab-cam-figure[data-drawn] .plot-container').length === ${FIGURES}`,
        undefined, { timeout: 60_000 });
      const facts = await pageFacts(page);
      t.diagnostic(`${label}, text/html route, first run: ${JSON.stringify(facts)}`);
      assert.equal(facts.mimeRendered, 0, 'the plotly renderer is disabled');
      assert.deepEqual([facts.htmlFigures, facts.htmlDrawn, facts.plots], [FIGURES, FIGURES, FIGURES]);
      assert.equal(facts.pngShown, 0, 'each PNG is removed once plotly drew');
      assert.ok(facts.mathMarkdown > 0 && facts.mathOutputs > 0, 'MathJax typeset the markdown and the identity tables');
      assert.equal(facts.errorOutputs, 0);
      assert.equal(facts.embeds, 1, 'plotly.js embedded exactly once');
      assert.equal(facts.windowPlotly, true);
      const hover = await checkInteractions(page);
      t.diagnostic(`hover text: ${hover}`);
      await page.screenshot({ path: path.join(SHOTS, `${slug}-text-html.png`) });
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
      t.diagnostic(`${label}, text/html route, after reload: ${JSON.stringify(reloaded)}`);
      assert.equal(reloaded.embeds, 1);
      assert.deepEqual(problems, []);
      await page.context().close();
    } finally {
      await server.stop();
    }
  });

  test(`${label}, the saved notebook reopened untrusted without running: every figure shows (its PNG, or the plotly extension's drawing) and none of our scripts runs`, { skip }, async (t) => {
    assert.ok(savedByHtmlRoute, 'the text/html test saved its notebook');
    // A server with fresh Jupyter folders has never signed this notebook: it opens untrusted.
    for (const [name, plotlyRenderer] of [['untrusted-html', false], ['untrusted-mime', true]] as const) {
      const server = await startServer(app, savedByHtmlRoute, name, plotlyRenderer);
      try {
        const { page, problems } = await openTutorial(browser, server);
        await page.waitForFunction(`document.querySelectorAll('.jp-OutputArea img.tslab-cam-fallback, .jp-OutputArea .jp-RenderedPlotly img.plot-img, .jp-OutputArea .jp-RenderedPlotly .js-plotly-plot').length >= ${FIGURES}`,
          undefined, { timeout: 60_000 });
        await page.waitForTimeout(2000); // time for any script (there must be none) to run
        const facts = await pageFacts(page);
        t.diagnostic(`${label}, reopened untrusted, plotly renderer ${plotlyRenderer ? 'on' : 'off'}: ${JSON.stringify(facts)}`);
        if (plotlyRenderer) {
          // The plotly extension is a safe renderer: it draws from the plotly JSON even untrusted; none of our scripts run.
          assert.deepEqual([facts.mimeRendered, facts.plots, facts.htmlDrawn, facts.embeds], [FIGURES, FIGURES, 0, 0], 'drawn by the extension, our scripts not run');
        } else {
          assert.equal(facts.pngShown, FIGURES, 'every figure shows its PNG');
          assert.deepEqual([facts.plots, facts.htmlDrawn, facts.embeds, facts.windowPlotly], [0, 0, 0, false], 'no script ran');
          assert.equal(facts.htmlFigures, FIGURES, 'the sanitised text/html keeps the figure host and its data: PNG');
        }
        const prompts = await page.evaluate(`Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')).map((e) => e.textContent)`) as string[];
        assert.ok(prompts.every((p) => !p.includes('*')), 'no cell is running');
        if (!plotlyRenderer) await page.screenshot({ path: path.join(SHOTS, `${slug}-untrusted.png`) });
        assert.deepEqual(problems, []);
        await page.context().close();
      } finally {
        await server.stop();
      }
    }
  });

  test(`${label}, the saved notebook signed with \`jupyter trust\` and reopened without running: every figure draws`, { skip }, async (t) => {
    assert.ok(savedByHtmlRoute, 'the text/html test saved its notebook');
    const server = await startServer(app, savedByHtmlRoute, 'trusted-by-cli', false, true);
    try {
      const { page, problems } = await openTutorial(browser, server);
      await page.waitForFunction(`document.querySelectorAll('.jp-OutputArea .tslab-cam-figure[data-drawn] .plot-container').length === ${FIGURES}`,
        undefined, { timeout: 60_000 });
      const facts = await pageFacts(page);
      t.diagnostic(`${label}, reopened after jupyter trust: ${JSON.stringify(facts)}`);
      assert.deepEqual([facts.htmlDrawn, facts.pngShown, facts.embeds, facts.windowPlotly], [FIGURES, 0, 1, true]);
      assert.deepEqual(problems, []);
      await page.context().close();
    } finally {
      await server.stop();
    }
  });
}
