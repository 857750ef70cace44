/**
 * The library's own renderers (registered when this module loads) and the notebook-facing figure
 * functions, which are the pure figure functions of render/ wrapped with `displayable` so a figure
 * as a cell's last expression draws itself.
 */
import type {
  ExplainResult, GapResult, GuidedBackpropResult, GuidedGradCamResult, IdentityCheck, MapResult, NDArray,
} from '../explain/types';
import { hasInputImage, hasMapForms, isExplainResult, isLayerAverages } from '../explain/shapes';
import { isMethodComparison, type MethodComparison } from '../explain/compare';
import { escapeHtml } from '../render/escape';
import type { Figure } from '../render/spec';
import {
  barsFigure, classComparisonFigure, classDropdownFigure, classLabel, comparisonFigure, featureMapsFigure, galleryFigure, guidedFigure, heatmapFigure,
  imageFigure, imageGridFigure, layerSliderFigure, overlayFigure, resultFeatureMapsFigure, resultTitle,
  hasFeatureMaps, type ComparisonParts, type FeatureMapOptions, type FigureOptions, type GalleryOptions, type OverlayOptions,
} from '../render/figures';
import { htmlBundle, type DisplayBundle } from './bundle';
import { displayable, findRenderer, registerRenderer } from './display';

export { isExplainResult };

function isMapResult(x: unknown): x is MapResult {
  return isExplainResult(x) && hasMapForms(x);
}

/** True for identity checks (the verify layer's output). */
export function isIdentityCheck(x: unknown): x is IdentityCheck {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Partial<IdentityCheck>;
  return typeof c.id === 'number' && typeof c.name === 'string' && typeof c.latex === 'string' && typeof c.pass === 'boolean';
}

/** A tfjs tensor, recognised by shape without importing tfjs (render/notebook never hold tensors). */
interface TensorLike {
  readonly shape: number[];
  readonly dtype: string;
  dataSync(): ArrayLike<number>;
  readonly isDisposed?: boolean;
}

/** True for tfjs tensors (duck-typed). */
export function isTensorLike(x: unknown): x is TensorLike {
  if (typeof x !== 'object' || x === null) return false;
  const t = x as Partial<TensorLike>;
  return Array.isArray(t.shape) && typeof t.dtype === 'string' && typeof t.dataSync === 'function';
}

/** True for plain {data, shape} arrays. */
export function isNDArray(x: unknown): x is NDArray {
  if (typeof x !== 'object' || x === null) return false;
  const a = x as Partial<NDArray>;
  return Array.isArray(a.shape) && (a.data instanceof Float32Array || Array.isArray(a.data)) && !('method' in (x as object));
}

/** A tensor's values as plain data (the only place the notebook layer reads a tensor). */
export function tensorToNDArray(t: TensorLike): NDArray {
  return { data: Float32Array.from(t.dataSync()), shape: [...t.shape] };
}

/** An image-like or map-like array as the fitting figure: (h,w) heatmap, (H,W,1|3|4) or (1,H,W,C) image. */
export function arrayFigure(a: NDArray, options: FigureOptions = {}): Figure {
  let shape = [...a.shape];
  while (shape.length > 2 && shape[0] === 1) shape = shape.slice(1);
  // A batch of images (N, H, W, C): a grid.
  if (shape.length === 4 && [1, 3, 4].includes(shape[3])) return imageGridFigure({ data: a.data, shape }, options);
  if (shape.length === 3 && shape[2] === 1) return heatmapFigure({ data: a.data, shape: [shape[0], shape[1]] }, options);
  if (shape.length === 2) return heatmapFigure({ data: a.data, shape }, options);
  if (shape.length === 3 && (shape[2] === 3 || shape[2] === 4)) return imageFigure({ data: a.data, shape }, options);
  if (shape.length === 1) return barsFigure(a.data, options);
  // (h, w, K) feature maps: small multiples in channel order (no weights to sort by).
  if (shape.length === 3) {
    const K = shape[2];
    const order = Float32Array.from({ length: K }, (_, k) => K - k);
    return featureMapsFigure({ data: a.data, shape }, order, 'F', { title: `feature maps ${shape.join('×')} (channel order)`, ...options });
  }
  return barsFigure(a.data, { title: `values, shape [${a.shape.join(', ')}]`, ...options });
}

