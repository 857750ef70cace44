/**
 * The figures of tslab-cam as pure functions of plain results: each returns a Figure holding a
 * plotly spec (interactive view) and a static scene (PNG fallback) drawn from the same numbers.
 * Every user-controlled string (class names, layer names, titles) is HTML-escaped before it goes
 * into plotly text, because plotly interprets a subset of HTML in titles, labels and menus.
 */
import type {
  ExplainResult, GapResult, GuidedBackpropResult, GuidedGradCamResult, MapResult, NDArray, ResultMeta,
} from '../explain/types';
import { methodLabel } from '../explain/registry';
import '../explain/methods';
import { hasInputImage, hasMapForms, isLayerAverages } from '../explain/shapes';
import { TslabCamError } from '../errors';
import { DEFAULT_COLORMAP, plotlyColorscale, type ColormapName } from './colormap';
import { plotlyText } from './escape';
import {
  channel, displayImage, expectRank, guidedDisplay, mapRows, range, roundValue,
  type Figure, type JsonObject, type JsonValue, type StaticPanel,
} from './spec';
import { imageDataUri } from './png';

/** A result with a spatial map (any CAM-style method): it has raw / normalised / upsampled forms. */
export type { MapResult };

/** Options every figure accepts. */
export interface FigureOptions {
  /** Replaces the generated title. */
  title?: string;
  /** Colour scale of maps: 'viridis' (default, perceptual) or 'jet' (as in the Grad-CAM paper). */
  colormap?: ColormapName;
  /** Plotly figure width/height in CSS pixels (the height adapts when omitted). */
  width?: number;
  height?: number;
  /**
   * How input images are embedded in the plotly spec: 'png' (lossless), 'jpeg' (photographs,
   * several times smaller), or 'auto' (JPEG above 64×64 pixels, PNG below). Default 'auto'.
   */
  imageFormat?: 'png' | 'jpeg' | 'auto';
}

export interface OverlayOptions extends FigureOptions {
  /** Initial opacity of the map over the image (0–1, default 0.5); the slider changes it. */
  opacity?: number;
  /**
   * 'layer' (default): the map at the layer's resolution, smoothed bilinearly by plotly over the
   * image — small. 'input': the result's upsampled map value by value — exact but large.
   */
  resolution?: 'layer' | 'input';
}

export interface FeatureMapOptions extends FigureOptions {
  /** How many maps to show as small multiples (default 12), the largest weights first. */
  count?: number;
  /** Columns of the small multiples (default 4). */
  columns?: number;
}

/** Text for plotly (which reads HTML entities and a few tags): user strings are escaped. */
function t(s: string): string {
  return plotlyText(s);
}

/** "class 3 (cat)", or "class 3" when there is no name or the name is the index itself (digits); a target's own label. */
export function classLabel(r: Pick<ResultMeta, 'classIndex' | 'className' | 'target'>): string {
  if (r.target !== undefined) return r.target;
  const named = r.className !== undefined && r.className !== '' && r.className !== String(r.classIndex);
  return named ? `class ${r.classIndex} (${r.className})` : `class ${r.classIndex}`;
}

/** "Grad-CAM · class 3 (cat) · layer conv2" */
export function resultTitle(r: ResultMeta): string {
  return `${methodLabel(r.method)} · ${classLabel(r)} · layer ${r.layer}`;
}

function chooseFormat(image: NDArray, format: FigureOptions['imageFormat']): 'png' | 'jpeg' {
  if (format === 'png' || format === 'jpeg') return format;
  const [H, W] = displayImage(image).shape;
  return H * W > 64 * 64 ? 'jpeg' : 'png';
}

/**
 * Height of plotly's toolbar (modebar) row at the figure's top right, in CSS pixels (measured: 23 px
 * at y 10–33). The title starts below it, so a long title is never covered when the toolbar shows
 * on hover.
 */
const MODEBAR_PX = 34;

function baseLayout(title: string, width: number, height: number): JsonObject {
  return {
    title: { text: t(title), font: { size: 14 }, x: 0.02, xanchor: 'left', y: 1 - MODEBAR_PX / height, yref: 'container', yanchor: 'top' },
    width,
    height,
    margin: { l: 40, r: 20, t: 60, b: 30 },
    paper_bgcolor: '#ffffff',
    plot_bgcolor: '#ffffff',
    // 'x' lists every trace under the pointer: over an overlay, the input's pixel and the map's value.
    hovermode: 'x',
  };
}

const CONFIG: JsonObject = { displaylogo: false, responsive: false };

function imageAxes(suffix: string, domainX: [number, number], domainY: [number, number], anchorX: string): JsonObject {
  return {
    [`xaxis${suffix}`]: {
      domain: domainX, showticklabels: false, ticks: '', showgrid: false, zeroline: false, anchor: `y${suffix}`, constrain: 'domain',
    },
    [`yaxis${suffix}`]: {
      domain: domainY, showticklabels: false, ticks: '', showgrid: false, zeroline: false, anchor: `x${suffix}`,
      autorange: 'reversed', scaleanchor: anchorX, constrain: 'domain',
    },
  };
}

