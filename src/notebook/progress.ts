/**
 * Progress bars for long work (training, evaluation over many images, Score-CAM). In a tslab
 * notebook the bar is one output updated in place through a display id; elsewhere it is a
 * terminal line redrawn with a carriage return (or a few plain lines when stderr is not a TTY).
 *
 * Long operations themselves only emit progress events (src/run/progress.ts). Loading this module
 * registers `progressBarSink()` as the default sink, so every long operation shows one bar
 * without being asked: in a notebook, or on a terminal; nothing when stderr is a pipe or a file.
 */
import { escapeHtml } from '../render/escape';
import { setDefaultProgressSink, type ProgressSink, type RunProgress } from '../run/progress';
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
  /** Name of a step ("steps", "channels"); when given, the bar also shows the rate in units/s. */
  unit?: string;
  /** Bar width in characters (terminal and text/plain). Default 30. */
  width?: number;
  /** Minimum time between redraws, so a tight loop does not flood the notebook. Default 150 ms. */
  minIntervalMs?: number;
  /** Force a mode instead of detecting the kernel. */
  mode?: 'notebook' | 'terminal' | 'silent';
  /** Where the terminal bar goes. Default process.stderr. */
  stream?: TextSink;
  /** Steps already done when the bar appears (default 0). */
  initial?: number;
  /** When the work started (Date.now() ms), if before the bar: elapsed time, rate and ETA count from it. */
  startedAt?: number;
}

