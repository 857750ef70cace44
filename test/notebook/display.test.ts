import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as util from 'util';
import { loadImage } from '@napi-rs/canvas';
import { TslabCamError } from '../../src/errors';
import { syntheticExample } from '../../src/render/synthetic';
import { heatmapFigure, overlayFigure } from '../../src/render/figures';
import { sceneSize } from '../../src/render/png';
import {
  PLOTLY_MIME, displayable, displayableResult, displayableResults, identityChecksBundle, loadPlotly, markPlotlyEmbedded, overlay, pageHtml, registerRenderer,
  saveHtml, savePng, setDisplayOptions, show, toBundle, useDisplayWriter, withDisplay, type DisplayContent,
} from '../../src/notebook';
import { EVIL, evilExample } from '../render/fixtures';
import { outputBytes, photoOverlayFigure } from '../../scripts/display-sizes';
import { pinkNoiseImage } from '../../scripts/photo-like';

interface Sent { content: DisplayContent; update: boolean }

/** Runs `fn` with a fake kernel writer and a fresh plotly-embed state; returns what was sent. */
function withWriter(fn: () => void): Sent[] {
  const sent: Sent[] = [];
  useDisplayWriter((content, update) => sent.push({ content, update }));
  markPlotlyEmbedded(false);
  try {
    fn();
  } finally {
    useDisplayWriter(undefined);
    markPlotlyEmbedded(false);
  }
  return sent;
}

/** The figure JSON embedded in a bundle's draw script. */
function scriptFigure(html: string): unknown {
  const m = /var fig = (.*);\n {2}function draw/.exec(html);
  assert.ok(m, 'draw script holds the figure');
  return JSON.parse(m[1]);
}

test('a figure bundle: plotly JSON, HTML holding the one PNG of the stated size, text; image/png only on request', async () => {
  const fig = overlayFigure(syntheticExample({ size: 64, layerSize: 8 }).gradCam);
  const b = toBundle(fig);
  assert.deepEqual(Object.keys(b.data).sort(), [PLOTLY_MIME, 'text/html', 'text/plain'].sort());
  assert.deepEqual(b.metadata, {});
  const plotly = b.data[PLOTLY_MIME]!;
  assert.deepEqual(JSON.parse(JSON.stringify(plotly)), plotly);
  assert.ok(Array.isArray(plotly.data) && typeof plotly.layout === 'object');
  assert.deepEqual(scriptFigure(b.data['text/html']!), plotly);
  const uri = /<img class="tslab-cam-fallback"[^>]* width="(\d+)" height="(\d+)" src="data:image\/png;base64,([^"]+)"/.exec(b.data['text/html']!);
  assert.ok(uri, 'the HTML carries the PNG');
  const img = await loadImage(Buffer.from(uri[3], 'base64'));
  assert.deepEqual({ width: img.width, height: img.height }, sceneSize(fig.scene));
  assert.deepEqual([Number(uri[1]), Number(uri[2])], [img.width, img.height]);
  assert.equal(b.data['text/plain'], fig.summary);
  const withPng = toBundle(fig, { pngMime: true });
  assert.deepEqual(Object.keys(withPng.data).sort(), [PLOTLY_MIME, 'image/png', 'text/html', 'text/plain'].sort());
  assert.equal(withPng.data['image/png'], uri[3], 'the same PNG');
  assert.deepEqual(withPng.metadata['image/png'], { width: img.width, height: img.height });
});

test('user strings are escaped everywhere in the HTML, including the JSON inside <script>', () => {
  const ex = evilExample();
  for (const value of [ex.cam, ex.gradCam, ex.guided, ex, [ex.gradCam, ex.cam], heatmapFigure(ex.cam.raw, { title: EVIL })]) {
    const html = toBundle(value).data['text/html']!;
    assert.ok(!html.includes('alert(1)</script>'), 'no injected script');
    assert.ok(!html.includes('<img src=x'), 'no injected img');
    assert.ok(!html.includes('\u2028'), 'no raw U+2028');
    assert.equal(html.split('</script>').length - 1, 1, 'exactly our one script element ends');
    assert.equal(html.split('<script').length - 1, 1, 'exactly our one script element starts');
    const fig = scriptFigure(html) as { layout: { title: { text: string } } };
    assert.ok(fig.layout.title.text.includes('&lt;/script&gt;'), 'plotly text holds entities, not tags');
  }
  const table = identityChecksBundle([{ id: 1, name: EVIL, latex: EVIL, lhs: 1, rhs: 1, diff: 0, relDiff: 0, tolerance: 1e-5, pass: true }]);
  assert.ok(!table.data['text/html']!.includes('<script>'));
  assert.match(table.data['text/plain'], /1 pass, 0 fail, 0 skipped/);
});

