/** Shared by the display kernel and browser tests: execute notebooks/99-display-check.ipynb for real. */
import * as path from 'path';
import { ROOT, type Notebook, type NotebookOutput } from '../../scripts/jupyter';
import { executeInScratch } from '../helpers/notebook';

export const DISPLAY_NOTEBOOK = path.join(ROOT, 'notebooks', '99-display-check.ipynb');
export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';
/** Figures the notebook displays (overlay, heatmap, classes, layers, feature maps, comparison, guided, result, gallery, step). */
export const FIGURE_COUNT = 10;

/** Executes the display notebook with nbconvert + tslab in a temporary folder; `file` is the executed copy. */
export function runDisplayNotebook(): { nb: Notebook; file: string } {
  return executeInScratch(DISPLAY_NOTEBOOK, 180);
}

export function outputsOf(nb: Notebook): { cell: number; output: NotebookOutput }[] {
  return nb.cells.flatMap((c, cell) => (c.outputs ?? []).map((output) => ({ cell, output })));
}

export function joinText(v: unknown): string {
  return Array.isArray(v) ? v.join('') : typeof v === 'string' ? v : '';
}
