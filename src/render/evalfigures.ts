/**
 * Figures of the eval layer's plain results: the methods × metrics table as a bar chart with 95%
 * confidence intervals (a dropdown picks the metric), and curves (deletion / insertion, the sanity
 * check's ρ per randomisation stage). Every string from the data is escaped for plotly.
 */
import type { EvalTable, SanityReport } from '../eval';
import { metricLabel, metricOf } from '../eval/registry';
import { methodLabel } from '../explain/registry';
import { plotlyText as t } from './escape';
import { roundValue, type Figure, type JsonObject } from './spec';

const CONFIG: JsonObject = { displaylogo: false, responsive: false };

function layout(title: string, width: number, height: number): JsonObject {
  return {
    title: { text: t(title), font: { size: 14 }, x: 0.02, xanchor: 'left' },
    width, height, margin: { l: 60, r: 20, t: 60, b: 80 }, paper_bgcolor: '#ffffff', plot_bgcolor: '#ffffff',
  };
}

const better = (metric: string): string => {
  try { return metricOf(metric).direction === 'higher' ? '↑ higher is better' : '↓ lower is better'; } catch { return ''; }
};

/** The table as bars: one bar per method with its 95% CI, one metric at a time (dropdown). */
export function evalBarsFigure(table: EvalTable, options: { title?: string; width?: number; height?: number } = {}): Figure {
  const title = (options.title ?? 'Evaluation') + (table.partial ? ` (PARTIAL: ${table.samples} of ${table.samplesAsked} samples)` : ` (${table.samples} samples)`);
  const labels = table.methods.map((m) => t(methodLabel(m)));
  const data: JsonObject[] = table.metrics.map((metric, j) => {
    const cells = table.cells.map((row) => row[j]);
    return {
      type: 'bar', name: t(metricLabel(metric)), x: labels, y: cells.map((c) => roundValue(c.mean)), visible: j === 0,
      error_y: { type: 'data', symmetric: false, array: cells.map((c) => roundValue(c.high - c.mean)), arrayminus: cells.map((c) => roundValue(c.mean - c.low)) },
      hovertemplate: `%{x}<br>${t(metricLabel(metric))} = %{y:.4g}<extra></extra>`,
    };
  });
  const l = layout(title, options.width ?? Math.min(900, 260 + 60 * table.methods.length), options.height ?? 380);
  l.xaxis = { type: 'category' };
  l.yaxis = { title: { text: table.metrics.length ? t(`${metricLabel(table.metrics[0])} (${better(table.metrics[0])})`) : '' } };
  l.updatemenus = [{
    x: 1, xanchor: 'right', y: 1.15, yanchor: 'top',
    buttons: table.metrics.map((metric, j) => ({
      label: t(metricLabel(metric)), method: 'update',
      args: [{ visible: table.metrics.map((_, k) => k === j) } as JsonObject, { 'yaxis.title.text': t(`${metricLabel(metric)} (${better(metric)})`) } as JsonObject],
    })),
  }];
  const first = table.cells.map((row) => row[0]?.mean ?? NaN);
  return {
    kind: 'evalBars', title,
    summary: `${title}: ${table.methods.length} methods × ${table.metrics.length} metrics`,
    plotly: { data, layout: l, config: CONFIG },
    scene: { title, columns: 2, panelSize: 200, spans: { 0: 2 }, panels: [{ kind: 'bars', title: table.metrics[0] ? metricLabel(table.metrics[0]) : '', values: first.map((v) => (Number.isFinite(v) ? v : 0)) }] },
  };
}

/** One named curve. */
export interface Curve {
  readonly name: string;
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly dash?: boolean;
}

/** Line curves (plain data); the static fallback shows each curve's last value as a bar. */
export function curvesFigure(curves: readonly Curve[], options: { title: string; xName: string; yName: string; width?: number; height?: number; note?: string }): Figure {
  const title = options.title;
  const l = layout(title, options.width ?? 640, options.height ?? 380);
  l.xaxis = { title: { text: t(options.xName) } };
  l.yaxis = { title: { text: t(options.yName) } };
  if (options.note) l.annotations = [{ text: t(options.note), xref: 'paper', yref: 'paper', x: 0, y: -0.28, showarrow: false, xanchor: 'left', font: { size: 12 } }];
  return {
    kind: 'curves', title,
    summary: `${title}: ${curves.map((c) => `${c.name} ends at ${roundValue(c.y[c.y.length - 1], 3)}`).join('; ')}`,
    plotly: {
      data: curves.map((c) => ({ type: 'scatter', mode: 'lines+markers', name: t(c.name), x: [...c.x], y: c.y.map((v) => roundValue(v)), line: (c.dash ? { dash: 'dash' } : {}) as JsonObject })),
      layout: l, config: CONFIG,
    },
    scene: { title, columns: 2, panelSize: 200, spans: { 0: 2 }, panels: [{ kind: 'bars', title: `${options.yName} at the end`, values: curves.map((c) => c.y[c.y.length - 1] ?? 0) }] },
  };
}

/** The mean deletion or insertion curve of each method in the table (x = fraction of pixels switched). */
export function perturbationCurvesFigure(table: EvalTable, metric: 'deletion' | 'insertion' | string): Figure {
  const j = table.metrics.indexOf(metric);
  const curves: Curve[] = j < 0 ? [] : table.cells.flatMap((row) => {
    const c = row[j];
    return c.curve ? [{ name: `${methodLabel(c.method)} (AUC ${roundValue(c.mean, 3)})`, x: c.curve.map((_, k) => k / (c.curve!.length - 1)), y: c.curve }] : [];
  });
  return curvesFigure(curves, { title: `${metricLabel(metric)}: class score as pixels are ${metric === 'insertion' ? 'put back' : 'removed'}, most relevant first`, xName: 'fraction of pixels', yName: 'class score' });
}

/** The sanity check: ρ (solid) and SSIM (dashed) per randomisation stage, with each method's verdict written out. */
export function sanityFigure(report: SanityReport): Figure {
  const curves: Curve[] = report.curves.flatMap((c) => {
    const x = c.stages.map((_, k) => k);
    const name = `${methodLabel(c.method)}${c.passed ? '' : ' — FAILS'}`;
    return [{ name: `${name} ρ`, x, y: c.stages.map((s) => s.spearman.mean) }, { name: `${name} SSIM`, x, y: c.stages.map((s) => s.ssim.mean), dash: true }];
  });
  const failed = report.curves.filter((c) => !c.passed).map((c) => methodLabel(c.method));
  const title = failed.length ? `Sanity check: ${failed.join(', ')} FAIL${failed.length > 1 ? '' : 'S'} (map unchanged while the model is destroyed)` : 'Sanity check: every method passes';
  const top = report.curves[0]?.stages.map((s) => s.layers[s.layers.length - 1] ?? 'trained') ?? [];
  const fig = curvesFigure(curves, {
    title, xName: 'layers randomised (top first)', yName: 'similarity to the original map',
    note: `Fails when ρ ≥ ${report.threshold} with every layer randomised. ${report.samples} images.`,
  });
  (fig.plotly.layout.xaxis as JsonObject).tickvals = top.map((_, k) => k);
  (fig.plotly.layout.xaxis as JsonObject).ticktext = top.map((n) => t(n));
  return fig;
}