/** A plotly image trace showing `image` (any range) from a data: URI. */
function imageTrace(image: NDArray, format: 'png' | 'jpeg', axis: string, name: string): JsonObject {
  return {
    type: 'image', source: imageDataUri(image, format), x0: 0, y0: 0, dx: 1, dy: 1,
    xaxis: `x${axis}`, yaxis: `y${axis}`, name: t(name),
    // plotly reads the pixel under the pointer from the decoded image (no z array is sent).
    hovertemplate: `${t(name)}<br>x=%{x:.0f} y=%{y:.0f}<br>RGB %{color[0]}, %{color[1]}, %{color[2]}<extra></extra>`,
  };
}

/**
 * A heatmap of an (h, w) map laid over an (H, W) image's pixel grid: each cell spans H/h × W/w
 * pixels, and zsmooth 'best' interpolates bilinearly between cell centres like the upsampling.
 */
function mapOverImageTrace(map: NDArray, H: number, W: number, axis: string, o: {
  colormap: ColormapName; zmin: number; zmax: number; opacity: number; name: string; colorbar: boolean; visible?: boolean;
}): JsonObject {
  const [h, w] = expectRank(map, [2], 'map');
  const dy = H / h;
  const dx = W / w;
  const trace: JsonObject = {
    // Normalised maps in [0, 1]: three significant digits are below what a colour scale can show.
    type: 'heatmap', z: mapRows(map, 3), x0: dx / 2 - 0.5, dx, y0: dy / 2 - 0.5, dy,
    zsmooth: 'best', colorscale: plotlyColorscale(o.colormap), zmin: o.zmin, zmax: o.zmax, opacity: o.opacity,
    xaxis: `x${axis}`, yaxis: `y${axis}`, name: t(o.name), showscale: o.colorbar,
    hovertemplate: `${t(o.name)}<br>x=%{x:.0f} y=%{y:.0f}<br>value=%{z:.4g}<extra></extra>`,
  };
  if (o.colorbar) trace.colorbar = { thickness: 12, len: 0.8 };
  if (o.visible === false) trace.visible = false;
  return trace;
}

function checkMapResult(r: MapResult, where: string): void {
  if (!r || typeof r !== 'object' || !hasMapForms(r)) {
    throw new TslabCamError('BAD_OPTION', `${where} needs map results (CAM, Grad-CAM or another CAM-style method).`,
      'Pass results of cam(...), gradCam(...) or explain(model, x, {method}) with a CAM-style method.');
  }
}

/** The map a figure shows: the [0,1]-normalised map at layer or input resolution. */
function shownMap(r: MapResult, resolution: 'layer' | 'input'): NDArray {
  return resolution === 'input' ? r.upsampled : r.normalized;
}

function peak(map: NDArray): { x: number; y: number; v: number } {
  const [, w] = map.shape;
  let best = 0;
  for (let i = 1; i < map.data.length; i++) if (map.data[i] > map.data[best]) best = i;
  return { x: best % w, y: Math.floor(best / w), v: map.data[best] };
}

/**
 * A map at layer resolution (h, w) as a heatmap: hover shows (x, y, value), colour bar on the
 * right, row 0 at the top as in images.
 */
export function heatmapFigure(map: NDArray, options: FigureOptions & { zmin?: number; zmax?: number } = {}): Figure {
  const [h, w] = expectRank(map, [2], 'map');
  const cmap = options.colormap ?? DEFAULT_COLORMAP;
  const { min, max } = range(map.data);
  const zmin = options.zmin ?? min;
  const zmax = options.zmax ?? max;
  const title = options.title ?? `map ${h}×${w}`;
  const side = Math.max(280, Math.min(440, 30 * Math.max(h, w)));
  const layout = baseLayout(title, options.width ?? side + 120, options.height ?? side + 80);
  layout.xaxis = { showgrid: false, zeroline: false, constrain: 'domain', title: { text: 'x' } };
  layout.yaxis = { showgrid: false, zeroline: false, autorange: 'reversed', scaleanchor: 'x', constrain: 'domain', title: { text: 'y' } };
  layout.updatemenus = [colormapMenu([0], cmap)];
  layout.margin = { l: 40, r: 20, t: 92, b: 40 };
  const p = peak(map);
  return {
    kind: 'heatmap',
    title,
    summary: `${title}: ${h}×${w}, min ${roundValue(min)} max ${roundValue(max)} at (x=${p.x}, y=${p.y})`,
    plotly: {
      data: [{
        type: 'heatmap', z: mapRows(map), colorscale: plotlyColorscale(cmap), zmin, zmax,
        colorbar: { thickness: 12 }, hovertemplate: 'x=%{x}<br>y=%{y}<br>value=%{z:.4g}<extra></extra>',
      }],
      layout,
      config: CONFIG,
    },
    scene: {
      title, columns: 1, panelSize: Math.max(160, Math.min(320, 24 * Math.max(h, w))),
      panels: [{ kind: 'map', title: `${h}×${w}`, map, colormap: cmap, zmin, zmax }],
      colorbar: { colormap: cmap, min: zmin, max: zmax },
    },
  };
}

