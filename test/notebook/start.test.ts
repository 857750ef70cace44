import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as path from 'path';
import { ROOT, venvPython } from '../../scripts/jupyter';
import { chooseFrontend } from '../../scripts/start';

// `npm start` (scripts/start.ts) must bring up Jupyter on notebooks/ with the project's tslab kernel
// and print a URL that opens it: JupyterLab 4 from the project venv by default, Notebook 7 with
// --classic; Debian's classic Notebook 6 for both when the venv is absent.
const venv = venvPython();

async function startAndCheck(args: string[], expected: { name: RegExp; page: string; html: RegExp }): Promise<void> {
  const port = String(18000 + Math.floor(Math.random() * 2000));
  const child = spawn(process.execPath, ['-r', 'ts-node/register', path.join(ROOT, 'scripts', 'start.ts'), ...args],
    { cwd: ROOT, env: { ...process.env, PORT: port, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within 90 s:\n${log}`)), 90_000);
      const onData = (b: Buffer): void => {
        log += b.toString();
        const m = /is ready\. Open this URL[^\n]*\n\s*(http:\/\/127\.0\.0\.1:\d+\/(?:lab|tree)\?token=[0-9a-f]{48})\n/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => reject(new Error(`exited ${code}:\n${log}`)));
    });
    assert.match(log, expected.name);
    const u = new URL(url);
    assert.equal(u.port, port);
    assert.equal(u.pathname, expected.page);
    // The printed URL itself opens the frontend (the token logs the browser in).
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), expected.html);
    const token = u.searchParams.get('token');
    const specs = await (await fetch(`http://127.0.0.1:${port}/api/kernelspecs?token=${token}`)).json() as { kernelspecs: Record<string, { spec: { argv: string[] } }> };
    assert.ok(specs.kernelspecs.tslab, `kernels: ${Object.keys(specs.kernelspecs)}`);
    assert.ok(specs.kernelspecs.tslab.spec.argv[0].startsWith(ROOT), 'the project-local tslab kernel');
    const listing = await (await fetch(`http://127.0.0.1:${port}/api/contents?token=${token}`)).json() as { content: Array<{ name: string }> };
    assert.ok(listing.content.some((f) => f.name === '01-gap.ipynb'), 'the tutorial is what it serves');
    // Opening a notebook validates it; cells without ids made the server log MissingIDFieldWarning.
    const opened = await fetch(`http://127.0.0.1:${port}/api/contents/03-gradcam.ipynb?token=${token}`);
    assert.equal(opened.status, 200);
    await new Promise((r) => setTimeout(r, 500));
    assert.doesNotMatch(log, /MissingIDFieldWarning|Warning/);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
}

test('npm start serves the tutorials with the tslab kernel on loopback: JupyterLab 4 from the venv (classic Notebook without it)', async () => {
  if (process.env.CI && !venv) assert.fail('CI must have .jupyter-local/venv: scripts/ensure-system.sh test builds it');
  await startAndCheck([], venv
    ? { name: /starting JupyterLab 4/, page: '/lab', html: /"appName": "JupyterLab"/ }
    : { name: /starting classic Notebook 6/, page: '/tree', html: /<title>Home( Page)? - Select or create a notebook<\/title>|Jupyter Notebook/ });
});

test('npm start -- --classic picks Notebook 7 from the venv', { skip: venv ? false : 'no .jupyter-local/venv (ensure-system.sh start builds it)' }, async () => {
  await startAndCheck(['--classic'], { name: /starting Notebook 7/, page: '/tree', html: /"appName": "Jupyter Notebook"/ });
});

test('the frontend choice: venv → JupyterLab 4 (Notebook 7 with --classic); no venv → classic Notebook 6 either way', () => {
  const lab = chooseFrontend([], '8123', 'abc', '/v/bin/python');
  assert.deepEqual([lab.name, lab.python, lab.page], ['JupyterLab 4', '/v/bin/python', '/lab']);
  assert.ok(lab.args.includes('--IdentityProvider.token=abc') && lab.args.includes('--port=8123') && lab.args.includes('--ip=127.0.0.1'));
  assert.equal(lab.args.includes('--allow-root'), process.getuid?.() === 0);
  const nb7 = chooseFrontend(['--classic'], '8123', 'abc', '/v/bin/python');
  assert.deepEqual([nb7.name, nb7.args.slice(0, 2), nb7.page], ['Notebook 7', ['-m', 'notebook'], '/tree']);
  for (const argv of [[], ['--classic']]) {
    const old = chooseFrontend(argv, '8123', 'abc', null);
    assert.deepEqual([old.name, old.page], ['classic Notebook 6', '/tree']);
    assert.ok(old.args.includes('--NotebookApp.token=abc') && old.args.some((a) => a.startsWith('--notebook-dir=')));
  }
});
