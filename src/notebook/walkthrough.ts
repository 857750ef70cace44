/**
 * Display of the article's walkthrough: each step as its equation, its numbers, its figure and the
 * checks of its identity; the whole walkthrough as an overview table. Values are recognised by
 * shape, so a walkthrough rebuilt from saved data displays too.
 */
import type { ExplainResult, IdentityCheck } from '../explain/types';
import type { Walkthrough, WalkthroughStep } from '../explain/walkthrough';
import { escapeHtml } from '../render/escape';
import type { Figure } from '../render/spec';
import {
  barsFigure, guidedFigure, hasFeatureMaps, overlayFigure, resultFeatureMapsFigure,
} from '../render/figures';
import { hasInputImage, hasMapForms, isLayerAverages } from '../explain/shapes';
import { figureBundle, htmlBundle, type BundleOptions, type DisplayBundle } from './bundle';
import { displayable, registerRenderer } from './display';
import { identityChecksBundle, isExplainResult, isIdentityCheck } from './renderers';

/** The fields of a walkthrough step this module reads: the explain layer's step. */
export type StepLike = WalkthroughStep;

/** The fields of a walkthrough this module reads. */
export type WalkthroughLike = Pick<Walkthrough, 'steps' | 'classIndex' | 'layer' | 'allPassed'>;

/** True for walkthrough steps (duck-typed). */
export function isWalkthroughStep(x: unknown): x is StepLike {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Partial<StepLike>;
  return typeof s.index === 'number' && typeof s.key === 'string' && typeof s.latex === 'string' &&
    typeof s.title === 'object' && s.title !== null && Array.isArray(s.checks) && s.checks.every(isIdentityCheck) &&
    (s.result === undefined || isExplainResult(s.result));
}

/** True for walkthroughs (duck-typed). */
export function isWalkthrough(x: unknown): x is WalkthroughLike {
  if (typeof x !== 'object' || x === null) return false;
  const w = x as Partial<WalkthroughLike>;
  return Array.isArray(w.steps) && w.steps.length > 0 && w.steps.every(isWalkthroughStep) && typeof w.layer === 'string';
}

/** The figure that goes with a step, or null when the step does not apply. */
export function stepFigure(step: StepLike): Figure | null {
  const r = step.result;
  if (!r || step.notApplicable) return null;
  const title = `Step ${step.index} · ${step.title.en}`;
  switch (step.key) {
    case 'features':
      return hasFeatureMaps(r) ? resultFeatureMapsFigure(r, { title }) : null;
    case 'gap':
      return isLayerAverages(r) ? barsFigure(r.F, { title, valueName: 'F_k' }) : null;
    case 'scores':
      return hasMapForms(r) ? barsFigure(r.scores, { title, valueName: 'S_c' }) : null;
    default:
      if (hasInputImage(r)) return guidedFigure(r, { title });
      if (hasMapForms(r) && !isLayerAverages(r)) return overlayFigure(r, { title });
      return null;
  }
}

function checksLine(checks: readonly IdentityCheck[]): string {
  const ran = checks.filter((c) => !c.skipped);
  if (!ran.length) return '';
  return ` · checks ${ran.filter((c) => c.pass).length}/${ran.length} pass`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}

/** One short line: "Step 3 · Class scores S_c: c=3, S_c=12.3 · checks 1/1 pass". */
export function stepSummary(step: StepLike): string {
  const head = `Step ${step.index} · ${step.title.en}`;
  if (step.notApplicable) return `${head}: not applicable — ${clip(step.notApplicable, 90)}`;
  const nums = Object.entries(step.numbers).slice(0, 2).map(([k, v]) => `${k}=${clip(String(v), 28)}`).join(', ');
  return `${head}: ${nums}${checksLine(step.checks)}`;
}