/** A dropdown switching the colour scale of the given heatmap traces (viridis, jet, gray). */
function colormapMenu(traceIndices: number[], active: ColormapName): JsonObject {
  const names: ColormapName[] = ['viridis', 'jet', 'gray'];
  return {
    type: 'dropdown', x: 0, xanchor: 'left', y: 1.01, yanchor: 'bottom', showactive: true, pad: { b: 2 },
    active: Math.max(0, names.indexOf(active)),
    buttons: names.map((n) => ({
      label: n, method: 'restyle', args: [{ colorscale: traceIndices.map(() => plotlyColorscale(n)) }, traceIndices],
    })),
  };
}

function opacitySlider(traceIndices: number[], initial: number): JsonObject {
  const steps: JsonValue[] = [];
  for (let i = 0; i <= 10; i++) {
    const v = i / 10;
    steps.push({ label: v.toFixed(1), method: 'restyle', args: [{ opacity: v }, traceIndices] });
  }
  return {
    active: Math.round(initial * 10), steps, currentvalue: { prefix: 'opacity ', font: { size: 12 } },
    pad: { t: 30 }, len: 0.9, x: 0.05,
  };
}

/** Panel size of static images: small inputs are enlarged so digits stay visible. */
function staticPanelSize(H: number, W: number): number {
  return Math.max(160, Math.min(256, Math.max(H, W)));
}

/**
 * The upsampled map over the input image, with a slider for the map's opacity and a colour bar.
 */
export function overlayFigure(result: MapResult, options: OverlayOptions = {}): Figure {
  checkMapResult(result, 'overlayFigure');
  const image = displayImage(result.input);
  const [H, W] = image.shape;
  const cmap = options.colormap ?? DEFAULT_COLORMAP;
  const opacity = options.opacity ?? 0.5;
  const map = shownMap(result, options.resolution ?? 'layer');
  const title = options.title ?? `${resultTitle(result)} · overlay`;
  const side = 380;
  const layout = baseLayout(title, options.width ?? side + 110, options.height ?? side + 150);
  Object.assign(layout, imageAxes('', [0, 1], [0, 1], 'x'));
  layout.sliders = [opacitySlider([1], opacity)];
  layout.updatemenus = [colormapMenu([1], cmap)];
  layout.margin = { l: 20, r: 20, t: 92, b: 30 };
  const [h, w] = result.normalized.shape;
  return {
    kind: 'overlay',
    title,
    summary: `${title}: ${h}×${w} map over ${H}×${W} input (opacity ${opacity})`,
    plotly: {
      data: [
        imageTrace(image, chooseFormat(image, options.imageFormat), '', 'input'),
        mapOverImageTrace(map, H, W, '', { colormap: cmap, zmin: 0, zmax: 1, opacity, name: methodLabel(result.method), colorbar: true }),
      ],
      layout,
      config: CONFIG,
    },
    scene: {
      title, columns: 1, panelSize: staticPanelSize(H, W),
      panels: [{ kind: 'overlay', title: `${h}×${w} → ${H}×${W}`, image, map: result.upsampled, colormap: cmap, zmin: 0, zmax: 1, opacity }],
      colorbar: { colormap: cmap, min: 0, max: 1 },
    },
  };
}

/** "top-k classes" when the results are the image's k best-scoring classes in order, else each class named. */
function classesPhrase(results: readonly MapResult[]): string {
  const scores = results[0].scores;
  const top = scores && scores.length ? orderByWeight(scores).slice(0, results.length) : [];
  return top.length === results.length && results.every((r, i) => r.classIndex === top[i])
    ? `top-${results.length} classes`
    : results.map(classLabel).join(', ');
}

