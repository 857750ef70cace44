/**
 * The bridge to a running tslab kernel. tslab's public `display` API sends one MIME type per
 * message, so to send a multi-MIME bundle (plotly JSON + HTML + PNG + text) we call the writer
 * that tslab's own `dist/jupyter.js` keeps for the cell being executed. We look that module up in
 * Node's module cache (the kernel's copy, not a second copy in the project's node_modules), and
 * fall back to tslab's single-MIME `display.html` when the writer cannot be found.
 */

import type { JsonValue } from '../render/spec';
import { inTslab } from '../host';

/** The `content` of a Jupyter display_data / update_display_data message. */
export interface DisplayContent {
  /** MIME type → payload (strings; binary payloads are base64; JSON MIME types hold JSON). */
  data: Record<string, JsonValue>;
  metadata: Record<string, JsonValue>;
  transient?: { display_id?: string };
}

/** tslab's writer: sends display_data, or update_display_data when `update` is true. */
export type WriteDisplayData = (content: DisplayContent, update: boolean) => void;

interface TslabGlobal {
  require?: (id: string) => unknown;
}

interface TslabPublic {
  display?: { raw?: (mime: string, data: string) => void };
}

let override: WriteDisplayData | null | undefined;

/**
 * Replaces the kernel writer (tests, or hosts other than tslab that accept display_data).
 * Pass `undefined` to go back to detecting tslab.
 */
export function useDisplayWriter(writer: WriteDisplayData | null | undefined): void {
  override = writer;
}

export { inTslab };

const JUPYTER_MODULE = /[\\/]tslab[\\/]dist[\\/]jupyter\.js$/;

/**
 * The running kernel's display writer, or null outside a kernel. It is read afresh on every call
 * because tslab replaces it for each executed cell (messages must carry the current cell's parent).
 */
export function kernelWriter(): WriteDisplayData | null {
  if (override !== undefined) return override;
  if (!inTslab()) return null;
  const cache = require.cache;
  for (const id of Object.keys(cache)) {
    if (!JUPYTER_MODULE.test(id)) continue;
    const exp = cache[id]?.exports as { lastWriteDisplayData?: unknown } | undefined;
    if (exp && typeof exp.lastWriteDisplayData === 'function') {
      const write = exp.lastWriteDisplayData as WriteDisplayData;
      return (content, update) => write(content, update);
    }
  }
  return null;
}

/** tslab's single-MIME fallback `display.raw`, reached through the kernel's own require. */
function tslabRaw(): ((mime: string, data: string) => void) | null {
  const g = (globalThis as { __tslab__?: TslabGlobal }).__tslab__;
  if (!g || typeof g.require !== 'function') return null;
  try {
    const pub = g.require('tslab') as TslabPublic;
    const raw = pub.display?.raw;
    return typeof raw === 'function' ? raw.bind(pub.display) : null;
  } catch {
    return null;
  }
}

/** How a display was delivered: the full bundle, one MIME type through tslab's API, or not at all. */
export type Delivery = 'bundle' | 'single-mime' | 'none';

/**
 * Sends `content` to the notebook. With the kernel writer the whole bundle goes out; otherwise
 * tslab's `display.raw` sends its text/html (the richest type every frontend shows), or the text.
 */
export function sendDisplay(content: DisplayContent, update = false): Delivery {
  const write = kernelWriter();
  if (write) {
    write(content, update);
    return 'bundle';
  }
  // Updating in place needs the display id, which only the writer can carry.
  if (update) return 'none';
  const raw = tslabRaw();
  if (!raw) return 'none';
  const html = content.data['text/html'];
  const text = content.data['text/plain'];
  try {
    if (typeof html === 'string') raw('text/html', html);
    else if (typeof text === 'string') raw('text/plain', text);
    else return 'none';
  } catch {
    // tslab throws "Not ready" before its first cell has run.
    return 'none';
  }
  return 'single-mime';
}

/** A fresh display id for content updated in place (progress bars). */
export function newDisplayId(): string {
  const hex = '0123456789abcdef';
  let id = 'tslab-cam-';
  for (let i = 0; i < 16; i++) id += hex[Math.floor(Math.random() * 16)];
  return id;
}