test('NaN in a map becomes null in the plotly MIME type', () => {
  const b = toBundle(heatmapFigure({ data: Float32Array.from([NaN, 1, 2, Infinity]), shape: [2, 2] }));
  const z = (b.data[PLOTLY_MIME]!.data[0].z) as (number | null)[][];
  assert.deepEqual(z, [[null, 1], [2, null]]);
});

test('show(): plotly.js goes out once per session, before the first figure; embed can be skipped', () => {
  const ex = syntheticExample({ size: 32, layerSize: 4 });
  const sent = withWriter(() => {
    show(ex.gradCam);
    show(ex.cam);
    show([ex.gradCam]);
  });
  assert.equal(sent.length, 4);
  assert.match(String(sent[0].content.data['text/html']), /^<script[^>]*data-tslab-cam-plotly/);
  assert.ok(String(sent[0].content.data['text/html']).includes('window.Plotly = Plotly'));
  assert.ok(sent.slice(1).every((s) => typeof s.content.data[PLOTLY_MIME] === 'object' && !s.update));
  const plotlyScripts = sent.filter((s) => String(s.content.data['text/html']).includes('data-tslab-cam-plotly'));
  assert.equal(plotlyScripts.length, 1);

  setDisplayOptions({ embedPlotly: false, plotlyMime: false });
  try {
    const skipped = withWriter(() => show(ex.gradCam));
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0].content.data[PLOTLY_MIME], undefined);
    // Loading plotly.js by hand afterwards: once, unless forced.
    const loaded = withWriter(() => {
      show(ex.gradCam);
      assert.equal(loadPlotly(), 'bundle');
      assert.equal(loadPlotly(), 'none');
      assert.equal(loadPlotly(true), 'bundle');
    });
    assert.equal(loaded.filter((s) => String(s.content.data['text/html']).includes('data-tslab-cam-plotly')).length, 2);
  } finally {
    setDisplayOptions({ embedPlotly: true, plotlyMime: true });
  }
  // Outside a kernel show() prints the summary line.
  const writes: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (writes.push(s), true)) as typeof process.stdout.write;
  try {
    show(ex.cam);
  } finally {
    process.stdout.write = orig;
  }
  assert.match(writes.join(''), /^CAM · class 3 · layer conv_last/);
});

test('registry: user renderers win, can be removed; unknown values say how to register', () => {
  class Point { constructor(readonly x: number, readonly y: number) {} }
  const remove = registerRenderer((v): v is Point => v instanceof Point,
    (p) => ({ data: { 'text/plain': `point ${p.x},${p.y}`, 'text/html': `<b>${p.x}</b>` }, metadata: {} }), 'point');
  assert.equal(toBundle(new Point(1, 2)).data['text/plain'], 'point 1,2');
  const sent = withWriter(() => show(new Point(3, 4)));
  assert.equal(sent.length, 1, 'no plotly.js for a non-plotly bundle');
  remove();
  assert.throws(() => toBundle(new Point(1, 2)), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && /registerRenderer/.test(e.message));
  const override = registerRenderer((v): v is { method: string } => typeof v === 'object' && v !== null && (v as { method?: string }).method === 'cam',
    () => ({ data: { 'text/plain': 'mine' }, metadata: {} }));
  try {
    assert.equal(toBundle(syntheticExample({ size: 16, layerSize: 4 }).cam).data['text/plain'], 'mine');
  } finally {
    override();
  }
});

test('tensors render by shape: maps as heatmaps, images as images', () => {
  const tensor = (shape: number[]) => ({ shape, dtype: 'float32', dataSync: () => new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => i % 7) });
  const map = toBundle(tensor([5, 6]));
  assert.equal(map.data[PLOTLY_MIME]!.data[0].type, 'heatmap');
  const img = toBundle(tensor([1, 8, 8, 3]));
  assert.equal(img.data[PLOTLY_MIME]!.data[0].type, 'image');
  const gray = toBundle(tensor([8, 8, 1]));
  assert.equal(gray.data[PLOTLY_MIME]!.data[0].type, 'heatmap');
  const batch = toBundle(tensor([3, 8, 8, 3]));
  assert.equal(batch.data[PLOTLY_MIME]!.data.filter((d) => d.type === 'image').length, 3);
  assert.match(batch.data['text/plain'], /^3 images 8×8×3/);
  const fmaps = toBundle(tensor([4, 4, 5]));
  assert.equal(fmaps.data[PLOTLY_MIME]!.data[0].type, 'bar');
});