/** Shared by the class dropdown and the layer slider: one image, one map per result, one shown. */
function switcherFigure(results: readonly MapResult[], kind: 'classes' | 'layers', label: (r: MapResult) => string,
  options: OverlayOptions): Figure {
  if (!results.length) throw new TslabCamError('BAD_OPTION', `${kind} figure got no results.`, 'Pass at least one result.');
  results.forEach((r) => checkMapResult(r, kind === 'classes' ? 'classDropdownFigure' : 'layerSliderFigure'));
  const first = results[0];
  const image = displayImage(first.input);
  const [H, W] = image.shape;
  const cmap = options.colormap ?? DEFAULT_COLORMAP;
  const opacity = options.opacity ?? 0.5;
  const resolution = options.resolution ?? 'layer';
  const base = options.title ?? (kind === 'classes'
    ? `${methodLabel(first.method)} · ${classesPhrase(results)} · layer ${first.layer}`
    : `${methodLabel(first.method)} · ${classLabel(first)} · ${results.length} layers`);
  const data: JsonObject[] = [imageTrace(image, chooseFormat(image, options.imageFormat), '', 'input')];
  results.forEach((r, i) => data.push(mapOverImageTrace(shownMap(r, resolution), H, W, '', {
    colormap: cmap, zmin: 0, zmax: 1, opacity, name: label(r), colorbar: i === 0, visible: i === 0,
  })));
  const visibility = (i: number): JsonValue => [true, ...results.map((_, j) => j === i)];
  const layout = baseLayout(base, options.width ?? 490, options.height ?? 560);
  Object.assign(layout, imageAxes('', [0, 1], [0, 1], 'x'));
  const choices: JsonValue[] = results.map((r, i) => ({
    label: t(label(r)), method: 'restyle', args: [{ visible: visibility(i), showscale: [false, ...results.map((_, j) => j === i)] }],
  }));
  if (kind === 'classes') {
    layout.updatemenus = [{ type: 'dropdown', buttons: choices, active: 0, x: 0, xanchor: 'left', y: 1.01, yanchor: 'bottom', showactive: true, pad: { b: 2 } }];
    layout.sliders = [opacitySlider(results.map((_, i) => i + 1), opacity)];
    layout.margin = { l: 20, r: 20, t: 92, b: 30 };
  } else {
    layout.sliders = [{ active: 0, steps: choices, currentvalue: { prefix: 'layer ', font: { size: 12 } }, pad: { t: 30 }, len: 0.9, x: 0.05 }];
  }
  const panels: StaticPanel[] = results.map((r) => ({
    kind: 'overlay', title: label(r), image, map: r.upsampled, colormap: cmap, zmin: 0, zmax: 1, opacity,
  }));
  return {
    kind,
    title: base,
    summary: `${base}: ${results.map(label).join(' | ')}`,
    plotly: { data, layout, config: CONFIG },
    scene: {
      title: base, columns: Math.min(results.length, 4), panelSize: Math.min(staticPanelSize(H, W), 200), panels,
      colorbar: { colormap: cmap, min: 0, max: 1 },
    },
  };
}

/**
 * A class dropdown over the top-k classes of one image: `results` are the maps of those classes
 * (computed in one batched pass elsewhere), the first shown initially; opacity slider included.
 */
export function classDropdownFigure(results: readonly MapResult[], options: OverlayOptions = {}): Figure {
  return switcherFigure(results, 'classes', (r) => {
    const score = Number.isFinite(r.S) ? ` S=${roundValue(r.S, 3)}` : '';
    return `${classLabel(r)}${score}`;
  }, options);
}

/** A slider switching the target layer: `results` are the same image and class at several layers. */
export function layerSliderFigure(results: readonly MapResult[], options: OverlayOptions = {}): Figure {
  return switcherFigure(results, 'layers', (r) => `${r.layer} (${r.normalized.shape[0]}×${r.normalized.shape[1]})`, options);
}

/** Indices 0..n-1 sorted by value, largest first (ties by index, so the order is stable). */
export function orderByWeight(weights: ArrayLike<number>): number[] {
  const idx = Array.from({ length: weights.length }, (_, i) => i);
  return idx.sort((a, b) => (weights[b] - weights[a]) || (a - b));
}

/** A channel weight's symbol for plotly (HTML) and for plain text: α_k^c, w_k^c, F_k, or any other name. */
function weightSymbol(name: string): { symbol: string; plain: string } {
  if (name === 'w') return { symbol: 'w<sub>k</sub><sup>c</sup>', plain: 'w_k^c' };
  if (name === 'alpha' || name === 'α') return { symbol: 'α<sub>k</sub><sup>c</sup>', plain: 'α_k^c' };
  if (name === 'F') return { symbol: 'F<sub>k</sub>', plain: 'F_k' };
  return { symbol: `${t(name)}<sub>k</sub>`, plain: `${name}_k` };
}

/**
 * Feature maps f_k as small multiples ordered by a weight per map (w_k^c for CAM, α_k^c for
 * Grad-CAM, F_k for GAP), largest first, above a bar chart of all weights in that order.
 */
