/**
 * `npm start`: the main job. Builds nothing itself (npm install already compiled dist/), then opens
 * the tutorial notebooks in classic Jupyter Notebook with the project-local tslab kernel and
 * prints the URL. ensure-system.sh (run by the npm script first) installed Jupyter if needed.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { jupyterEnv, jupyterPython, ROOT } from './jupyter';

const py = jupyterPython();
const port = process.env.PORT ?? '8888';
console.log('tslab-cam: starting Jupyter on the tutorial notebooks (kernel "TypeScript" = tslab).');
console.log(`tslab-cam: open the URL Jupyter prints below (http://127.0.0.1:${port}/...); Ctrl+C stops it.`);
// Jupyter refuses to run as root unless told; containers and CI machines often are root.
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--allow-root'] : [];
const child = spawn(py, ['-m', 'notebook', `--notebook-dir=${path.join(ROOT, 'notebooks')}`, '--no-browser', '--ip=127.0.0.1', `--port=${port}`, ...asRoot],
  { env: jupyterEnv(), stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 0));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