/** The default figure of a per-image result, chosen by what it is: image, map over the input, or feature maps. */
export function resultFigure(r: ExplainResult, options: OverlayOptions & FeatureMapOptions = {}): Figure {
  if (hasInputImage(r)) return guidedFigure(r, options);
  if (isLayerAverages(r)) return resultFeatureMapsFigure(r, options);
  if (hasMapForms(r)) return overlayFigure(r, options);
  const other = r as ExplainResult;
  return imageFigure(other.input, { title: `${other.method} · ${classLabel(other)}`, ...options });
}

/**
 * Column styles of the identity table. Jupyter's stylesheets give tables `table-layout: fixed`
 * (classic Notebook, JupyterLab, nbconvert), which splits the width evenly: the equation was
 * squeezed into 4–6 wrapped fragments beside near-empty number columns. Inline styles survive
 * Jupyter's HTML sanitiser, so the table asks for automatic layout and gives the equation and a
 * skip reason room of their own.
 */
const TABLE_STYLE = 'table-layout:auto;width:auto;max-width:100%';
const CELL = {
  name: 'min-width:10em;text-align:left',
  equation: 'min-width:18em;white-space:nowrap;text-align:left',
  num: 'white-space:nowrap',
  reason: 'min-width:16em;max-width:32em;white-space:normal;text-align:left',
} as const;

