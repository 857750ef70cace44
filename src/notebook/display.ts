/**
 * The renderer registry and show(): values → display bundles → the notebook. tslab has no
 * formatter registry of its own, so this is it: the library registers renderers for its results,
 * tensors and figures (renderers.ts), users register their own, and `show(x)` or a result as a
 * cell's last expression (via util.inspect.custom) sends the bundle through the kernel.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TslabCamError } from '../errors';
import { escapeHtml } from '../render/escape';
import { isFigure, type Figure } from '../render/spec';
import type { FeatureMapOptions, OverlayOptions } from '../render/figures';
import { figureBundle, isDisplayBundle, PLOTLY_MIME, type BundleOptions, type DisplayBundle } from './bundle';
import { inTslab, kernelWriter, sendDisplay, type Delivery, type DisplayContent } from './kernel';
import { markPlotlyEmbedded, plotlyEmbedContent, plotlyEmbedded, plotlyScriptHtml } from './plotly-embed';

/** What a renderer may return: a figure (made into a bundle here) or a ready bundle. */
export type Rendered = Figure | DisplayBundle;

/** Options of show() and of renderers. */
export interface ShowOptions extends BundleOptions, OverlayOptions, FeatureMapOptions {
  /** Send plotly.js before the first figure of the session (default true; see setDisplayOptions). */
  embedPlotly?: boolean;
}

/** A registered renderer. */
export interface RendererEntry {
  readonly name: string;
  readonly match: (value: unknown) => boolean;
  readonly render: (value: unknown, options: ShowOptions) => Rendered;
  /** The one line the value prints (cheap: no figure is built), when the renderer provides it. */
  readonly summary?: (value: unknown) => string;
}

/** A renderer's name and, optionally, the one line its values print. */
export interface RendererOptions<T> {
  name?: string;
  summary?: (value: T) => string;
}

/** The session-wide options setDisplayOptions changes. */
export interface SessionDisplayOptions {
  embedPlotly: boolean;
  plotlyMime: boolean;
  pngMime: boolean;
}

const registry: RendererEntry[] = [];
let defaults: SessionDisplayOptions = { embedPlotly: true, plotlyMime: true, pngMime: false };

/**
 * Session-wide display options. `embedPlotly: false` skips the plotly.js embed where the frontend
 * renders the plotly MIME type itself (JupyterLab with jupyterlab-plotly, VS Code); `plotlyMime:
 * false` drops the plotly JSON MIME type to make saved notebooks smaller; `pngMime: true` adds
 * image/png (a second copy of the static image, which is inside text/html already) for viewers
 * that show image/png but not HTML.
 */
export function setDisplayOptions(options: Partial<SessionDisplayOptions>): SessionDisplayOptions {
  defaults = { ...defaults, ...options };
  return { ...defaults };
}

/**
 * Registers a renderer: values for which `match` is true display as `render` returns. Renderers
 * registered later win, so users can override the library's. The third argument is a name or
 * {name, summary}. Returns a function that removes the renderer.
 */
export function registerRenderer<T>(match: (value: unknown) => value is T, render: (value: T, options: ShowOptions) => Rendered,
  options?: string | RendererOptions<T>): () => void;
export function registerRenderer(match: (value: unknown) => boolean, render: (value: unknown, options: ShowOptions) => Rendered,
  options?: string | RendererOptions<unknown>): () => void;
export function registerRenderer(match: (value: unknown) => boolean, render: (value: never, options: ShowOptions) => Rendered,
  options?: string | RendererOptions<never>): () => void {
  const o = typeof options === 'string' ? { name: options } : options ?? {};
  const entry: RendererEntry = {
    name: o.name ?? `renderer ${registry.length + 1}`,
    match,
    render: render as (value: unknown, options: ShowOptions) => Rendered,
    summary: o.summary as ((value: unknown) => string) | undefined,
  };
  registry.push(entry);
  return () => {
    const i = registry.indexOf(entry);
    if (i >= 0) registry.splice(i, 1);
  };
}

/** The renderer that would display `value` (the most recently registered match), if any. */
export function findRenderer(value: unknown): RendererEntry | undefined {
  for (let i = registry.length - 1; i >= 0; i--) {
    let ok = false;
    try {
      ok = registry[i].match(value);
    } catch {
      ok = false; // a broken matcher must not stop the others
    }
    if (ok) return registry[i];
  }
  return undefined;
}

/** Names of the registered renderers, most recent first. */
export function rendererNames(): string[] {
  return registry.map((r) => r.name).reverse();
}

/** The display bundle of any registered value (figures and bundles pass through). */
export function toBundle(value: unknown, options: ShowOptions = {}): DisplayBundle {
  const opts = { ...defaults, ...options };
  if (isDisplayBundle(value)) return value;
  if (isFigure(value)) return figureBundle(value, opts);
  const entry = findRenderer(value);
  if (!entry) {
    throw new TslabCamError('BAD_OPTION', `No renderer for this value (${describe(value)}).`,
      'Pass a tslab-cam result, tensor or figure, or registerRenderer(match, render) for your type.');
  }
  const out = entry.render(value, opts);
  return isFigure(out) ? figureBundle(out, opts) : out;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor && ctor !== 'Object' ? ctor : `object with keys ${Object.keys(value).slice(0, 6).join(', ')}`;
}

