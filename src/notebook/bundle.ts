/**
 * Display bundles: one display_data with several MIME types so every frontend finds one it shows.
 * application/vnd.plotly.v1+json for frontends with a plotly renderer (JupyterLab extension, VS
 * Code), text/html (the PNG in an <img>, replaced by the interactive plot once window.Plotly is
 * there) for classic Notebook, JupyterLab, nbviewer and exported HTML, and a one-line text/plain.
 * image/png only on request (`pngMime`): Jupyter's frontends (classic, JupyterLab, VS Code,
 * nbconvert) render text/html and prefer it, so a second copy of the PNG only doubled the biggest
 * part of a saved figure (a 224×224 overlay over a photograph-like input: 206 KB with it, 139 KB
 * without, as scripts/display-sizes.ts counts).
 */
import { randomBytes } from 'crypto';
import { escapeHtml, jsonForScript, toJsonValue } from '../render/escape';
import type { Figure, JsonValue, PlotlyFigure } from '../render/spec';
import { renderScenePng, sceneSize } from '../render/png';
import { PLOTLY_READY_EVENT } from './plotly-embed';

/** The MIME type of plotly figures in Jupyter. */
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** A display bundle: MIME type → payload, as Jupyter's display_data carries it. */
export interface DisplayBundle {
  data: {
    'text/plain': string;
    'text/html'?: string;
    /** base64 PNG */
    'image/png'?: string;
    'application/vnd.plotly.v1+json'?: PlotlyFigure;
  };
  metadata: Record<string, JsonValue>;
}

export interface BundleOptions {
  /** Include the plotly JSON MIME type (default true). */
  plotlyMime?: boolean;
  /**
   * Also send the static image as image/png (default false: it is already inside text/html). For
   * viewers that render image/png but strip HTML outputs or their data: images.
   */
  pngMime?: boolean;
}

/** True for objects shaped like a DisplayBundle. */
export function isDisplayBundle(x: unknown): x is DisplayBundle {
  if (typeof x !== 'object' || x === null) return false;
  const d = (x as { data?: unknown }).data;
  return typeof d === 'object' && d !== null && typeof (d as { 'text/plain'?: unknown })['text/plain'] === 'string';
}

/** A fresh element id (hex, so it needs no escaping). */
function figureId(): string {
  return 'tslab-cam-' + randomBytes(6).toString('hex');
}

/**
 * The script that draws a figure: now if window.Plotly exists, else when the embed announces
 * itself, else by polling (plotly loaded some other way). The PNG is removed only after plotly
 * drew, so a failed draw still leaves the static image.
 */
function drawScript(id: string, figure: PlotlyFigure): string {
  return `<script type="text/javascript">
(function () {
  var id = "${id}";
  var fig = ${jsonForScript(figure)};
  function draw() {
    var host = document.getElementById(id);
    if (!host) return true;
    if (host.getAttribute("data-drawn")) return true;
    if (!window.Plotly) return false;
    host.setAttribute("data-drawn", "1");
    var plot = host.querySelector(".tslab-cam-plot");
    window.Plotly.newPlot(plot, fig.data, fig.layout, fig.config).then(function () {
      var img = host.querySelector("img.tslab-cam-fallback");
      if (img && img.parentNode) img.parentNode.removeChild(img);
    }, function (e) { host.removeAttribute("data-drawn"); console.error("tslab-cam: plotly failed", e); });
    return true;
  }
  if (draw()) return;
  function onReady() { if (draw()) window.removeEventListener("${PLOTLY_READY_EVENT}", onReady); }
  window.addEventListener("${PLOTLY_READY_EVENT}", onReady);
  var tries = 0;
  var timer = setInterval(function () { if (draw() || ++tries > 240) clearInterval(timer); }, 500);
})();
</script>`;
}

/** The text/html of a figure: a host div holding the PNG fallback and the plot's div, then the draw script. */
export function figureHtml(figure: Figure, png: Buffer, size: { width: number; height: number }): string {
  const id = figureId();
  const alt = escapeHtml(figure.summary);
  return `<div class="tslab-cam-figure" id="${id}">` +
    `<img class="tslab-cam-fallback" alt="${alt}" title="${escapeHtml(figure.title)}" width="${size.width}" height="${size.height}" ` +
    `src="data:image/png;base64,${png.toString('base64')}">` +
    '<div class="tslab-cam-plot"></div></div>\n' + drawScript(id, figure.plotly);
}

/** The full bundle of a figure (the PNG is rendered here, in Node). */
export function figureBundle(figure: Figure, options: BundleOptions = {}): DisplayBundle {
  const png = renderScenePng(figure.scene);
  const size = sceneSize(figure.scene);
  const bundle: DisplayBundle = {
    data: {
      'text/plain': figure.summary,
      'text/html': figureHtml(figure, png, size),
    },
    metadata: {},
  };
  if (options.pngMime === true) {
    bundle.data['image/png'] = png.toString('base64');
    bundle.metadata['image/png'] = { width: size.width, height: size.height };
  }
  if (options.plotlyMime !== false) bundle.data[PLOTLY_MIME] = toJsonValue(figure.plotly);
  return bundle;
}

/** A bundle of HTML and text only (tables, identity checks). */
export function htmlBundle(html: string, text: string): DisplayBundle {
  return { data: { 'text/plain': text, 'text/html': html }, metadata: {} };
}
