/**
 * Runs notebooks the way a notebook in notebooks/ of this repo runs (`import * as tc from ".."`),
 * but from a temporary folder, so whatever a notebook writes beside itself (tutorial 05 saves
 * ./my-model/) and every executed copy stays out of the repo.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { executeNotebook, ROOT, type Notebook } from '../../scripts/jupyter';

const made: string[] = [];
process.on('exit', () => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A temporary folder whose index.js / index.d.ts re-export the repo's compiled library, with an
 * empty notebooks/ inside: `..` seen from there is the package. Removed when the process exits.
 */
export function scratchPackage(label: string): { root: string; notebooks: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `tslab-cam-${label}-`));
  made.push(root);
  const dist = path.join(ROOT, 'dist', 'index');
  fs.writeFileSync(path.join(root, 'index.js'), `module.exports = require(${JSON.stringify(dist)});\n`);
  fs.writeFileSync(path.join(root, 'index.d.ts'), `export * from ${JSON.stringify(dist)};\n`);
  fs.mkdirSync(path.join(root, 'notebooks'));
  return { root, notebooks: path.join(root, 'notebooks') };
}

/**
 * Executes a notebook (a path, or a notebook object named `name`) from a scratch package with real
 * Jupyter + tslab. Returns the executed notebook and the path of its executed copy (in the scratch
 * folder, for HTML export).
 */
export function executeInScratch(source: string | Notebook, timeoutSeconds: number, name = 'notebook.ipynb'): { nb: Notebook; file: string } {
  const base = typeof source === 'string' ? path.basename(source) : name;
  const { notebooks } = scratchPackage(base.replace(/\.ipynb$/, '').replace(/[^A-Za-z0-9-]/g, '_'));
  const input = path.join(notebooks, base);
  if (typeof source === 'string') fs.copyFileSync(source, input);
  else fs.writeFileSync(input, JSON.stringify(source));
  const file = path.join(notebooks, base.replace(/\.ipynb$/, '.executed.ipynb'));
  return { nb: executeNotebook(input, file, timeoutSeconds), file };
}