/** An HTML table of identity checks; every string (names, LaTeX) escaped. */
export function identityChecksBundle(checks: readonly IdentityCheck[]): DisplayBundle {
  const num = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(6)).toString() : String(v));
  const rows = checks.map((c) => {
    const status = c.skipped ? `skipped: ${c.skipped}` : c.pass ? 'pass' : 'FAIL';
    const colour = c.skipped ? '#777' : c.pass ? '#2e7d32' : '#c62828';
    // Jupyter typesets \( … \) in HTML outputs with MathJax; elsewhere the LaTeX source reads fine.
    return `<tr><td>${c.id}</td><td style="${CELL.name}">${escapeHtml(c.name)}</td><td class="tslab-cam-eq" style="${CELL.equation}">\\(${escapeHtml(c.latex)}\\)</td>` +
      `<td style="${CELL.num}">${num(c.lhs)}</td><td style="${CELL.num}">${num(c.rhs)}</td><td style="${CELL.num}">${num(c.diff)}</td>` +
      `<td style="${CELL.num}">${num(c.relDiff)}</td><td style="${CELL.num}">${num(c.tolerance)}</td>` +
      `<td class="tslab-cam-result" style="color:${colour};font-weight:bold;${c.skipped ? CELL.reason : CELL.num}">${escapeHtml(status)}</td></tr>`;
  });
  const html = `<table class="tslab-cam-checks" style="${TABLE_STYLE}"><thead><tr><th>#</th><th>identity</th><th>equation</th><th>lhs</th><th>rhs</th>` +
    `<th>|diff|</th><th>rel</th><th>tol</th><th>result</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const passed = checks.filter((c) => c.pass && !c.skipped).length;
  const skipped = checks.filter((c) => c.skipped).length;
  const failed = checks.length - passed - skipped;
  return htmlBundle(html, `identity checks: ${passed} pass, ${failed} fail, ${skipped} skipped`);
}

/** True when every result explains the same input image (same array, or equal values). */
function sameInput(list: readonly ExplainResult[]): boolean {
  const a = list[0].input;
  return list.every((r) => r.input === a || (r.input.data.length === a.data.length && r.input.shape.join() === a.shape.join() &&
    r.input.data.every((v, i) => v === a.data[i])));
}

/**
 * A list of results. Several methods on one image: the comparison row. Maps of one image and one
 * method: a class dropdown when classes differ, a layer slider when only layers differ. Anything
 * else (a batch over several images): a gallery.
 */
export function resultListFigure(list: readonly ExplainResult[], options: GalleryOptions = {}): Figure {
  if (list.length > 1 && sameInput(list) && new Set(list.map((r) => r.method)).size > 1) return comparisonFigure(list, options);
  if (list.every(isMapResult) && list.length > 1 && sameInput(list)) {
    const maps = list as readonly MapResult[];
    const oneClass = new Set(maps.map((r) => r.classIndex)).size === 1;
    if (oneClass && new Set(maps.map((r) => r.layer)).size > 1) return layerSliderFigure(maps, options);
    if (!oneClass) return classDropdownFigure(maps, options);
  }
  return galleryFigure(list, options);
}

/** "3 Grad-CAM results: class 1, class 4 (cat), … · layer conv2" */
export function resultListSummary(list: readonly ExplainResult[]): string {
  if (!list.length) return '0 results';
  const methods = [...new Set(list.map((r) => resultTitle(r).split(' · ')[0]))].join('/');
  const classes = list.slice(0, 5).map((r) => classLabel(r)).join(', ') + (list.length > 5 ? ', …' : '');
  const layers = [...new Set(list.map((r) => r.layer))].join(', ');
  return `${list.length} ${methods} result${list.length === 1 ? '' : 's'}: ${classes} · layer ${layers}`;
}

/** An object that bundles the methods' results for one image (the comparison row shows it). */
function isComparisonParts(x: unknown): x is ComparisonParts {
  if (typeof x !== 'object' || x === null || isExplainResult(x)) return false;
  const p = x as Record<string, unknown>;
  const parts = ['cam', 'gradCam', 'guided', 'guidedGradCam', 'guidedBackprop'].filter((k) => p[k] !== undefined);
  return parts.length > 0 && parts.every((k) => isExplainResult(p[k]));
}

function comparisonPartsOf(x: ComparisonParts & { guidedBackprop?: GuidedBackpropResult }): ComparisonParts {
  return { input: x.input, cam: x.cam, gradCam: x.gradCam, guided: x.guided ?? x.guidedBackprop, guidedGradCam: x.guidedGradCam };
}

/** "4 methods (Grad-CAM, Score-CAM, …) × 2 classes: class 3, class 5 · 1 skipped" */
function comparisonSummary(c: MethodComparison): string {
  const labels = c.rows[0]?.map((r) => resultTitle(r).split(' · ')[0]) ?? [];
  const classes = c.rows.map((r) => (r[0] ? classLabel(r[0]) : '?')).join(', ');
  return `${labels.length} methods (${labels.join(', ')}) × ${c.rows.length} class${c.rows.length === 1 ? '' : 'es'}: ${classes}${c.skipped.length ? ` · skipped ${c.skipped.map((s) => s.method).join(', ')}` : ''}`;
}

let registered = false;

/** Registers the library's renderers (idempotent; runs when this module loads). */
export function registerDefaultRenderers(): void {
  if (registered) return;
  registered = true;
  registerRenderer(isTensorLike, (t) => arrayFigure(tensorToNDArray(t)), 'tensor');
  registerRenderer(isNDArray, (a) => arrayFigure(a), 'NDArray');
  registerRenderer((x): x is IdentityCheck => isIdentityCheck(x), (c) => identityChecksBundle([c]), 'identity check');
  registerRenderer((x): x is IdentityCheck[] => Array.isArray(x) && x.length > 0 && x.every(isIdentityCheck),
    (c) => identityChecksBundle(c), 'identity checks');
  registerRenderer(isExplainResult, (r, o) => resultFigure(r, o), 'explain result');
  registerRenderer((x): x is ExplainResult[] => Array.isArray(x) && x.length > 0 && x.every(isExplainResult),
    (list, o) => resultListFigure(list, o), 'result list');
  registerRenderer(isComparisonParts, (p, o) => comparisonFigure(comparisonPartsOf(p), o), 'comparison');
  registerRenderer(isMethodComparison, (c, o) => classComparisonFigure(c.rows, o), { name: 'method comparison', summary: comparisonSummary });
}

registerDefaultRenderers();

/** The one line a result prints: method, class, layer and shapes. */
export function resultSummary(r: object): string {
  if (!isExplainResult(r)) return String(r);
  const title = resultTitle(r);
  if (hasInputImage(r)) return `${title}: image ${r.image.shape.join('×')}, S_c=${Number(r.S.toPrecision(4))}`;
  if (isLayerAverages(r)) return `${title}: f ${r.f.shape.join('×')}, F (${r.F.length}), Z=${r.Z}`;
  if (hasMapForms(r)) return `${title}: map ${r.raw.shape.join('×')} → ${r.upsampled.shape.join('×')}, S_c=${Number(r.S.toPrecision(4))}`;
  return title;
}

/** Makes a result display itself as a cell's last expression (and print one line elsewhere). */
export function displayableResult<T extends ExplainResult>(result: T): T {
  return displayable(result, resultSummary);
}

/**
 * Makes a list of results (a batch, top-k classes, several layers) display itself as one figure
 * when it is a cell's last expression; its elements become displayable too (for show(list[i])).
 */
export function displayableResults<T extends ExplainResult>(results: T[]): T[] {
  for (let i = 0; i < results.length; i++) results[i] = displayableResult(results[i]);
  return displayable(results, (list) => resultListSummary(list as ExplainResult[]));
}

/** A batch of results as a grid, one panel per image. */
export function gallery(results: readonly ExplainResult[], options?: GalleryOptions): Figure {
  return displayable(galleryFigure(results, options));
}

// Notebook-facing figures: the render/ figures made displayable.

/** Heatmap of an (h, w) map with hover and colour bar. */
export function heatmap(map: NDArray, options?: FigureOptions & { zmin?: number; zmax?: number }): Figure {
  return displayable(heatmapFigure(map, options));
}
/** The upsampled map over the input image, with an opacity slider. */
export function overlay(result: MapResult, options?: OverlayOptions): Figure {
  return displayable(overlayFigure(result, options));
}
/** A class dropdown over the maps of the top-k classes. */
export function classDropdown(results: readonly MapResult[], options?: OverlayOptions): Figure {
  return displayable(classDropdownFigure(results, options));
}
/** A slider over target layers. */
export function layerSlider(results: readonly MapResult[], options?: OverlayOptions): Figure {
  return displayable(layerSliderFigure(results, options));
}
/** f_k as small multiples ordered by w_k^c / α_k^c / F_k, with a bar chart of the weights. */
export function featureMaps(result: MapResult | GapResult, options?: FeatureMapOptions): Figure {
  return displayable(resultFeatureMapsFigure(result, options));
}
/** One image explained by several methods side by side: a list of results, or {cam, gradCam, guided, guidedGradCam}. */
export function comparison(parts: ComparisonParts | readonly ExplainResult[], options?: OverlayOptions): Figure {
  return displayable(comparisonFigure(parts, options));
}
/** Guided backprop or guided Grad-CAM as the paper shows it. */
export function guidedImage(result: GuidedBackpropResult | GuidedGradCamResult, options?: FigureOptions): Figure {
  return displayable(guidedFigure(result, options));
}
/** An image of any range. */
export function image(img: NDArray, options?: FigureOptions): Figure {
  return displayable(imageFigure(img, options));
}
/** A bar chart (class scores, F_k). */
export function bars(values: ArrayLike<number>, options?: FigureOptions & { labels?: readonly string[]; valueName?: string }): Figure {
  return displayable(barsFigure(values, options));
}

export { classLabel };

/** The one line any displayable value of this library prints. */
export function summaryOf(value: object): string {
  if (isExplainResult(value)) return resultSummary(value);
  if (Array.isArray(value) && value.length && value.every(isExplainResult)) return resultListSummary(value);
  if (Array.isArray(value) && value.length && value.every(isIdentityCheck)) return identityChecksBundle(value).data['text/plain'];
  if (isIdentityCheck(value)) return identityChecksBundle([value]).data['text/plain'];
  const entry = findRenderer(value);
  if (entry?.summary) return entry.summary(value);
  const s = (value as { summary?: unknown }).summary;
  if (typeof s === 'string') return s;
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== 'Object' ? ctor : `{ ${Object.keys(value).slice(0, 6).join(', ')} }`;
}

/**
 * Makes a value display itself as a cell's last expression when a renderer is registered for it:
 * results, lists of results, identity checks, comparison objects, figures. Promises are followed.
 * Other values are returned untouched.
 */
export function makeDisplayable<T>(value: T): T {
  if (value instanceof Promise) return value.then((v: unknown) => makeDisplayable(v)) as T;
  if (typeof value !== 'object' || value === null) return value;
  // A walkthrough: its steps display themselves too (wt.step(n) as a cell's last expression).
  const steps = (value as { steps?: unknown }).steps;
  if (Array.isArray(steps)) for (const s of steps) if (typeof s === 'object' && s !== null && findRenderer(s)) displayable(s, summaryOf);
  if (isExplainResult(value)) return displayableResult(value) as T;
  if (Array.isArray(value) && value.length && value.every(isExplainResult)) return displayableResults(value) as T;
  if (findRenderer(value)) return displayable(value as T & object, summaryOf);
  return value;
}

/**
 * Wraps a function (gradCam, explain, verify, …) so what it returns displays itself in a notebook.
 * The explain layer stays free of display code: the package entry point exports wrapped versions.
 * The wrapper has the same type as `fn`, generics included.
 */
export function withDisplay<F extends (...args: never[]) => unknown>(fn: F): F {
  const wrapped = function (this: unknown, ...args: Parameters<F>): ReturnType<F> {
    return makeDisplayable(fn.apply(this, args) as ReturnType<F>);
  };
  Object.defineProperty(wrapped, 'name', { value: fn.name, configurable: true });
  return wrapped as unknown as F;
}