/** A bundle as display_data content (Jupyter wants the plotly JSON as an object, the PNG as base64). */
function toContent(bundle: DisplayBundle): DisplayContent {
  const data: DisplayContent['data'] = {};
  for (const [mime, payload] of Object.entries(bundle.data)) {
    if (payload !== undefined) data[mime] = payload as DisplayContent['data'][string];
  }
  return { data, metadata: bundle.metadata };
}

/** Whether a bundle needs plotly.js on the page. */
function needsPlotly(bundle: DisplayBundle): boolean {
  return bundle.data[PLOTLY_MIME] !== undefined || (bundle.data['text/html'] ?? '').includes('window.Plotly.newPlot');
}

/**
 * Sends a bundle to the notebook, preceded by the plotly.js embed the first time in this kernel
 * session. Returns how it was delivered ('none' outside a kernel).
 */
export function displayBundle(bundle: DisplayBundle, options: ShowOptions = {}): Delivery {
  const opts = { ...defaults, ...options };
  if (!kernelWriter() && !inTslab()) return 'none';
  if (opts.embedPlotly && needsPlotly(bundle) && !plotlyEmbedded()) {
    if (sendDisplay(plotlyEmbedContent()) !== 'none') markPlotlyEmbedded(true);
  }
  return sendDisplay(toContent(bundle));
}

/**
 * Sends plotly.js to the notebook now (once per session unless `force`): for a setup cell, or after
 * figures were shown with `embedPlotly: false` — those figures draw as soon as it arrives.
 */
export function loadPlotly(force = false): Delivery {
  if (plotlyEmbedded() && !force) return 'none';
  const delivery = sendDisplay(plotlyEmbedContent());
  if (delivery !== 'none') markPlotlyEmbedded(true);
  return delivery;
}

/**
 * Displays `value` in the notebook (any registered value: results, tensors, figures, bundles).
 * Outside a kernel it prints the one-line summary instead; use toBundle/saveHtml/savePng there.
 */
export function show(value: unknown, options: ShowOptions = {}): void {
  const bundle = toBundle(value, options);
  if (displayBundle(bundle, options) === 'none') process.stdout.write(bundle.data['text/plain'] + '\n');
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** The one line a displayable value prints (the bundle's text without rendering PNGs). */
export type SummaryFn = (value: object) => string;

/**
 * Makes `value` display itself when it is a cell's last expression: tslab console.logs that value,
 * Node calls util.inspect.custom, and the hook sends the bundle and returns one short line. Nested
 * inside other logged values, and outside a kernel, it only returns the line (so logging a result
 * never dumps its Float32Arrays). Returns the same object (or a copy if it was frozen).
 */
export function displayable<T extends object>(value: T, summary?: SummaryFn): T {
  const target: T = Object.isExtensible(value) ? value : ({ ...value } as T);
  const line = (self: object): string => {
    if (summary) return summary(self);
    const text = (() => {
      try {
        if (isFigure(self)) return self.summary;
        return undefined;
      } catch {
        return undefined;
      }
    })();
    return text ?? describe(self);
  };
  Object.defineProperty(target, INSPECT, {
    enumerable: false,
    configurable: true,
    writable: true,
    value: function inspectHook(this: object, depth: number, options: { depth?: number | null }): string {
      const topLevel = depth === (options?.depth ?? depth);
      if (topLevel && (kernelWriter() !== null || inTslab())) {
        try {
          show(this);
          return line(this);
        } catch (e) {
          return `${line(this)} (display failed: ${e instanceof Error ? e.message : String(e)})`;
        }
      }
      return line(this);
    },
  });
  return target;
}

/** A standalone HTML page for a value: plotly.js inlined (default) so the file works offline. */
export function pageHtml(value: unknown, options: ShowOptions & { title?: string } = {}): string {
  const bundle = toBundle(value, options);
  const title = options.title ?? bundle.data['text/plain'];
  const body = bundle.data['text/html'] ?? `<pre>${escapeHtml(bundle.data['text/plain'])}</pre>`;
  const embed = options.embedPlotly === false || !needsPlotly(bundle) ? '' : plotlyScriptHtml();
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>\n` +
    `<body style="font-family:sans-serif">\n${embed}\n${body}\n</body></html>\n`;
}

/** Writes `value` as a standalone .html page; returns the absolute path. */
export function saveHtml(value: unknown, file: string, options: ShowOptions & { title?: string } = {}): string {
  const out = path.resolve(file);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, pageHtml(value, options));
  return out;
}

/** Writes `value`'s PNG fallback to a .png file; returns the absolute path. */
export function savePng(value: unknown, file: string): string {
  const bundle = toBundle(value, { pngMime: true });
  const png = bundle.data['image/png'];
  if (!png) throw new TslabCamError('BAD_OPTION', 'This value has no PNG form.', 'Use saveHtml for HTML-only displays.');
  const out = path.resolve(file);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, Buffer.from(png, 'base64'));
  return out;
}