export function featureMapsFigure(f: NDArray, weights: ArrayLike<number>, weightName: string,
  options: FeatureMapOptions = {}): Figure {
  const [h, w, K] = expectRank(f, [3], 'feature maps f');
  if (weights.length !== K) {
    throw new TslabCamError('BAD_OPTION', `featureMapsFigure got ${weights.length} weights for ${K} feature maps.`,
      'Pass one weight per channel of f.');
  }
  const cmap = options.colormap ?? DEFAULT_COLORMAP;
  const order = orderByWeight(weights);
  const count = Math.max(1, Math.min(K, options.count ?? 12));
  const shown = order.slice(0, count);
  const cols = Math.max(1, Math.min(count, options.columns ?? 4));
  const rows = Math.ceil(count / cols);
  const { symbol, plain } = weightSymbol(weightName);
  const title = options.title ?? `feature maps f_k (${h}×${w}×${K}), top ${count} by ${plain}`;
  const maps = shown.map((k) => channel(f, k));
  const { min, max } = range(maps.flatMap((m) => Array.from(m.data)));

  const barsTop = 1;
  const barsBottom = 0.78;
  const gridTop = 0.7;
  const gap = 0.02;
  const rowGap = 0.06;
  const cellW = (1 - gap * (cols - 1)) / cols;
  const cellH = (gridTop - rowGap * (rows - 1)) / rows;
  const sorted = order.map((k) => roundValue(weights[k]));
  const layout = baseLayout(title, options.width ?? 130 * cols + 120, options.height ?? 130 * rows / 0.7 + 80);
  layout.xaxis = { domain: [0, 1], anchor: 'y', showticklabels: false, ticks: '', title: { text: `channels k, largest ${symbol} first`, font: { size: 11 }, standoff: 2 } };
  layout.yaxis = { domain: [barsBottom, barsTop], anchor: 'x', title: { text: symbol, font: { size: 11 } } };
  layout.coloraxis = { colorscale: plotlyColorscale(cmap), cmin: min, cmax: max, colorbar: { thickness: 12, len: gridTop, y: 0, yanchor: 'bottom' } };
  layout.showlegend = false;
  const shownSet = new Set(shown);
  const data: JsonObject[] = [{
    type: 'bar', x: order.map((_, i) => i), y: sorted, customdata: order,
    marker: { color: order.map((k) => (shownSet.has(k) ? '#d62728' : '#1f77b4')) },
    hovertemplate: `k=%{customdata}<br>${symbol}=%{y:.4g}<extra></extra>`,
  }];
  const annotations: JsonValue[] = [];
  shown.forEach((k, i) => {
    const r = Math.floor(i / cols);
    const c = i % cols;
    const ax = String(i + 2);
    const x0 = c * (cellW + gap);
    const y1 = gridTop - r * (cellH + rowGap);
    Object.assign(layout, imageAxes(ax, [x0, x0 + cellW], [y1 - cellH, y1], `x${ax}`));
    data.push({
      type: 'heatmap', z: mapRows(maps[i]), coloraxis: 'coloraxis', xaxis: `x${ax}`, yaxis: `y${ax}`,
      hovertemplate: `f<sub>${k}</sub>(x=%{x}, y=%{y}) = %{z:.4g}<extra></extra>`,
    });
    annotations.push({
      text: `k=${k} ${symbol}=${roundValue(weights[k], 3)}`, x: x0 + cellW / 2, y: y1, xref: 'paper', yref: 'paper',
      showarrow: false, font: { size: 10 }, xanchor: 'center', yanchor: 'bottom',
    });
  });
  layout.annotations = annotations;
  const panels: StaticPanel[] = [{ kind: 'bars', title: `${plain} sorted (red: shown)`, values: order.map((k) => weights[k]), highlight: shown.map((_, i) => i) }];
  shown.forEach((k, i) => panels.push({ kind: 'map', title: `k=${k} ${plain}=${roundValue(weights[k], 3)}`, map: maps[i], colormap: cmap, zmin: min, zmax: max }));
  return {
    kind: 'featureMaps',
    title,
    summary: `${title}: k = ${shown.join(', ')}`,
    plotly: { data, layout, config: CONFIG },
    scene: {
      title, columns: cols, panelSize: 120, panels, spans: { 0: cols },
      colorbar: { colormap: cmap, min, max },
    },
  };
}

/** True when a result can be drawn as its feature maps: a map result with channel weights, or GAP's averages. */
export function hasFeatureMaps(r: ExplainResult): r is MapResult | GapResult {
  return (hasMapForms(r) && r.channelWeights !== undefined) || isLayerAverages(r);
}

/** f_k ordered by the channel weights a map was built from (w_k^c for CAM, α_k^c for Grad-CAM …), or by F_k for GAP. */
export function resultFeatureMapsFigure(result: MapResult | GapResult, options: FeatureMapOptions = {}): Figure {
  if (isLayerAverages(result)) return featureMapsFigure(result.f, result.F, 'F', { title: `${methodLabel(result.method)} · layer ${result.layer} · f_k by F_k`, ...options });
  if (hasMapForms(result) && result.channelWeights) {
    const { symbol, values } = result.channelWeights;
    return featureMapsFigure(result.f, values, symbol, { title: `${resultTitle(result)} · f_k by ${weightSymbol(symbol).plain}`, ...options });
  }
  throw new TslabCamError('BAD_OPTION', 'resultFeatureMapsFigure needs a result with feature maps and channel weights (GAP, CAM, Grad-CAM …).',
    'Pass a result of gap(...), cam(...), gradCam(...) or another channel-weight method.');
}

/** The guided image as the paper shows it: the result's display image, or its raw gradient scaled. */
function guidedImage(r: GuidedBackpropResult | GuidedGradCamResult): NDArray {
  if (r.image && r.image.data.length) return r.image;
  return guidedDisplay('gradient' in r ? r.gradient : r.product);
}

/** Guided backprop or guided Grad-CAM as an image, normalised as the paper shows it (0 = grey). */
export function guidedFigure(result: GuidedBackpropResult | GuidedGradCamResult, options: FigureOptions = {}): Figure {
  const image = displayImage(guidedImage(result));
  const [H, W] = image.shape;
  const title = options.title ?? resultTitle(result);
  const layout = baseLayout(title, options.width ?? 420, options.height ?? 440);
  Object.assign(layout, imageAxes('', [0, 1], [0, 1], 'x'));
  const trace = imageTrace(image, chooseFormat(image, options.imageFormat), '', methodLabel(result.method));
  trace.hoverinfo = 'x+y';
  return {
    kind: 'guided',
    title,
    summary: `${title}: ${H}×${W} image, gradient scaled to mean 0.5, 0.1 per standard deviation`,
    plotly: { data: [trace], layout, config: CONFIG },
    scene: { title, columns: 1, panelSize: staticPanelSize(H, W), panels: [{ kind: 'rgb', title: `${H}×${W}`, image }] },
  };
}