/** The step's header: titles, the equation for MathJax, the numbers, the not-applicable note. */
function stepHeaderHtml(step: StepLike): string {
  const rows = Object.entries(step.numbers)
    .map(([k, v]) => `<tr><th style="text-align:left;padding-right:12px">${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`).join('');
  return '<div class="tslab-cam-step">' +
    `<h4 style="margin:4px 0">Step ${step.index} · ${escapeHtml(step.title.en)} <span lang="ja" style="color:#666;font-weight:normal">` +
    `${escapeHtml(step.title.ja)}</span></h4>` +
    // Jupyter's MathJax typesets \[ … \] in HTML outputs; elsewhere the LaTeX source is readable.
    `<div class="tslab-cam-eq">\\[${escapeHtml(step.latex)}\\]</div>` +
    (rows ? `<table class="tslab-cam-numbers">${rows}</table>` : '') +
    (step.notApplicable ? `<p class="tslab-cam-na" style="color:#8a6d3b">Not applicable: ${escapeHtml(step.notApplicable)}</p>` : '') +
    '</div>';
}

/** A step as one bundle: header, figure (plotly + PNG) and the checks of its identity. */
export function stepBundle(step: StepLike, options: BundleOptions = {}): DisplayBundle {
  const figure = stepFigure(step);
  const checks = step.checks.length ? identityChecksBundle(step.checks).data['text/html'] ?? '' : '';
  const text = stepSummary(step);
  if (!figure) return htmlBundle(stepHeaderHtml(step) + checks, text);
  const fb = figureBundle(figure, options);
  return {
    data: { ...fb.data, 'text/plain': text, 'text/html': stepHeaderHtml(step) + (fb.data['text/html'] ?? '') + checks },
    metadata: fb.metadata,
  };
}

/** The whole walkthrough as an overview table (show each step with `wt.step(n)`). */
export function walkthroughBundle(wt: WalkthroughLike): DisplayBundle {
  const rows = wt.steps.map((s) => {
    const ran = s.checks.filter((c) => !c.skipped);
    const status = s.notApplicable ? 'not applicable' : ran.length ? `${ran.filter((c) => c.pass).length}/${ran.length} pass` : '—';
    return `<tr><td>${s.index}</td><td>${escapeHtml(s.title.en)}<br><span lang="ja" style="color:#666">${escapeHtml(s.title.ja)}</span></td>` +
      `<td>\\(${escapeHtml(s.latex)}\\)</td><td>${escapeHtml(status)}</td></tr>`;
  }).join('');
  const verdict = wt.allPassed ? 'every identity check passed' : 'some identity checks FAILED';
  const html = `<div class="tslab-cam-walkthrough"><p>Walkthrough · class ${wt.classIndex} · layer ${escapeHtml(wt.layer)} · ${verdict}. ` +
    'Show a step with <code>wt.step(n)</code>.</p><table><thead><tr><th>#</th><th>step</th><th>equation</th><th>checks</th></tr></thead>' +
    `<tbody>${rows}</tbody></table></div>`;
  return htmlBundle(html, `walkthrough: ${wt.steps.length} steps, class ${wt.classIndex}, layer ${wt.layer}, ${verdict}`);
}

/** Makes a walkthrough and each of its steps display themselves as a cell's last expression. */
export function displayableWalkthrough<T extends WalkthroughLike>(wt: T): T {
  for (const s of wt.steps) displayable(s, () => stepSummary(s));
  return displayable(wt, () => walkthroughBundle(wt).data['text/plain']);
}

let registered = false;

/** Registers the walkthrough renderers (idempotent; runs when this module loads). */
export function registerWalkthroughRenderers(): void {
  if (registered) return;
  registered = true;
  registerRenderer(isWalkthroughStep, (s, o) => stepBundle(s, o), { name: 'walkthrough step', summary: stepSummary });
  registerRenderer(isWalkthrough, (w) => walkthroughBundle(w), { name: 'walkthrough', summary: (w) => walkthroughBundle(w).data['text/plain'] });
}

registerWalkthroughRenderers();