export interface Progress {
  /** Advances by `n` steps (default 1); `note` replaces the text after the bar (e.g. "loss 0.31"). */
  tick(n?: number, note?: string): void;
  /** Sets the absolute number of steps done. */
  update(value: number, note?: string): void;
  /** Marks the work finished (fills the bar to the steps done) and draws the last state. */
  done(note?: string): void;
  /** Ends the bar as cancelled (the steps done stay as they are). */
  cancel(note?: string): void;
  /** Ends the bar as failed. */
  fail(note?: string): void;
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
  /** How it ended when finished (default 'done'). */
  outcome?: 'done' | 'cancelled' | 'failed';
  /** Unit name; when present the rate is shown. */
  unit?: string;
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

/** Units per second so far, e.g. "12.5 steps/s" ('' without a unit or before the first unit). */
function rate(s: ProgressState): string {
  if (!s.unit || s.value <= 0 || s.elapsedMs <= 0) return '';
  const r = (s.value * 1000) / s.elapsedMs;
  return `${r >= 100 ? Math.round(r) : r >= 10 ? r.toFixed(1) : r.toFixed(2)} ${s.unit}/s`;
}

/** One line: `label [######------] 12/30 steps 40% 1.2s 10.0 steps/s eta 1.8s note`. */
export function progressText(s: ProgressState, width = 30): string {
  const frac = progressFraction(s);
  const filled = Math.round(frac * width);
  const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
  const e = eta(s);
  const parts = [s.label, `[${bar}]`, `${s.value}/${s.total}${s.unit ? ` ${s.unit}` : ''}`, `${Math.round(frac * 100)}%`, seconds(s.elapsedMs), rate(s)];
  if (e) parts.push(`eta ${e}`);
  if (s.finished) parts.push(s.outcome ?? 'done');
  if (s.note) parts.push(s.note);
  return parts.filter((p) => p !== '').join(' ');
}

/** The notebook form: a coloured bar with the same facts as the text line, all text escaped. */
export function progressHtml(s: ProgressState): string {
  const pct = (progressFraction(s) * 100).toFixed(1);
  const outcome = s.outcome ?? 'done';
  const colour = !s.finished ? '#1f77b4' : outcome === 'done' ? '#2e7d32' : outcome === 'cancelled' ? '#ef6c00' : '#c62828';
  const e = eta(s);
  const r = rate(s);
  const facts = `${s.value}/${s.total}${s.unit ? ` ${s.unit}` : ''} · ${Math.round(progressFraction(s) * 100)}% · ${seconds(s.elapsedMs)}` +
    (r ? ` · ${r}` : '') + (e ? ` · eta ${e}` : '') + (s.finished ? ` · ${outcome}` : '') + (s.note ? ` · ${s.note}` : '');
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
  const start = options.startedAt ?? Date.now();
  const displayId = newDisplayId();
  let value = Math.max(0, Math.min(total, Math.floor(options.initial ?? 0)));
  let note = '';
  let finished = false;
  let outcome: 'done' | 'cancelled' | 'failed' = 'done';
  let shown = false;
  let lastDraw = -Infinity;
  let lastDecile = -1;
  let lastLineLength = 0;

  const state = (): ProgressState => ({ label, value, total, elapsedMs: Date.now() - start, note, finished, outcome, unit: options.unit });

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

  function finish(how: 'done' | 'cancelled' | 'failed', newNote?: string): void {
    if (finished) return;
    if (newNote !== undefined) note = newNote;
    finished = true;
    outcome = how;
    draw(true);
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
      finish('done', newNote);
    },
    cancel(newNote?: string) {
      finish('cancelled', newNote);
    },
    fail(newNote?: string) {
      finish('failed', newNote);
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

export interface ProgressBarSinkOptions {
  /** Force a mode; by default: notebook in a tslab kernel, terminal when stderr is a TTY, else nothing. */
  mode?: 'notebook' | 'terminal' | 'silent';
  stream?: TextSink;
  minIntervalMs?: number;
  width?: number;
  /**
   * A run shows its bar only once it has lasted this long (default 500 ms), so quick calls that
   * go through the same runner (one image, a few chunks) print nothing.
   */
  minShowMs?: number;
}

/** A run's bar, and the text of the run nested in it (e.g. Score-CAM inside evaluate). */
interface BarEntry {
  bar: Progress;
  detail: string;
  nested: string;
}

function autoMode(stream: TextSink): 'notebook' | 'terminal' | 'silent' {
  if (kernelWriter()) return 'notebook';
  return stream.isTTY ? 'terminal' : 'silent';
}

/**
 * A progress sink that draws one bar per top-level run (count, rate, ETA, detail) and ends it as
 * done, cancelled or failed; runs shorter than `minShowMs` draw nothing. A run started inside another run's chunk gets no bar of its own: its
 * label and count are shown in its top-level run's bar ("evaluate · scene 3/100 · Score-CAM
 * 512/1280 channels").
 */
export function progressBarSink(options: ProgressBarSinkOptions = {}): ProgressSink {
  const bars = new Map<number, BarEntry>();
  const rootOf = new Map<number, number>();
  const stream = options.stream ?? process.stderr;
  const text = (e: BarEntry): string => [e.detail, e.nested].filter((t) => t !== '').join(' · ');
  return (p: RunProgress) => {
    if (p.depth > 0 && p.parent !== null) {
      const root = rootOf.get(p.parent) ?? p.parent;
      rootOf.set(p.id, root);
      const entry = bars.get(root);
      if (!entry) return;
      entry.nested = p.state === 'running' ? `${p.label} ${p.done}/${p.total} ${p.unit}${p.detail ? ` ${p.detail}` : ''}` : '';
      entry.bar.update(entry.bar.value, text(entry));
      if (p.state !== 'running') rootOf.delete(p.id);
      return;
    }
    let entry = bars.get(p.id);
    if (!entry && p.elapsedMs < (options.minShowMs ?? 500)) return;
    if (!entry) {
      const mode = options.mode ?? autoMode(stream);
      entry = {
        bar: createProgress({
          total: p.total, label: p.label, unit: p.unit, mode, stream, minIntervalMs: options.minIntervalMs, width: options.width,
          initial: p.done, startedAt: Date.now() - p.elapsedMs,
        }),
        detail: '', nested: '',
      };
      bars.set(p.id, entry);
    }
    entry.detail = p.detail;
    if (p.state === 'running') {
      entry.bar.update(p.done, text(entry));
      return;
    }
    entry.nested = '';
    entry.bar.update(p.done, text(entry));
    if (p.state === 'done') entry.bar.done();
    else if (p.state === 'cancelled') entry.bar.cancel();
    else entry.bar.fail();
    bars.delete(p.id);
  };
}

// Every long operation gets a bar without asking (see the module comment).
setDefaultProgressSink(progressBarSink());