/** An image (H, W, C) of any range as a figure (tensor renderer, inputs). */
export function imageFigure(image: NDArray, options: FigureOptions = {}): Figure {
  const img = displayImage(image);
  const [H, W, C] = img.shape;
  const title = options.title ?? `image ${H}×${W}×${C}`;
  const layout = baseLayout(title, options.width ?? 420, options.height ?? 440);
  Object.assign(layout, imageAxes('', [0, 1], [0, 1], 'x'));
  const trace = imageTrace(img, chooseFormat(img, options.imageFormat), '', 'image');
  trace.hoverinfo = 'x+y';
  return {
    kind: 'image',
    title,
    summary: title,
    plotly: { data: [trace], layout, config: CONFIG },
    scene: { title, columns: 1, panelSize: staticPanelSize(H, W), panels: [{ kind: 'rgb', title: '', image: img }] },
  };
}

/** The parts of the comparison row; any may be missing (e.g. CAM on a model without a GAP head). */
export interface ComparisonParts {
  input?: NDArray;
  cam?: MapResult;
  gradCam?: MapResult;
  guided?: GuidedBackpropResult;
  guidedGradCam?: GuidedGradCamResult;
}

/** The results of a ComparisonParts object in the paper's order. */
function partsList(parts: ComparisonParts): ExplainResult[] {
  return [parts.cam, parts.gradCam, parts.guided, parts.guidedGradCam].filter((r): r is NonNullable<typeof r> => r !== undefined);
}

/**
 * One image explained by several methods side by side: the input, then one panel per result —
 * map results as an overlay, image-sized results (guided backprop …) as images. Takes a list of
 * results of one image, or the paper's row {cam, gradCam, guided, guidedGradCam}.
 */
export function comparisonFigure(parts: ComparisonParts | readonly ExplainResult[], options: OverlayOptions = {}): Figure {
  const cmap = options.colormap ?? DEFAULT_COLORMAP;
  const opacity = options.opacity ?? 0.5;
  const results = Array.isArray(parts) ? parts as readonly ExplainResult[] : partsList(parts as ComparisonParts);
  const anyResult = results[0];
  const rawInput = (Array.isArray(parts) ? undefined : (parts as ComparisonParts).input) ?? anyResult?.input;
  if (!rawInput) throw new TslabCamError('BAD_OPTION', 'comparisonFigure got no input and no results.', 'Pass at least one result.');
  const input = displayImage(rawInput);
  const [H, W] = input.shape;
  const format = chooseFormat(input, options.imageFormat);
  type Column = { label: string; image: NDArray; format: 'png' | 'jpeg'; map?: NDArray; static?: NDArray };
  const columns: Column[] = [{ label: 'input', image: input, format }];
  for (const r of results) {
    const label = methodLabel(r.method);
    if (hasInputImage(r)) columns.push({ label, image: displayImage(guidedImage(r)), format });
    else if (hasMapForms(r)) columns.push({ label, image: input, format, map: r.normalized, static: r.upsampled });
  }
  const title = options.title ?? (anyResult ? `comparison · ${classLabel(anyResult)} · layer ${anyResult.layer}` : 'comparison');
  const n = columns.length;
  const gap = 0.02;
  const cw = (1 - gap * (n - 1)) / n;
  const layout = baseLayout(title, options.width ?? 200 * n + 60, options.height ?? 290);
  layout.showlegend = false;
  const data: JsonObject[] = [];
  const annotations: JsonValue[] = [];
  let colorbarShown = false;
  const mapTraces: number[] = [];
  columns.forEach((c, i) => {
    const ax = i === 0 ? '' : String(i + 1);
    const x0 = i * (cw + gap);
    Object.assign(layout, imageAxes(ax, [x0, x0 + cw], [0, 0.9], `x${ax}`));
    data.push(imageTrace(c.image, c.format, ax, c.label));
    if (c.map) {
      mapTraces.push(data.length);
      data.push(mapOverImageTrace(c.map, H, W, ax, { colormap: cmap, zmin: 0, zmax: 1, opacity, name: c.label, colorbar: !colorbarShown }));
      colorbarShown = true;
    }
    annotations.push({ text: c.label, x: x0 + cw / 2, y: 0.92, xref: 'paper', yref: 'paper', showarrow: false, font: { size: 12 }, yanchor: 'bottom' });
  });
  layout.annotations = annotations;
  if (mapTraces.length) {
    layout.sliders = [opacitySlider(mapTraces, opacity)];
    layout.height = options.height ?? 360;
  }
  const panels: StaticPanel[] = columns.map((c) => (c.static
    ? { kind: 'overlay', title: c.label, image: input, map: c.static, colormap: cmap, zmin: 0, zmax: 1, opacity }
    : { kind: 'rgb', title: c.label, image: c.image }));
  return {
    kind: 'comparison',
    title,
    summary: `${title}: ${columns.map((c) => c.label).join(' | ')}`,
    plotly: { data, layout, config: CONFIG },
    scene: {
      title, columns: n, panelSize: Math.min(staticPanelSize(H, W), 180), panels,
      colorbar: colorbarShown ? { colormap: cmap, min: 0, max: 1 } : undefined,
    },
  };
}