test('inspect hook: a result as a cell\'s last expression displays itself and prints one line', () => {
  const ex = syntheticExample({ size: 32, layerSize: 4 });
  const cam = displayableResult(ex.cam);
  let printed = '';
  const sent = withWriter(() => {
    printed = util.inspect(cam);
  });
  assert.equal(printed, 'CAM · class 3 · layer conv_last: map 4×4 → 32×32, S_c=' + Number(ex.cam.S.toPrecision(4)));
  assert.equal(sent.length, 2, 'plotly.js then the figure');
  // Nested in another value, or outside a kernel: only the line.
  const nested = withWriter(() => {
    printed = util.inspect({ result: cam });
  });
  assert.equal(nested.length, 0);
  assert.match(printed, /result: CAM · class 3/);
  assert.ok(!util.inspect(cam).includes('Float32Array'));
  const fig = overlay(ex.gradCam);
  assert.equal(util.inspect(fig), fig.summary);
  const frozen = displayable(Object.freeze({ ...ex.cam }), () => 'frozen');
  assert.equal(util.inspect(frozen), 'frozen');
});

test('outside a kernel the bundle is data: standalone .html (plotly inlined) and .png files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-'));
  const ex = syntheticExample({ size: 32, layerSize: 4 });
  const html = saveHtml(ex.gradCam, path.join(dir, 'a.html'));
  const page = fs.readFileSync(html, 'utf8');
  assert.match(page, /^<!DOCTYPE html>/);
  assert.ok(page.includes('window.Plotly = Plotly'));
  assert.ok(!pageHtml(ex.gradCam, { embedPlotly: false }).includes('window.Plotly = Plotly'));
  const png = savePng(ex.gradCam, path.join(dir, 'a.png'));
  const img = await loadImage(fs.readFileSync(png));
  assert.ok(img.width > 100);
  fs.rmSync(dir, { recursive: true });
});

test('lists of results: top-k classes → dropdown, layers → slider, a batch of images → gallery', () => {
  const a = syntheticExample({ size: 32, layerSize: 4, classIndex: 1 });
  const b = syntheticExample({ size: 32, layerSize: 4, classIndex: 2 });
  const other = syntheticExample({ size: 32, layerSize: 4, classIndex: 2, seed: 9 });
  const mid = syntheticExample({ size: 32, layerSize: 8, classIndex: 1, layer: 'mid' });
  const kind = (v: unknown) => String(toBundle(v).data['text/plain']);
  const scores = Float32Array.from([0, 5, 4, 1]);
  assert.match(kind([{ ...a.gradCam, scores }, { ...b.gradCam, input: a.gradCam.input, scores }]), /top-2 classes/);
  // Chosen classes that are not the top ones are named, not called "top-2".
  const low = Float32Array.from([9, 5, 4, 1]);
  assert.match(kind([{ ...a.gradCam, scores: low }, { ...b.gradCam, input: a.gradCam.input, scores: low }]), /· class 1, class 2 ·/);
  assert.match(kind([a.gradCam, { ...mid.gradCam, input: a.gradCam.input }]), /2 layers/);
  assert.match(kind([a.gradCam, other.gradCam]), /Grad-CAM · 2 images/);
  assert.match(kind([a.guided, other.guided]), /Guided Backprop · 2 images/);
  const list = displayableResults([a.cam, other.cam]);
  let printed = '';
  const sent = withWriter(() => {
    printed = util.inspect(list);
  });
  assert.equal(printed, '2 CAM results: class 1, class 2 · layer conv_last');
  assert.equal(sent.length, 2);
  assert.equal(util.inspect(list[0]).startsWith('CAM · class 1'), true);
});

