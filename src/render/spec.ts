/**
 * The plain-data description of a figure: a plotly spec for the interactive view and a static
 * scene for the PNG fallback. Both are built from the same numbers by the functions in
 * figures.ts; nothing here touches tfjs or the DOM, so figures can be made and tested anywhere.
 */
import type { NDArray } from '../explain/types';
import { displayGradient, resizeBilinear } from '../explain/maps';
import type { ColormapName } from './colormap';
import { TslabCamError } from '../errors';

/** A value that survives JSON.stringify unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object (plotly traces, layout and config are all of this shape). */
export type JsonObject = { [key: string]: JsonValue };

/** A plotly figure as the application/vnd.plotly.v1+json MIME type carries it. */
export interface PlotlyFigure {
  data: JsonObject[];
  layout: JsonObject;
  config: JsonObject;
}

/** A map drawn cell by cell through a colour map. */
export interface MapPanel {
  kind: 'map';
  title: string;
  /** (h, w) */
  map: NDArray;
  colormap: ColormapName;
  zmin: number;
  zmax: number;
}

/** An image, (H, W, C) with C = 1 or 3 and values in [0, 1]. */
export interface RgbPanel {
  kind: 'rgb';
  title: string;
  image: NDArray;
}

/** A map (any resolution; resized bilinearly to the image) blended over an image. */
export interface OverlayPanel {
  kind: 'overlay';
  title: string;
  image: NDArray;
  map: NDArray;
  colormap: ColormapName;
  zmin: number;
  zmax: number;
  opacity: number;
}

/** A bar chart of signed values; `highlight` marks bars drawn in a stronger colour. */
export interface BarsPanel {
  kind: 'bars';
  title: string;
  values: number[];
  highlight?: number[];
}

export type StaticPanel = MapPanel | RgbPanel | OverlayPanel | BarsPanel;

/** What the PNG fallback draws: panels in a grid, an optional colour bar on the right. */
export interface StaticScene {
  title: string;
  panels: StaticPanel[];
  columns: number;
  /** Edge of each panel's square box in pixels. */
  panelSize: number;
  /** Panels that span several columns (index → columns). */
  spans?: Record<number, number>;
  colorbar?: { colormap: ColormapName; min: number; max: number };
}

/** The figure kinds this library makes (used by tests, sizes and renderers). */
export type FigureKind =
  | 'heatmap'
  | 'overlay'
  | 'classes'
  | 'layers'
  | 'featureMaps'
  | 'comparison'
  | 'guided'
  | 'image'
  | 'bars'
  | 'gallery'
  | 'evalBars'
  | 'curves';

/** A figure: interactive spec + static scene + a one-line text summary. */
export interface Figure {
  readonly kind: FigureKind;
  readonly title: string;
  /** One line of plain text (the text/plain MIME type and what a cell prints). */
  readonly summary: string;
  readonly plotly: PlotlyFigure;
  readonly scene: StaticScene;
}

/** True for objects made by the figure functions of this library. */
export function isFigure(x: unknown): x is Figure {
  if (typeof x !== 'object' || x === null) return false;
  const f = x as Partial<Figure>;
  return typeof f.kind === 'string' && typeof f.summary === 'string' && typeof f.plotly === 'object' && f.plotly !== null &&
    Array.isArray(f.plotly.data) && typeof f.scene === 'object' && f.scene !== null;
}

/** Throws a BAD_OPTION error unless `a` has the given rank. Returns its shape. */
export function expectRank(a: NDArray, ranks: readonly number[], what: string): readonly number[] {
  if (!ranks.includes(a.shape.length)) {
    throw new TslabCamError('BAD_OPTION', `${what} has shape [${a.shape.join(', ')}], expected rank ${ranks.join(' or ')}.`,
      'Pass the (h, w) map or the (H, W, C) image from the result.');
  }
  const n = a.shape.reduce((p, d) => p * d, 1);
  if (n !== a.data.length) {
    throw new TslabCamError('BAD_OPTION', `${what} has ${a.data.length} values but shape [${a.shape.join(', ')}].`,
      'Build the NDArray with data.length equal to the product of its shape.');
  }
  return a.shape;
}

/** Finite min and max of the values (0, 0 when there are none). */
export function range(values: ArrayLike<number>): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? { min, max } : { min: 0, max: 0 };
}

/** Rounds to `digits` significant digits so figures stay small; NaN/∞ become null. */
export function roundValue(v: number, digits = 4): number | null {
  if (!Number.isFinite(v)) return null;
  if (v === 0) return 0;
  return Number(v.toPrecision(digits));
}

/** A (h, w) map as rows of rounded numbers (plotly's z). */
export function mapRows(map: NDArray, digits = 4): (number | null)[][] {
  const [h, w] = expectRank(map, [2], 'map');
  const rows: (number | null)[][] = [];
  for (let y = 0; y < h; y++) {
    const row: (number | null)[] = new Array(w);
    for (let x = 0; x < w; x++) row[x] = roundValue(map.data[y * w + x], digits);
    rows.push(row);
  }
  return rows;
}

/** Channel `k` of an (h, w, K) array as an (h, w) map. */
export function channel(a: NDArray, k: number): NDArray {
  const [h, w, K] = expectRank(a, [3], 'feature maps');
  const out = new Float32Array(h * w);
  for (let i = 0; i < h * w; i++) out[i] = a.data[i * K + k];
  return { data: out, shape: [h, w] };
}

/**
 * An input image in [0, 1] for display, (H, W, 1|3): images already in [0, 1] are kept, 0–255
 * images are divided by 255, anything else (mean-subtracted inputs) is min-max scaled.
 * A leading batch dimension of 1 and alpha channels are dropped.
 */
export function displayImage(image: NDArray): NDArray {
  let shape = image.shape;
  if (shape.length === 4 && shape[0] === 1) shape = shape.slice(1);
  if (shape.length === 2) shape = [shape[0], shape[1], 1];
  expectRank({ data: image.data, shape }, [3], 'image');
  const [H, W, C] = shape;
  const outC = C >= 3 ? 3 : 1;
  const { min, max } = range(image.data);
  const scale = min >= 0 && max <= 1 ? (v: number) => v
    : min >= 0 && max <= 255 ? (v: number) => v / 255
      : (v: number) => (max > min ? (v - min) / (max - min) : 0);
  const out = new Float32Array(H * W * outC);
  for (let i = 0; i < H * W; i++) {
    for (let c = 0; c < outC; c++) {
      const v = scale(image.data[i * C + c]);
      out[i * outC + c] = Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
    }
  }
  return { data: out, shape: [H, W, outC] };
}

/**
 * Guided backprop / guided Grad-CAM gradients scaled for viewing the way the Grad-CAM paper shows
 * them (explain's displayGradient: mean → 0.5, one standard deviation → ±0.1, clipped to [0, 1]).
 */
export function guidedDisplay(gradient: NDArray): NDArray {
  return { data: displayGradient(gradient.data), shape: gradient.shape };
}

/** The explain layer's bilinear resize (half-pixel centres): the one upsampler of the project. */
export { resizeBilinear };