/**
 * The comparison row for several classes of one image: rows[j] holds every method's result for
 * class j. Each class's panels are one block of traces; a dropdown shows one block at a time and
 * the opacity slider acts on every map. Hover shows each map's value. The static image shows the
 * first class.
 */
export function classComparisonFigure(rows: ReadonlyArray<readonly ExplainResult[]>, options: OverlayOptions = {}): Figure {
  if (rows.length === 0 || rows[0].length === 0) throw new TslabCamError('BAD_OPTION', 'classComparisonFigure got no results.', 'Pass at least one class with one result.');
  const figures = rows.map((row) => comparisonFigure(row, options));
  if (figures.length === 1) return figures[0];
  const first = figures[0];
  const block = first.plotly.data.length;
  const data: JsonObject[] = [];
  figures.forEach((f, j) => f.plotly.data.forEach((trace) => data.push({ ...(trace as JsonObject), visible: j === 0 })));
  const maps = data.map((t, i) => (t.type === 'heatmap' ? i : -1)).filter((i) => i >= 0);
  const labelOf = (r: ExplainResult): string => {
    const S = (r as { S?: unknown }).S;
    return `${classLabel(r)}${typeof S === 'number' ? ` S=${roundValue(S, 3)}` : ''}`;
  };
  const buttons: JsonValue[] = rows.map((row, j): JsonValue => {
    const visible: JsonValue = data.map((_, i) => Math.floor(i / block) === j);
    const title: JsonValue = { text: t(`comparison · ${classLabel(row[0])} · layer ${row[0].layer}`) };
    return { label: t(labelOf(row[0])), method: 'update', args: [{ visible }, { title }] };
  });
  const layout: JsonObject = {
    ...(first.plotly.layout as JsonObject),
    updatemenus: [{ type: 'dropdown', buttons, active: 0, x: 0, xanchor: 'left', y: 1.12, yanchor: 'bottom', showactive: true, pad: { b: 2 } }],
    ...(maps.length ? { sliders: [opacitySlider(maps, options.opacity ?? 0.5)] } : {}),
  };
  const title = `comparison · ${rows.length} classes (${rows.map((r) => classLabel(r[0])).join(', ')})`;
  return { kind: first.kind, title, summary: `${title}: ${first.summary.split(': ').slice(1).join(': ')}`, plotly: { data, layout, config: first.plotly.config }, scene: first.scene };
}

/** What the bars of a known quantity are indexed by: channels for F_k, classes for S_c. */
function indexNameOf(valueName: string): string {
  if (/^F_k|^[wα]_k/.test(valueName)) return 'channel k';
  if (/^S_c|^y_c|^p_c/.test(valueName)) return 'class c';
  return 'index';
}

/** A bar chart of values per index (class scores, F_k), largest marked; both axes titled. */
export function barsFigure(values: ArrayLike<number>,
  options: FigureOptions & { labels?: readonly string[]; valueName?: string; indexName?: string } = {}): Figure {
  const vals = Array.from(values, (v) => roundValue(v));
  const name = options.valueName ?? 'value';
  const title = options.title ?? `${name} (${vals.length})`;
  const labels = options.labels ? options.labels.map((l) => t(l)) : vals.map((_, i) => String(i));
  const layout = baseLayout(title, options.width ?? Math.min(900, 200 + 14 * vals.length), options.height ?? 320);
  layout.yaxis = { title: { text: t(name) } };
  layout.xaxis = { type: 'category', title: { text: t(options.indexName ?? indexNameOf(name)) } };
  layout.margin = { l: 60, r: 20, t: 60, b: 50 };
  const best = orderByWeight(values)[0];
  return {
    kind: 'bars',
    title,
    summary: `${title}: max ${vals[best]} at ${options.labels ? options.labels[best] : best}`,
    plotly: {
      data: [{ type: 'bar', x: labels, y: vals, hovertemplate: `%{x}<br>${t(name)}=%{y:.4g}<extra></extra>` }],
      layout,
      config: CONFIG,
    },
    scene: { title, columns: 2, panelSize: 200, spans: { 0: 2 }, panels: [{ kind: 'bars', title: name, values: Array.from(values), highlight: [best] }] },
  };
}

/** Options of the gallery of per-image results. */
export interface GalleryOptions extends OverlayOptions {
  /** Columns of the grid (default: up to 4). */
  columns?: number;
  /** At most this many images are drawn (default 16), so a large batch stays a small figure. */
  limit?: number;
}

/**
 * One panel per image of a batch: CAM/Grad-CAM maps over their own input, guided results as
 * images, GAP results as their input. Titles name each image's class.
 */
