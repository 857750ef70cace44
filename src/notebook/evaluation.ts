/**
 * Display of the eval layer: the methods × metrics table as an HTML table (every string escaped,
 * the best value of each column in bold, a PARTIAL banner when cancelled), its bar chart, the
 * deletion / insertion curves and the sanity check, plus the notebook's evaluate() with a progress
 * bar (notebook or terminal).
 */
import type * as tf from '@tensorflow/tfjs';
import { evaluate as evaluatePlain, type EvaluateOptions } from '../eval/evaluate';
import { sanityCheck as sanityPlain, type SanityOptions, type SanityReport } from '../eval/sanity';
import { metricOf } from '../eval/registry';
import type { EvalSample, EvalTable } from '../eval/types';
import { methodLabel } from '../explain/registry';
import { escapeHtml } from '../render/escape';
import { evalBarsFigure, perturbationCurvesFigure, sanityFigure } from '../render/evalfigures';
import type { Figure } from '../render/spec';
import { htmlBundle, type DisplayBundle } from './bundle';
import { displayable, registerRenderer } from './display';
import { createProgress } from './progress';

/** True for evaluate()'s tables. */
export function isEvalTable(x: unknown): x is EvalTable {
  const t = x as Partial<EvalTable>;
  return typeof x === 'object' && x !== null && Array.isArray(t.methods) && Array.isArray(t.metrics) && Array.isArray(t.cells) && typeof t.partial === 'boolean';
}

/** True for sanityCheck()'s reports. */
export function isSanityReport(x: unknown): x is SanityReport {
  const r = x as Partial<SanityReport>;
  return typeof x === 'object' && x !== null && Array.isArray(r.curves) && typeof r.threshold === 'number' && r.curves.every((c) => Array.isArray(c.stages));
}

const fmt = (v: number): string => (Number.isFinite(v) ? Number(v.toPrecision(3)).toString() : '–');

/** The table's one-line text. */
export function evalTableSummary(t: EvalTable): string {
  return `evaluation${t.partial ? ' (PARTIAL)' : ''}: ${t.methods.length} methods × ${t.metrics.length} metrics on ${t.samples} of ${t.samplesAsked} samples`;
}

/** The table as HTML: mean ± 95% CI half-width per cell, the best per metric in bold, ms per image. */
export function evalTableHtml(t: EvalTable): string {
  const best = t.metrics.map((m, j) => {
    let dir: 'higher' | 'lower' = 'higher';
    try { dir = metricOf(m).direction; } catch { /* an unregistered metric read back from disk: no best */ }
    const means = t.cells.map((row) => row[j].mean).filter(Number.isFinite);
    return means.length ? (dir === 'higher' ? Math.max(...means) : Math.min(...means)) : NaN;
  });
  const head = t.metrics.map((m) => {
    let label = m, arrow = '';
    try { const r = metricOf(m); label = r.label; arrow = r.direction === 'higher' ? ' ↑' : ' ↓'; } catch { /* unregistered */ }
    return `<th title="${escapeHtml(m)}">${escapeHtml(label + arrow)}</th>`;
  }).join('');
  const rows = t.cells.map((row, i) => {
    const cells = row.map((c, j) => {
      const text = `${fmt(c.mean)}${c.n > 1 ? ` ± ${fmt(c.high - c.mean)}` : ''}`;
      return `<td${c.mean === best[j] ? ' style="font-weight:bold"' : ''}>${escapeHtml(text)}</td>`;
    }).join('');
    return `<tr><th style="text-align:left">${escapeHtml(methodLabel(t.methods[i]))}</th>${cells}<td>${escapeHtml(fmt(t.msPerImage[t.methods[i]]))}</td></tr>`;
  }).join('');
  const banner = t.partial ? `<p style="color:#c62828;font-weight:bold">PARTIAL: cancelled after ${t.samples} of ${t.samplesAsked} samples.</p>` : '';
  return `${banner}<table class="tslab-cam-eval"><thead><tr><th>method</th>${head}<th>ms / image</th></tr></thead><tbody>${rows}</tbody></table>` +
    `<p style="font-size:smaller">mean ± 95% CI half-width over ${t.samples} samples; ↑ higher / ↓ lower is better; best in bold.</p>`;
}

/** The table as a display bundle. */
export function evalTableBundle(t: EvalTable): DisplayBundle {
  return htmlBundle(evalTableHtml(t), evalTableSummary(t));
}

/** The sanity check as a display bundle: the verdicts in plain words, FAILS in red. */
export function sanityVerdictsHtml(r: SanityReport): string {
  return '<ul>' + r.curves.map((c) => `<li style="color:${c.passed ? '#2e7d32' : '#c62828'}${c.passed ? '' : ';font-weight:bold'}">${escapeHtml(c.verdict)}</li>`).join('') + '</ul>';
}

let registered = false;
/** Registers the eval renderers (idempotent). */
export function registerEvalRenderers(): void {
  if (registered) return;
  registered = true;
  registerRenderer(isEvalTable, (t) => evalTableBundle(t), 'evaluation table');
  registerRenderer(isSanityReport, (r) => sanityFigure(r), 'sanity check');
}
registerEvalRenderers();

/** The table's bar chart (a dropdown picks the metric), displayable. */
export function evalBars(t: EvalTable, options?: { title?: string }): Figure {
  return displayable(evalBarsFigure(t, options));
}

/** Mean deletion or insertion curves per method, displayable. */
export function evalCurves(t: EvalTable, metric: 'deletion' | 'insertion' = 'deletion'): Figure {
  return displayable(perturbationCurvesFigure(t, metric));
}

/** The sanity check's curves, displayable (the title names the methods that fail). */
export function sanityCurves(r: SanityReport): Figure {
  return displayable(sanityFigure(r));
}

/** evaluate() with a progress bar in the notebook or terminal; the table displays itself. */
export async function evaluate(model: tf.LayersModel, samples: readonly EvalSample[], options: EvaluateOptions & { progress?: boolean } = {}): Promise<EvalTable> {
  const bar = options.progress === false ? null : createProgress({ total: samples.length, label: 'evaluate' });
  try {
    const t = await evaluatePlain(model, samples, { ...options, onProgress: (p) => { bar?.update(p.done); options.onProgress?.(p); } });
    bar?.done(t.partial ? 'partial' : undefined);
    return displayable(t, (x) => evalTableSummary(x as EvalTable));
  } catch (e) {
    bar?.done('stopped');
    throw e;
  }
}

/** sanityCheck() with a progress bar; the report displays as its curves. */
export async function sanityCheck(model: tf.LayersModel, samples: readonly EvalSample[], options: SanityOptions & { progress?: boolean }): Promise<SanityReport> {
  const holder: { bar: ReturnType<typeof createProgress> | null } = { bar: null };
  try {
    const r = await sanityPlain(model, samples, {
      ...options,
      onProgress: (done, total) => {
        if (options.progress !== false) { holder.bar ??= createProgress({ total, label: 'sanity check' }); holder.bar.update(done); }
        options.onProgress?.(done, total);
      },
    });
    holder.bar?.done();
    return displayable(r, () => r.curves.map((c) => c.verdict).join(' '));
  } catch (e) {
    holder.bar?.done('stopped');
    throw e;
  }
}
