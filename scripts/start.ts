/**
 * `npm start`: the main job. Opens the tutorial notebooks with the project-local tslab kernel in
 * JupyterLab 4 from the project venv (.jupyter-local/venv, built by `ensure-system.sh start`), or in
 * Debian's classic Notebook 6 when that venv is absent. `npm start -- --classic` picks Notebook 7
 * from the venv (classic Notebook 6 without it). It builds nothing: npm install compiled dist/.
 *
 * The server gets a fresh random token and the URL is printed once the server answers, so the URL
 * is the one that works (port_retries=0: a busy port fails loudly instead of moving elsewhere).
 */
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as path from 'path';
import { jupyterEnv, jupyterPython, ROOT, venvPython } from './jupyter';

/** Which Jupyter frontend `npm start` runs, and how. */
export interface Frontend {
  name: 'JupyterLab 4' | 'Notebook 7' | 'classic Notebook 6';
  python: string;
  args: string[];
  /** Path of the page that lists the tutorials, after http://host:port. */
  page: string;
}

/** The frontend for these command-line arguments, from what ensure-system.sh installed. */
export function chooseFrontend(argv: string[], port: string, token: string, venv = venvPython()): Frontend {
  const classic = argv.includes('--classic');
  const dir = path.join(ROOT, 'notebooks');
  // Jupyter refuses to run as root unless told; containers and CI machines often are root.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0 ? ['--allow-root'] : [];
  const common = ['--no-browser', '--ip=127.0.0.1', `--port=${port}`, ...asRoot];
  if (venv) {
    const server = [`--ServerApp.root_dir=${dir}`, `--IdentityProvider.token=${token}`, '--ServerApp.port_retries=0'];
    return classic
      ? { name: 'Notebook 7', python: venv, args: ['-m', 'notebook', ...common, ...server], page: '/tree' }
      : { name: 'JupyterLab 4', python: venv, args: ['-m', 'jupyterlab', ...common, ...server], page: '/lab' };
  }
  return {
    name: 'classic Notebook 6',
    python: jupyterPython(),
    args: ['-m', 'notebook', ...common, `--notebook-dir=${dir}`, `--NotebookApp.token=${token}`, '--NotebookApp.port_retries=0'],
    page: '/tree',
  };
}

async function waitForServer(url: string, child: { exitCode: number | null }): Promise<boolean> {
  for (let i = 0; i < 600 && child.exitCode === null; i++) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function main(): Promise<void> {
  const port = process.env.PORT ?? '8888';
  const token = randomBytes(24).toString('hex');
  const frontend = chooseFrontend(process.argv.slice(2), port, token);
  console.log(`tslab-cam: starting ${frontend.name} on the tutorial notebooks (kernel "TypeScript" = tslab).`);
  if (frontend.name === 'classic Notebook 6') {
    console.log('tslab-cam: JupyterLab 4 is not installed here: `bash scripts/ensure-system.sh start` installs it into .jupyter-local/venv (needs PyPI).');
  }
  const child = spawn(frontend.python, frontend.args, { env: jupyterEnv(), stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  const base = `http://127.0.0.1:${port}`;
  if (await waitForServer(`${base}/api/status?token=${token}`, child)) {
    console.log(`\ntslab-cam: ${frontend.name} is ready. Open this URL (Ctrl+C stops the server):\n\n    ${base}${frontend.page}?token=${token}\n`);
  }
}

if (require.main === module) void main();
