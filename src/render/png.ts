/**
 * PNG rendering of figures' static scenes with @napi-rs/canvas (a prebuilt binary, so no system
 * cairo is needed). These PNGs are the fallback wherever plotly cannot run: GitHub, untrusted
 * notebooks, JavaScript disabled, exported files.
 *
 * Every canvas here is one of a few reused ones, and encoded images leave them through model/canvas.ts
 * (which says why: a new canvas, an ImageData or an encoder Buffer per figure held its native memory
 * until the event loop turned, ~6 MiB a figure in a synchronous loop). Reuse changes no byte:
 * each use starts from a freshly reset canvas.
 */
import type { SKRSContext2D } from '@napi-rs/canvas';
import { CanvasSlot, canvasPng, encodeRgbaJpeg, encodeRgbaPng, putPixels } from '../model/canvas';
import { readPngPixels } from '../model/pngRead';
import type { NDArray } from '../explain/types';
import { colormapTable, type ColormapName } from './colormap';
import { encodePng8 } from './png8';
import { displayImage, expectRank, range, resizeBilinear, type StaticPanel, type StaticScene } from './spec';

const MARGIN = 8;
const TITLE_H = 22;
const PANEL_TITLE_H = 16;
const COLORBAR_W = 64;
const FONT = '"DejaVu Sans", "Liberation Sans", sans-serif';

/** RGBA pixels of a (h, w) map through a colour map, `zmin`..`zmax` mapped to the ends. */
export function mapPixels(map: NDArray, name: ColormapName, zmin: number, zmax: number): Uint8ClampedArray {
  const [h, w] = expectRank(map, [2], 'map');
  const lut = colormapTable(name);
  const span = zmax > zmin ? zmax - zmin : 1;
  const px = new Uint8ClampedArray(h * w * 4);
  for (let i = 0; i < h * w; i++) {
    const v = map.data[i];
    const t = Number.isFinite(v) ? Math.min(255, Math.max(0, Math.round(((v - zmin) / span) * 255))) : 0;
    px[i * 4] = lut[t * 3];
    px[i * 4 + 1] = lut[t * 3 + 1];
    px[i * 4 + 2] = lut[t * 3 + 2];
    px[i * 4 + 3] = 255;
  }
  return px;
}

/** RGBA pixels of an image (any range; shown as displayImage scales it). */
export function imagePixels(image: NDArray): { px: Uint8ClampedArray; width: number; height: number } {
  const img = displayImage(image);
  const [H, W, C] = img.shape;
  const px = new Uint8ClampedArray(H * W * 4);
  for (let i = 0; i < H * W; i++) {
    const r = img.data[i * C];
    const g = C === 3 ? img.data[i * C + 1] : r;
    const b = C === 3 ? img.data[i * C + 2] : r;
    px[i * 4] = Math.round(r * 255);
    px[i * 4 + 1] = Math.round(g * 255);
    px[i * 4 + 2] = Math.round(b * 255);
    px[i * 4 + 3] = 255;
  }
  return { px, width: W, height: H };
}

/** The image with the map (resized to it) blended on top at `opacity`. */
export function overlayPixels(image: NDArray, map: NDArray, name: ColormapName, zmin: number, zmax: number, opacity: number)
  : { px: Uint8ClampedArray; width: number; height: number } {
  const base = imagePixels(image);
  const m = resizeBilinear(map, base.height, base.width);
  const heat = mapPixels(m, name, zmin, zmax);
  const a = Math.min(1, Math.max(0, opacity));
  for (let i = 0; i < base.px.length; i += 4) {
    for (let c = 0; c < 3; c++) base.px[i + c] = Math.round(base.px[i + c] * (1 - a) + heat[i + c] * a);
  }
  return base;
}

/** Encodes RGBA pixels as PNG bytes. */
export function encodePng(px: Uint8ClampedArray, width: number, height: number): Buffer {
  return encodeRgbaPng(px, width, height);
}

/** An image as a PNG (or JPEG, much smaller for photographs) data: URI, for plotly image traces. */
export function imageDataUri(image: NDArray, format: 'png' | 'jpeg' = 'png'): string {
  const { px, width, height } = imagePixels(image);
  if (format === 'png') return 'data:image/png;base64,' + encodePng(px, width, height).toString('base64');
  return 'data:image/jpeg;base64,' + encodeRgbaJpeg(px, width, height, 80).toString('base64');
}

