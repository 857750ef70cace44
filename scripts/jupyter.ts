/**
 * Runs notebooks through real Jupyter (Debian's nbconvert/nbclient) with the tslab kernel that
 * scripts/ensure-system.sh registered under .jupyter-local, and finds the project venv's JupyterLab 4
 * and Notebook 7 (.jupyter-local/venv). Used by the tests, `npm start` and `npm run notebooks`.
 */
import { execFileSync, spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');
export const JUPYTER_PATH = path.join(ROOT, '.jupyter-local', 'share', 'jupyter');

export interface NotebookOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}
export interface NotebookCell {
  /** nbformat ≥ 4.5: unique within the notebook, [A-Za-z0-9_-]{1,64}. */
  id?: string;
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  outputs?: NotebookOutput[];
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
}
export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** The project venv that ensure-system.sh builds from scripts/jupyter-requirements.txt. */
export const VENV = path.join(ROOT, '.jupyter-local', 'venv');

/** The venv's python when it holds JupyterLab 4 and Notebook 7 (a finished install), else null. */
export function venvPython(): string | null {
  const py = path.join(VENV, 'bin', 'python');
  return fs.existsSync(path.join(VENV, '.tslab-cam-requirements')) && fs.existsSync(path.join(VENV, 'bin', 'jupyter-lab')) ? py : null;
}

/**
 * The python that runs nbconvert: Debian's system python (not a pyenv shim earlier on PATH), whose
 * nbconvert 6.5 the export tests were written against; the project venv when Debian's is absent.
 */
export function jupyterPython(): string {
  const venv = venvPython();
  for (const py of ['/usr/bin/python3', 'python3', ...(venv ? [venv] : [])]) {
    const r = spawnSync(py, ['-c', 'import nbclient, nbconvert'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  throw new Error('No python with nbclient and nbconvert found: run `bash scripts/ensure-system.sh notebooks`.');
}

export function jupyterEnv(): NodeJS.ProcessEnv {
  const prev = process.env.JUPYTER_PATH;
  return { ...process.env, JUPYTER_PATH: prev ? `${JUPYTER_PATH}${path.delimiter}${prev}` : JUPYTER_PATH };
}

/**
 * nbformat 4.5 cell ids derived from the cells' sources (a hash, numbered on repeats), so
 * regenerating a notebook gives the same ids and git sees only the cells that changed.
 */
export function cellIds(sources: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return sources.map((s) => {
    const base = createHash('sha256').update(s).digest('hex').slice(0, 12);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

/** A new notebook for the tslab kernel from cell sources (strings starting with "%md\n" are markdown). */
export function makeNotebook(sources: string[]): Notebook {
  const ids = cellIds(sources);
  return {
    cells: sources.map((s, i) => s.startsWith('%md\n')
      ? { id: ids[i], cell_type: 'markdown' as const, source: s.slice(4), metadata: {} }
      : { id: ids[i], cell_type: 'code' as const, source: s, outputs: [], metadata: {}, execution_count: null }),
    metadata: {
      kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' },
      language_info: { name: 'typescript', file_extension: '.ts', mimetype: 'text/typescript' },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

/**
 * Executes `input` (an .ipynb path) with nbconvert and returns the executed notebook, written to
 * `output`. The kernel's working directory is the input notebook's folder, as in Jupyter.
 */
export function executeNotebook(input: string, output: string, timeoutSeconds = 600): Notebook {
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const py = jupyterPython();
  execFileSync(py, ['-m', 'nbconvert', '--to', 'notebook', '--execute',
    `--ExecutePreprocessor.timeout=${timeoutSeconds}`, '--ExecutePreprocessor.kernel_name=tslab',
    '--output', path.resolve(output), path.resolve(input)], { env: jupyterEnv(), stdio: ['ignore', 'pipe', 'pipe'], cwd: path.dirname(input) });
  return JSON.parse(fs.readFileSync(output, 'utf8')) as Notebook;
}

/** Exports an executed notebook to HTML (scripts kept), as nbviewer would show it. */
export function exportHtml(input: string, output: string): void {
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const py = jupyterPython();
  execFileSync(py, ['-m', 'nbconvert', '--to', 'html', '--output', path.resolve(output), path.resolve(input)],
    { env: jupyterEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every error output of an executed notebook, as "cell N: ename: evalue". */
export function notebookErrors(nb: Notebook): string[] {
  const errs: string[] = [];
  nb.cells.forEach((c, i) => {
    for (const o of c.outputs ?? []) {
      if (o.output_type === 'error') errs.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream' && o.name === 'stderr') {
        const t = Array.isArray(o.text) ? o.text.join('') : (o.text ?? '');
        if (/error/i.test(t)) errs.push(`cell ${i}: stderr: ${t.slice(0, 500)}`);
      }
    }
  });
  return errs;
}
