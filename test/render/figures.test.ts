import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { loadImage } from '@napi-rs/canvas';
import * as fs from 'fs';
import { colormap, colormapTable, plotlyColorscale } from '../../src/render/colormap';
import { escapeHtml, jsonForScript } from '../../src/render/escape';
import { guidedDisplay, range, resizeBilinear, type Figure } from '../../src/render/spec';
import {
  barsFigure, classDropdownFigure, comparisonFigure, featureMapsFigure, galleryFigure, guidedFigure, heatmapFigure, imageFigure,
  classLabel, layerSliderFigure, orderByWeight, overlayFigure, resultFeatureMapsFigure,
} from '../../src/render/figures';
import { fitText, renderScenePng, sceneSize } from '../../src/render/png';
import { syntheticExample } from '../../src/render/synthetic';
import { EVIL, evilExample } from './fixtures';

const PLOTLY_JS = fs.readFileSync(require.resolve('plotly.js-cartesian-dist-min/plotly-cartesian.min.js'), 'utf8');

function allFigures(): Record<string, Figure> {
  const ex = evilExample();
  const other = syntheticExample({ size: 32, layerSize: 4, channels: 6, classIndex: 7, className: 'dog', seed: 5 });
  const deep = syntheticExample({ size: 32, layerSize: 8, channels: 6, layer: 'mid', seed: 1 });
  return {
    heatmap: heatmapFigure(ex.cam.raw, { title: EVIL }),
    overlay: overlayFigure(ex.gradCam),
    overlayInput: overlayFigure(ex.cam, { resolution: 'input', colormap: 'jet' }),
    classes: classDropdownFigure([ex.gradCam, other.gradCam]),
    layers: layerSliderFigure([ex.gradCam, deep.gradCam]),
    featureMapsW: resultFeatureMapsFigure(ex.cam, { count: 4 }),
    featureMapsAlpha: resultFeatureMapsFigure(ex.gradCam),
    comparison: comparisonFigure(ex),
    guided: guidedFigure(ex.guided),
    guidedGradCam: guidedFigure(ex.guidedGradCam),
    image: imageFigure(ex.input),
    bars: barsFigure([1, NaN, 3], { labels: ['a', EVIL, 'c'] }),
  };
}

test('colour maps: ends, monotone lookup table, plotly scale with the same anchors', () => {
  assert.deepEqual(colormap('viridis', 0), [0x44, 0x01, 0x54]);
  assert.deepEqual(colormap('viridis', 1), [0xfd, 0xe7, 0x25]);
  assert.deepEqual(colormap('jet', 0), [0, 0, 0x7f]);
  assert.deepEqual(colormap('jet', 1), [0x7f, 0, 0]);
  assert.deepEqual(colormap('jet', NaN), colormap('jet', 0));
  assert.deepEqual(colormap('gray', 2), [255, 255, 255]);
  assert.equal(colormapTable('viridis').length, 768);
  const scale = plotlyColorscale('jet');
  assert.equal(scale[0][0], 0);
  assert.equal(scale[scale.length - 1][0], 1);
  assert.equal(scale[0][1], 'rgb(0,0,127)');
});

test('escaping: HTML text and JSON inside <script>', () => {
  const e = escapeHtml(EVIL);
  assert.ok(!/[<>"'\u2028]/.test(e));
  const j = jsonForScript({ s: EVIL, n: NaN, i: -Infinity });
  assert.ok(!j.includes('</'), 'no end tags in script JSON');
  assert.ok(!/[<>\u2028\u2029]/.test(j));
  assert.deepEqual(JSON.parse(j), { s: EVIL, n: null, i: null });
});

test('every figure: valid plotly JSON, traces plotly-cartesian has, user strings escaped, no NaN', () => {
  for (const [name, fig] of Object.entries(allFigures())) {
    const json = JSON.stringify(fig.plotly);
    const back = JSON.parse(json) as { data: { type: string }[]; layout: object };
    assert.ok(back.data.length > 0, name);
    for (const tr of back.data) assert.ok(PLOTLY_JS.includes(`moduleType:"trace",name:"${tr.type}"`), `${name}: ${tr.type} in bundle`);
    assert.ok(!json.includes('<script'), `${name}: raw <script> in plotly text`);
    assert.ok(!json.includes('<img'), `${name}: raw <img> in plotly text`);
    assert.ok(!json.includes('\u2028'), `${name}: raw U+2028`);
    assert.ok(!/NaN|Infinity/.test(json), `${name}: NaN`);
    assert.equal(typeof fig.summary, 'string');
    assert.ok(!fig.summary.includes('\n'), `${name}: one-line summary`);
  }
});

test('PNG fallback of every figure decodes at the scene size', async () => {
  for (const [name, fig] of Object.entries(allFigures())) {
    const png = renderScenePng(fig.scene);
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], name);
    const img = await loadImage(png);
    const size = sceneSize(fig.scene);
    assert.equal(img.width, size.width, name);
    assert.equal(img.height, size.height, name);
  }
});