/** The figure being drawn, and the small images drawn into it (panels, the colour bar). */
const sceneSlot = new CanvasSlot();
const tileSlot = new CanvasSlot();

interface Cell {
  panel: StaticPanel;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Where every panel goes: rows of `columns` boxes, some spanning several columns. */
function layoutScene(scene: StaticScene): { cells: Cell[]; width: number; height: number } {
  const cols = Math.max(1, scene.columns);
  const box = scene.panelSize;
  const cellW = box + MARGIN;
  const cellH = box + PANEL_TITLE_H + MARGIN;
  const top = MARGIN + (scene.title ? TITLE_H : 0);
  const cells: Cell[] = [];
  let col = 0;
  let row = 0;
  scene.panels.forEach((panel, i) => {
    const span = Math.min(cols, scene.spans?.[i] ?? 1);
    if (col + span > cols) {
      col = 0;
      row++;
    }
    cells.push({ panel, x: MARGIN + col * cellW, y: top + row * cellH, w: span * cellW - MARGIN, h: box });
    col += span;
  });
  const rows = scene.panels.length ? row + 1 : 0;
  const width = MARGIN + cols * cellW + (scene.colorbar ? COLORBAR_W : 0);
  const height = top + rows * cellH;
  return { cells, width, height };
}

/** Pixel size of the PNG that renderScenePng draws for `scene`. */
export function sceneSize(scene: StaticScene): { width: number; height: number } {
  const { width, height } = layoutScene(scene);
  return { width, height };
}

/** Draws RGBA pixels scaled into a box, keeping the aspect ratio; nearest-neighbour so cells stay visible. */
function drawPixels(ctx: SKRSContext2D, px: Uint8ClampedArray, pw: number, ph: number, x: number, y: number, w: number, h: number): void {
  const { canvas: tile, ctx: tctx } = tileSlot.fresh(pw, ph);
  putPixels(tctx, px, pw, ph);
  const scale = Math.min(w / pw, h / ph);
  const dw = pw * scale;
  const dh = ph * scale;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(tile, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
}

function drawBars(ctx: SKRSContext2D, values: number[], highlight: number[] | undefined, x: number, y: number, w: number, h: number): void {
  const { min, max } = range(values);
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  const span = hi > lo ? hi - lo : 1;
  const zeroY = y + h * (hi / span);
  const bw = w / Math.max(1, values.length);
  const marked = new Set(highlight ?? []);
  ctx.fillStyle = '#fafafa';
  ctx.fillRect(x, y, w, h);
  values.forEach((v, i) => {
    const bh = (Math.abs(v) / span) * h;
    ctx.fillStyle = marked.has(i) ? '#d62728' : '#1f77b4';
    ctx.fillRect(x + i * bw + bw * 0.1, v >= 0 ? zeroY - bh : zeroY, Math.max(1, bw * 0.8), Math.max(0.5, bh));
  });
  ctx.fillStyle = '#444';
  ctx.fillRect(x, zeroY, w, 1);
}

/** `text` cut to fit `maxWidth` with an ellipsis (canvas would squeeze it instead). */
export function fitText(measure: (s: string) => number, text: string, maxWidth: number): string {
  if (measure(text) <= maxWidth) return text;
  let lo = 0;
  let hi = text.length;
  // Longest prefix that fits with the ellipsis (binary search: titles can be long).
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(text.slice(0, mid) + '…') <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + '…';
}

function drawText(ctx: SKRSContext2D, text: string, x: number, y: number, maxWidth: number): void {
  ctx.fillText(fitText((s) => ctx.measureText(s).width, text, maxWidth), x, y);
}

function drawPanel(ctx: SKRSContext2D, c: Cell): void {
  const p = c.panel;
  ctx.fillStyle = '#222';
  ctx.font = `11px ${FONT}`;
  ctx.textBaseline = 'top';
  drawText(ctx, p.title, c.x, c.y, c.w);
  const y = c.y + PANEL_TITLE_H;
  switch (p.kind) {
    case 'map': {
      const [h, w] = p.map.shape;
      drawPixels(ctx, mapPixels(p.map, p.colormap, p.zmin, p.zmax), w, h, c.x, y, c.w, c.h);
      break;
    }
    case 'rgb': {
      const img = imagePixels(p.image);
      drawPixels(ctx, img.px, img.width, img.height, c.x, y, c.w, c.h);
      break;
    }
    case 'overlay': {
      const img = overlayPixels(p.image, p.map, p.colormap, p.zmin, p.zmax, p.opacity);
      drawPixels(ctx, img.px, img.width, img.height, c.x, y, c.w, c.h);
      break;
    }
    case 'bars':
      drawBars(ctx, p.values, p.highlight, c.x, y, c.w, c.h);
      break;
  }
}

function formatTick(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

function drawColorbar(ctx: SKRSContext2D, bar: NonNullable<StaticScene['colorbar']>, x: number, y: number, h: number): void {
  const steps = 64;
  const px = new Uint8ClampedArray(steps * 4);
  const lut = colormapTable(bar.colormap);
  for (let i = 0; i < steps; i++) {
    // Top of the bar is the maximum.
    const t = Math.round(((steps - 1 - i) / (steps - 1)) * 255);
    px.set([lut[t * 3], lut[t * 3 + 1], lut[t * 3 + 2], 255], i * 4);
  }
  const { canvas: tile, ctx: tctx } = tileSlot.fresh(1, steps);
  putPixels(tctx, px, 1, steps);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(tile, x, y, 14, h);
  ctx.fillStyle = '#222';
  ctx.font = `10px ${FONT}`;
  ctx.textBaseline = 'top';
  ctx.fillText(formatTick(bar.max), x + 18, y);
  ctx.textBaseline = 'bottom';
  ctx.fillText(formatTick(bar.min), x + 18, y + h);
}

/** How the static PNG is encoded. */
export interface PngOptions {
  /**
   * 'auto' (default): palette PNG when the scene has ≤ 256 colours (lossless), a quantised
   * 256-colour PNG when truecolour would exceed `maxTruecolorBytes`, else truecolour.
   * 'truecolor' / 'indexed' force one encoding.
   */
  encoding?: 'auto' | 'truecolor' | 'indexed';
  /** Above this size a truecolour PNG is replaced by a 256-colour one (default 48 KiB). */
  maxTruecolorBytes?: number;
}

/** Renders a figure's static scene to PNG bytes (white background, titles, colour bar). */
export function renderScenePng(scene: StaticScene, options: PngOptions = {}): Buffer {
  const { cells, width, height } = layoutScene(scene);
  const { canvas, ctx } = sceneSlot.fresh(width, height);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);
  if (scene.title) {
    ctx.fillStyle = '#111';
    ctx.font = `bold 13px ${FONT}`;
    ctx.textBaseline = 'top';
    drawText(ctx, scene.title, MARGIN, MARGIN, width - 2 * MARGIN);
  }
  for (const c of cells) drawPanel(ctx, c);
  if (scene.colorbar && cells.length) {
    const top = cells[0].y + PANEL_TITLE_H;
    const bottom = cells.reduce((m, c) => Math.max(m, c.y + PANEL_TITLE_H + c.h), top);
    drawColorbar(ctx, scene.colorbar, width - COLORBAR_W + 4, top, bottom - top);
  }
  const encoding = options.encoding ?? 'auto';
  const truecolor = canvasPng(canvas);
  if (encoding === 'truecolor') return truecolor;
  // The drawn pixels, read back from the lossless PNG rather than getImageData (see above).
  const { px } = readPngPixels(truecolor);
  if (encoding === 'indexed') return encodePng8(px, width, height);
  if (truecolor.length <= (options.maxTruecolorBytes ?? 48 * 1024)) {
    // Small already: use the palette form only when it is lossless and smaller.
    const indexed = countColours(px, 257) <= 256 ? encodePng8(px, width, height) : null;
    return indexed && indexed.length < truecolor.length ? indexed : truecolor;
  }
  const indexed = encodePng8(px, width, height);
  return indexed.length < truecolor.length ? indexed : truecolor;
}

/** Distinct RGB colours, counting stops at `limit`. */
function countColours(px: Uint8ClampedArray, limit: number): number {
  const seen = new Set<number>();
  for (let i = 0; i < px.length && seen.size < limit; i += 4) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
  return seen.size;
}
