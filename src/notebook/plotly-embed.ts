/**
 * plotly.js embedded offline, at most once per kernel session. The first figure displayed in a
 * session is preceded by one display_data holding the plotly.js bundle from node_modules in a
 * <script>; figures wait for window.Plotly (and the 'tslab-cam-plotly-ready' event this script
 * fires), so a figure shown before the embed, or loaded from a saved notebook, draws once plotly.js
 * is on the page and keeps its PNG when it never is.
 */
import * as fs from 'fs';
import type { DisplayContent } from './kernel';

/** The npm package whose minified bundle is embedded: the smallest official bundle with heatmap, image, bar and scatter. */
export const PLOTLY_PACKAGE = 'plotly.js-cartesian-dist-min';

/** Event fired on window when the embedded plotly.js has loaded. */
export const PLOTLY_READY_EVENT = 'tslab-cam-plotly-ready';

interface EmbedState {
  embedded: boolean;
}

/** Per-process state on globalThis, so two copies of this library in one kernel still embed once. */
function state(): EmbedState {
  const key = Symbol.for('tslab-cam.plotly-embed');
  const g = globalThis as unknown as Record<symbol, EmbedState | undefined>;
  let s = g[key];
  if (!s) {
    s = { embedded: false };
    g[key] = s;
  }
  return s;
}

let cachedSource: { js: string; version: string } | null = null;

/** The minified plotly.js source and its version, read once from node_modules. */
export function plotlySource(): { js: string; version: string } {
  if (cachedSource) return cachedSource;
  const file = require.resolve(`${PLOTLY_PACKAGE}/plotly-cartesian.min.js`);
  const pkg = JSON.parse(fs.readFileSync(require.resolve(`${PLOTLY_PACKAGE}/package.json`), 'utf8')) as { version?: string };
  let js = fs.readFileSync(file, 'utf8');
  // A literal "</script" would end the element early; the shipped bundle has none, but a future
  // one might, and "<\/" means the same inside JavaScript strings and regular expressions.
  js = js.replace(/<\/(script)/gi, '<\\/$1');
  cachedSource = { js, version: pkg.version ?? 'unknown' };
  return cachedSource;
}

/** The <script> that defines window.Plotly (unless already there) and announces it. */
export function plotlyScriptHtml(): string {
  const { js, version } = plotlySource();
  return `<script type="text/javascript" data-tslab-cam-plotly="${version}">\n` +
    `if (!window.Plotly) {\n${js}\n}\n` +
    `window.dispatchEvent(new Event('${PLOTLY_READY_EVENT}'));\n</script>`;
}

/** The display_data content that embeds plotly.js. */
export function plotlyEmbedContent(): DisplayContent {
  const { js, version } = plotlySource();
  const mb = (js.length / 1e6).toFixed(1);
  return {
    data: {
      'text/html': plotlyScriptHtml(),
      'text/plain': `plotly.js ${version} (${PLOTLY_PACKAGE}, ${mb} MB) embedded once for this kernel session`,
    },
    metadata: {},
  };
}

/** True once plotly.js has been sent in this kernel session. */
export function plotlyEmbedded(): boolean {
  return state().embedded;
}

/** Records that plotly.js was sent (or must be sent again: `false`, e.g. for tests). */
export function markPlotlyEmbedded(value: boolean): void {
  state().embedded = value;
}