test('overlay: layer-resolution heatmap laid over the input pixel grid, opacity slider on it', () => {
  const ex = syntheticExample({ size: 224, layerSize: 7 });
  const fig = overlayFigure(ex.gradCam, { opacity: 0.3 });
  const [img, heat] = fig.plotly.data;
  assert.equal(img.type, 'image');
  assert.match(String(img.source), /^data:image\/jpeg;base64,/);
  assert.equal(heat.type, 'heatmap');
  assert.equal(heat.dx, 32);
  assert.equal(heat.x0, 15.5);
  assert.equal((heat.z as number[][]).length, 7);
  assert.equal(heat.opacity, 0.3);
  assert.match(String(heat.hovertemplate), /x=%\{x.*y=%\{y.*value=%\{z/);
  const slider = (fig.plotly.layout.sliders as { steps: { args: unknown[] }[]; active: number }[])[0];
  assert.equal(slider.steps.length, 11);
  assert.equal(slider.active, 3);
  assert.deepEqual(slider.steps[10].args, [{ opacity: 1 }, [1]]);
  const exact = overlayFigure(ex.gradCam, { resolution: 'input' });
  assert.equal((exact.plotly.data[1].z as number[][]).length, 224);
  const small = overlayFigure(syntheticExample({ size: 28, layerSize: 7 }).cam);
  assert.match(String(small.plotly.data[0].source), /^data:image\/png;base64,/);
});

test('class dropdown and layer slider switch visibility of one map per result', () => {
  const a = syntheticExample({ size: 32, layerSize: 4, classIndex: 1 });
  const b = syntheticExample({ size: 32, layerSize: 4, classIndex: 2, className: 'cat' });
  const c = syntheticExample({ size: 32, layerSize: 8, classIndex: 1, layer: 'mid' });
  const classes = classDropdownFigure([a.gradCam, b.gradCam]);
  assert.equal(classes.plotly.data.length, 3);
  assert.equal(classes.plotly.data[2].visible, false);
  const menu = (classes.plotly.layout.updatemenus as { buttons: { label: string; args: { visible: boolean[] }[] }[] }[])[0];
  assert.deepEqual(menu.buttons.map((x) => x.args[0].visible), [[true, true, false], [true, false, true]]);
  assert.match(menu.buttons[1].label, /class 2 \(cat\)/);
  const layers = layerSliderFigure([a.gradCam, c.gradCam]);
  const steps = (layers.plotly.layout.sliders as { steps: { label: string }[] }[])[0].steps;
  assert.deepEqual(steps.map((s) => s.label), ['conv_last (4×4)', 'mid (8×8)']);
  assert.equal(layers.plotly.data[2].dx, 4);
  assert.throws(() => classDropdownFigure([]), /no results/);
});

test('feature maps ordered by weight, with a bar chart of all weights', () => {
  const f = { data: new Float32Array(2 * 2 * 3).map((_, i) => i), shape: [2, 2, 3] };
  const fig = featureMapsFigure(f, [0.1, 0.9, -0.5], 'w', { count: 2 });
  assert.deepEqual(fig.plotly.data[0].customdata, [1, 0, 2]);
  assert.deepEqual(fig.plotly.data[0].y, [0.9, 0.1, -0.5]);
  assert.equal(fig.plotly.data.length, 3);
  assert.deepEqual(fig.plotly.data[1].z, [[1, 4], [7, 10]]);
  assert.deepEqual(orderByWeight([1, 3, 3, 2]), [1, 2, 3, 0]);
  assert.throws(() => featureMapsFigure(f, [1, 2], 'w'), /2 weights for 3/);
  const gap = resultFeatureMapsFigure({ ...syntheticExample({ size: 16, layerSize: 4 }).cam, method: 'gap', hasGapHead: true } as never);
  assert.match(gap.title, /F_k/);
});

test('comparison row holds the five panels in the paper order', () => {
  const ex = syntheticExample({ size: 32, layerSize: 4 });
  const fig = comparisonFigure(ex);
  assert.deepEqual(fig.scene.panels.map((p) => p.title), ['input', 'CAM', 'Grad-CAM', 'Guided Backprop', 'Guided Grad-CAM']);
  assert.equal(fig.plotly.data.filter((d) => d.type === 'heatmap').length, 2);
  const partial = comparisonFigure({ gradCam: ex.gradCam });
  assert.deepEqual(partial.scene.panels.map((p) => p.title), ['input', 'Grad-CAM']);
});

test('guided images: zero gradient is mid-grey, one standard deviation is ±0.1', () => {
  const g = guidedDisplay({ data: Float32Array.from([-1, 1, -1, 1]), shape: [2, 2, 1] });
  assert.ok(Math.abs(g.data[0] - 0.4) < 1e-4 && Math.abs(g.data[1] - 0.6) < 1e-4);
  const z = guidedDisplay({ data: new Float32Array(4), shape: [2, 2, 1] });
  assert.deepEqual([...z.data], [0.5, 0.5, 0.5, 0.5]);
});

test('bilinear resize keeps constants and corners, heatmap ranges ignore NaN', () => {
  const c = resizeBilinear({ data: new Float32Array(4).fill(2), shape: [2, 2] }, 5, 7);
  assert.ok(c.data.every((v) => Math.abs(v - 2) < 1e-6));
  const r = resizeBilinear({ data: Float32Array.from([0, 1, 2, 3]), shape: [2, 2] }, 4, 4);
  assert.equal(r.data[0], 0);
  assert.equal(r.data[15], 3);
  assert.deepEqual(range([NaN, 1, -2, Infinity]), { min: -2, max: 1 });
  const fig = heatmapFigure({ data: Float32Array.from([NaN, 1, 2, 3]), shape: [2, 2] });
  assert.equal((fig.plotly.data[0].z as (number | null)[][])[0][0], null);
});

test('gallery: one panel per image, maps over their own input, limited to `limit` images', () => {
  const list = [1, 2, 3].map((seed) => syntheticExample({ size: 24, layerSize: 3, seed, className: EVIL }).gradCam);
  const fig = galleryFigure(list, { limit: 2, columns: 2 });
  assert.equal(fig.scene.panels.length, 2);
  assert.equal(fig.plotly.data.filter((d) => d.type === 'image').length, 2);
  assert.equal(fig.plotly.data.filter((d) => d.type === 'heatmap').length, 2);
  assert.match(fig.title, /3 images .*first 2/);
  assert.ok(!JSON.stringify(fig.plotly).includes('<script'));
  const guided = galleryFigure([syntheticExample({ size: 24, layerSize: 3 }).guided]);
  assert.equal(guided.plotly.data.length, 1);
});

test('heatmap and overlay carry a colour-scale menu (viridis, jet, gray) that restyles their map', () => {
  const ex = syntheticExample({ size: 32, layerSize: 4 });
  for (const [fig, idx] of [[heatmapFigure(ex.cam.raw, { colormap: 'jet' }), 0], [overlayFigure(ex.cam), 1]] as const) {
    const menu = (fig.plotly.layout.updatemenus as { buttons: { label: string; args: [{ colorscale: unknown[] }, number[]] }[]; active: number }[])[0];
    assert.deepEqual(menu.buttons.map((b) => b.label), ['viridis', 'jet', 'gray']);
    assert.deepEqual(menu.buttons[1].args, [{ colorscale: [plotlyColorscale('jet')] }, [idx]]);
    assert.equal(menu.active, fig.kind === 'heatmap' ? 1 : 0);
  }
});

test('static titles are cut with an ellipsis, never squeezed', () => {
  const measure = (s: string) => s.length * 7;
  assert.equal(fitText(measure, 'short', 100), 'short');
  const cut = fitText(measure, 'a'.repeat(50), 70);
  assert.equal(cut, 'a'.repeat(9) + '…');
  assert.ok(measure(cut) <= 70);
});

test('class labels: the name in brackets only when it says more than the index', () => {
  assert.equal(classLabel({ classIndex: 3, className: '3' }), 'class 3');
  assert.equal(classLabel({ classIndex: 3, className: 'cat' }), 'class 3 (cat)');
  assert.equal(classLabel({ classIndex: 3, className: '' }), 'class 3');
  assert.equal(classLabel({ classIndex: 3 }), 'class 3');
});

test('bar charts title both axes: channels for F_k, classes for S_c', () => {
  const axes = (valueName: string): [unknown, unknown] => {
    const layout = barsFigure([1, 2, 3], { valueName }).plotly.layout as { xaxis: { title: { text: string } }; yaxis: { title: { text: string } } };
    return [layout.xaxis.title.text, layout.yaxis.title.text];
  };
  assert.deepEqual(axes('F_k'), ['channel k', 'F_k']);
  assert.deepEqual(axes('S_c'), ['class c', 'S_c']);
  assert.deepEqual(axes('loss'), ['index', 'loss']);
});

test('input images hover with their pixel; titles start below the toolbar row', () => {
  const ex = syntheticExample({ size: 64, layerSize: 8, channels: 4 });
  const fig = overlayFigure(ex.gradCam);
  const image = (fig.plotly.data as Array<{ type: string; hovertemplate?: string }>).find((d) => d.type === 'image');
  assert.match(image?.hovertemplate ?? '', /RGB %\{color\[0\]\}, %\{color\[1\]\}, %\{color\[2\]\}/);
  const layout = fig.plotly.layout as { hovermode: string; height: number; title: { y: number } };
  assert.equal(layout.hovermode, 'x');
  assert.equal(Math.round((1 - layout.title.y) * layout.height), 34);
});