export function galleryFigure(results: readonly ExplainResult[],
  options: GalleryOptions = {}): Figure {
  if (!results.length) throw new TslabCamError('BAD_OPTION', 'galleryFigure got no results.', 'Pass at least one result.');
  const shown = results.slice(0, Math.max(1, options.limit ?? 16));
  const first = shown[0];
  const title = options.title ?? `${methodLabel(first.method)} · ${results.length} image${results.length === 1 ? '' : 's'} · layer ${first.layer}` +
    (shown.length < results.length ? ` (first ${shown.length})` : '');
  const cells: GridCell[] = shown.map((r, i) => {
    const label = `#${i} ${classLabel(r)}`;
    if (hasInputImage(r)) return { label, image: guidedImage(r) };
    if (hasMapForms(r)) return { label, image: r.input, map: shownMap(r, options.resolution ?? 'layer'), staticMap: r.upsampled };
    return { label, image: r.input };
  });
  const fig = gridFigure(cells, title, options);
  return { ...fig, summary: `${title}: ${shown.map((r) => classLabel(r)).join(' | ')}` };
}

/** One cell of an image grid: an image, optionally with a [0,1] map over it. */
interface GridCell {
  label: string;
  image: NDArray;
  /** Map shown by plotly (any resolution). */
  map?: NDArray;
  /** Map blended into the PNG (defaults to `map`). */
  staticMap?: NDArray;
}

/** Images (with optional maps) in a grid of subplots; an opacity slider when maps are present. */
function gridFigure(cells: readonly GridCell[], title: string, options: GalleryOptions): Figure {
  const cmap = options.colormap ?? DEFAULT_COLORMAP;
  const opacity = options.opacity ?? 0.5;
  const cols = Math.max(1, Math.min(cells.length, options.columns ?? 4));
  const rows = Math.ceil(cells.length / cols);
  const gap = 0.02;
  const rowGap = 0.08;
  const cw = (1 - gap * (cols - 1)) / cols;
  const ch = (1 - rowGap * rows) / rows;
  const layout = baseLayout(title, options.width ?? 200 * cols + 100, options.height ?? 220 * rows + 80);
  layout.showlegend = false;
  const data: JsonObject[] = [];
  const annotations: JsonValue[] = [];
  const panels: StaticPanel[] = [];
  const mapTraces: number[] = [];
  cells.forEach((c, i) => {
    const ax = i === 0 ? '' : String(i + 1);
    const x0 = (i % cols) * (cw + gap);
    const y1 = 1 - Math.floor(i / cols) * (ch + rowGap) - rowGap;
    Object.assign(layout, imageAxes(ax, [x0, x0 + cw], [y1 - ch, y1], `x${ax}`));
    const image = displayImage(c.image);
    const [H, W] = image.shape;
    data.push(imageTrace(image, chooseFormat(image, options.imageFormat), ax, c.label));
    if (c.map) {
      mapTraces.push(data.length);
      data.push(mapOverImageTrace(c.map, H, W, ax, { colormap: cmap, zmin: 0, zmax: 1, opacity, name: c.label, colorbar: mapTraces.length === 1 }));
      panels.push({ kind: 'overlay', title: c.label, image, map: c.staticMap ?? c.map, colormap: cmap, zmin: 0, zmax: 1, opacity });
    } else {
      panels.push({ kind: 'rgb', title: c.label, image });
    }
    annotations.push({ text: t(c.label), x: x0 + cw / 2, y: y1, xref: 'paper', yref: 'paper', showarrow: false, font: { size: 11 }, yanchor: 'bottom' });
  });
  layout.annotations = annotations;
  if (mapTraces.length) layout.sliders = [opacitySlider(mapTraces, opacity)];
  const [H0, W0] = displayImage(cells[0].image).shape;
  return {
    kind: 'gallery',
    title,
    summary: `${title}: ${cells.map((c) => c.label).join(' | ')}`,
    plotly: { data, layout, config: CONFIG },
    scene: {
      title, columns: cols, panelSize: Math.min(staticPanelSize(H0, W0), 160), panels,
      colorbar: mapTraces.length ? { colormap: cmap, min: 0, max: 1 } : undefined,
    },
  };
}

/** A batch of images (N, H, W, C) or a list of (H, W, C) images as a grid (first `limit`). */
export function imageGridFigure(images: NDArray | readonly NDArray[], options: GalleryOptions & { labels?: readonly string[] } = {}): Figure {
  let list: NDArray[];
  if (Array.isArray(images)) list = [...(images as readonly NDArray[])];
  else {
    const batch = images as NDArray;
    const [N, ...rest] = expectRank(batch, [4], 'image batch');
    const per = rest.reduce((a, b) => a * b, 1);
    list = Array.from({ length: N }, (_, i) => ({ data: batch.data.subarray(i * per, (i + 1) * per), shape: rest }));
  }
  if (!list.length) throw new TslabCamError('BAD_OPTION', 'imageGridFigure got no images.', 'Pass at least one image.');
  const shown = list.slice(0, Math.max(1, options.limit ?? 16));
  const title = options.title ?? `${list.length} images ${list[0].shape.join('×')}` + (shown.length < list.length ? ` (first ${shown.length})` : '');
  return gridFigure(shown.map((image, i) => ({ label: options.labels?.[i] ?? `#${i}`, image })), title, options);
}