test('kernel detection: the writer is found in the module cache; without it tslab display.raw sends HTML only', () => {
  const g = globalThis as { __tslab__?: unknown };
  const fakeId = path.join(os.tmpdir(), 'node_modules', 'tslab', 'dist', 'jupyter.js');
  const sent: DisplayContent[] = [];
  const mod = { id: fakeId, filename: fakeId, loaded: true, exports: { lastWriteDisplayData: (c: DisplayContent) => sent.push(c) } };
  const raws: [string, string][] = [];
  g.__tslab__ = { require: (id: string) => (id === 'tslab' ? { display: { raw: (m: string, d: string) => raws.push([m, d]) } } : undefined) };
  markPlotlyEmbedded(false);
  try {
    require.cache[fakeId] = mod as unknown as NodeJS.Module;
    show(syntheticExample({ size: 16, layerSize: 4 }).cam);
    assert.equal(sent.length, 2, 'embed + bundle through the cached writer');
    assert.equal(typeof sent[1].data[PLOTLY_MIME], 'object');
    delete require.cache[fakeId];
    markPlotlyEmbedded(false);
    show(syntheticExample({ size: 16, layerSize: 4 }).cam);
    assert.deepEqual(raws.map((r) => r[0]), ['text/html', 'text/html'], 'embed + figure as single-MIME HTML');
    assert.match(raws[1][1], /tslab-cam-fallback/);
  } finally {
    delete require.cache[fakeId];
    delete g.__tslab__;
    markPlotlyEmbedded(false);
  }
});

test('withDisplay: wrapped functions return values that display themselves; types and generics kept', async () => {
  const ex = syntheticExample({ size: 16, layerSize: 4 });
  const one = withDisplay((s: number) => ({ ...ex.gradCam, S: s }));
  const generic = withDisplay(<M extends 'cam' | 'gradCam'>(m: M): Array<M extends 'cam' ? typeof ex.cam : typeof ex.gradCam> =>
    [m === 'cam' ? ex.cam : ex.gradCam] as never);
  const checks = withDisplay(async () => [{ id: 2, name: 'alpha', latex: 'a', lhs: 1, rhs: 1, diff: 0, relDiff: 0, tolerance: 1, pass: true }]);
  const plain = withDisplay(() => 42);
  const typed: 'cam' = generic('cam')[0].method; // compile-time: the generic survived
  assert.equal(typed, 'cam');
  assert.equal(plain(), 42);
  let lines: string[] = [];
  const sent = withWriter(() => {
    lines = [util.inspect(one(5)), util.inspect(generic('gradCam'))];
  });
  assert.match(lines[0], /^Grad-CAM · class 3 · layer conv_last: map 4×4 → 16×16, S_c=5$/);
  assert.match(lines[1], /^1 Grad-CAM result: class 3/);
  assert.equal(sent.length, 3, 'plotly.js, then two figures');
  const list = await checks();
  const tableSent = withWriter(() => {
    lines = [util.inspect(list)];
  });
  assert.equal(lines[0], 'identity checks: 1 pass, 0 fail, 0 skipped');
  assert.equal(tableSent.length, 1);
  assert.match(String(tableSent[0].content.data['text/html']), /tslab-cam-checks/);
});

test('size budget: a 224×224 overlay on a photograph-like input takes ≤ 150 KB in a saved notebook', () => {
  const ex = syntheticExample({ size: 224, layerSize: 7 });
  let seed = 7;
  const data = Float32Array.from(ex.input.data, (v, i) => {
    seed = (seed * 16807) % 2147483647;
    return Math.min(1, Math.max(0, v + 0.15 * Math.sin(i * 0.37) * Math.sin((i / 672) * 0.5) + 0.02 * (seed / 2147483647 - 0.5)));
  });
  const b = toBundle(overlayFigure({ ...ex.gradCam, input: { data, shape: ex.input.shape } }));
  // As nbformat writes it: indent 1, an output's lines indented 4 more.
  const json = JSON.stringify({ output_type: 'display_data', data: b.data, metadata: b.metadata }, null, 1);
  const bytes = Buffer.byteLength(json) + 4 * (json.split('\n').length - 1);
  assert.ok(bytes <= 150 * 1024, `${(bytes / 1024).toFixed(1)} KB`);
});

test('a 224×224 overlay over a photograph-like (1/f noise) input takes ≤ 150 KB in a saved notebook, the PNG stored once', () => {
  const image = pinkNoiseImage(224, 7);
  assert.deepEqual(image.shape, [224, 224, 3]);
  assert.deepEqual(pinkNoiseImage(224, 7).data, image.data, 'generated by code, the same every time');
  const mean = image.data.reduce((s, v) => s + v, 0) / image.data.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  const { total, byMime } = outputBytes(toBundle(photoOverlayFigure()));
  assert.ok(total <= 150 * 1024, `${(total / 1024).toFixed(1)} KB`);
  assert.equal(byMime['image/png'], undefined);
  const both = outputBytes(toBundle(photoOverlayFigure(), { pngMime: true }));
  assert.ok(both.total > total + 40 * 1024, 'image/png would be a second copy of the PNG');
});
