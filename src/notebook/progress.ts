/**
 * Progress bars for long work (training, evaluation over many images, Score-CAM). In a tslab
 * notebook the bar is one output updated in place through a display id; elsewhere it is a
 * terminal line redrawn with a carriage return (or a few plain lines when stderr is not a TTY).
 */
import { escapeHtml } from '../render/escape';
import { kernelWriter, newDisplayId, type DisplayContent } from './kernel';

/** Something text can be written to (process.stderr by default). */
export interface TextSink {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface ProgressOptions {
  /** Number of steps that make 100 %. */
  total: number;
  /** Shown before the bar, e.g. "training". */
  label?: string;
  /** Bar width in characters (terminal and text/plain). Default 30. */
  width?: number;
  /** Minimum time between redraws, so a tight loop does not flood the notebook. Default 150 ms. */
  minIntervalMs?: number;
  /** Force a mode instead of detecting the kernel. */
  mode?: 'notebook' | 'terminal' | 'silent';
  /** Where the terminal bar goes. Default process.stderr. */
  stream?: TextSink;
}

export interface Progress {
  /** Advances by `n` steps (default 1); `note` replaces the text after the bar (e.g. "loss 0.31"). */
  tick(n?: number, note?: string): void;
  /** Sets the absolute number of steps done. */
  update(value: number, note?: string): void;
  /** Marks the work finished (fills the bar to the steps done) and draws the last state. */
  done(note?: string): void;
  readonly value: number;
  readonly total: number;
}

/** A snapshot of a bar, from which both the text and the HTML forms are drawn. */
export interface ProgressState {
  label: string;
  value: number;
  total: number;
  elapsedMs: number;
  note: string;
  finished: boolean;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}

/** Fraction done in [0, 1] (a zero total counts as done). */
export function progressFraction(s: ProgressState): number {
  if (s.total <= 0) return 1;
  return Math.min(1, Math.max(0, s.value / s.total));
}

/** Remaining time from the average rate so far, or '' before there is a rate. */
function eta(s: ProgressState): string {
  if (s.finished || s.value <= 0 || s.value >= s.total) return '';
  return seconds((s.elapsedMs / s.value) * (s.total - s.value));
}

/** One line: `label [######------] 12/30 40% 1.2s eta 1.8s note`. */
export function progressText(s: ProgressState, width = 30): string {
  const frac = progressFraction(s);
  const filled = Math.round(frac * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  const e = eta(s);
  const parts = [s.label, `[${bar}]`, `${s.value}/${s.total}`, `${Math.round(frac * 100)}%`, seconds(s.elapsedMs)];
  if (e) parts.push(`eta ${e}`);
  if (s.finished) parts.push('done');
  if (s.note) parts.push(s.note);
  return parts.filter((p) => p !== '').join(' ');
}

/** The notebook form: a coloured bar with the same facts as the text line, all text escaped. */
export function progressHtml(s: ProgressState): string {
  const pct = (progressFraction(s) * 100).toFixed(1);
  const colour = s.finished ? '#2e7d32' : '#1f77b4';
  const e = eta(s);
  const facts = `${s.value}/${s.total} · ${Math.round(progressFraction(s) * 100)}% · ${seconds(s.elapsedMs)}` +
    (e ? ` · eta ${e}` : '') + (s.finished ? ' · done' : '') + (s.note ? ` · ${s.note}` : '');
  return '<div class="tslab-cam-progress" style="font-family:monospace;font-size:12px;display:flex;align-items:center;gap:8px">' +
    (s.label ? `<span>${escapeHtml(s.label)}</span>` : '') +
    '<span style="display:inline-block;width:240px;height:10px;background:#e0e0e0;border-radius:3px;overflow:hidden">' +
    `<span style="display:block;height:100%;width:${pct}%;background:${colour}"></span></span>` +
    `<span>${escapeHtml(facts)}</span></div>`;
}

/**
 * Creates a progress bar. In a tslab kernel it is drawn in the cell's output and updated in place;
 * outside, it is drawn on stderr. Redraws are throttled; `done()` always draws.
 */
export function createProgress(options: ProgressOptions): Progress {
  const total = Math.max(0, Math.floor(options.total));
  const label = options.label ?? '';
  const width = options.width ?? 30;
  const minInterval = options.minIntervalMs ?? 150;
  const stream: TextSink = options.stream ?? process.stderr;
  const mode = options.mode ?? (kernelWriter() ? 'notebook' : 'terminal');
  const start = Date.now();
  const displayId = newDisplayId();
  let value = 0;
  let note = '';
  let finished = false;
  let shown = false;
  let lastDraw = -Infinity;
  let lastDecile = -1;
  let lastLineLength = 0;

  const state = (): ProgressState => ({ label, value, total, elapsedMs: Date.now() - start, note, finished });

  function drawNotebook(s: ProgressState): void {
    const write = kernelWriter();
    if (!write) return;
    const content: DisplayContent = {
      data: { 'text/plain': progressText(s, width), 'text/html': progressHtml(s) },
      metadata: {},
      transient: { display_id: displayId },
    };
    write(content, shown);
    shown = true;
  }

  function drawTerminal(s: ProgressState): void {
    const line = progressText(s, width);
    if (stream.isTTY) {
      // Pad so a shorter line fully covers the previous one.
      stream.write('\r' + line.padEnd(lastLineLength) + (s.finished ? '\n' : ''));
      lastLineLength = line.length;
      return;
    }
    // Logs and CI: one line per tenth, and the final line.
    const decile = Math.floor(progressFraction(s) * 10);
    if (s.finished || decile > lastDecile) {
      lastDecile = decile;
      stream.write(line + '\n');
    }
  }

  function draw(force: boolean): void {
    if (mode === 'silent') return;
    const now = Date.now();
    if (!force && now - lastDraw < minInterval) return;
    lastDraw = now;
    const s = state();
    if (mode === 'notebook') drawNotebook(s);
    else drawTerminal(s);
  }

  const progress: Progress = {
    tick(n = 1, newNote?: string) {
      progress.update(value + n, newNote);
    },
    update(v: number, newNote?: string) {
      if (finished) return;
      value = Math.max(0, Math.min(total, Math.floor(v)));
      if (newNote !== undefined) note = newNote;
      draw(false);
    },
    done(newNote?: string) {
      if (finished) return;
      if (newNote !== undefined) note = newNote;
      finished = true;
      draw(true);
    },
    get value() {
      return value;
    },
    get total() {
      return total;
    },
  };
  draw(true);
  return progress;
}
