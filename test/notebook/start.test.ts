import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as path from 'path';
import { ROOT } from '../../scripts/jupyter';

// `npm start` (scripts/start.ts) must bring up Jupyter on notebooks/ with the project's tslab kernel.
test('npm start serves the tutorial notebooks with the tslab kernel on loopback', async () => {
  const port = String(18000 + Math.floor(Math.random() * 2000));
  const child = spawn(process.execPath, ['-r', 'ts-node/register', path.join(ROOT, 'scripts', 'start.ts')],
    { cwd: ROOT, env: { ...process.env, PORT: port, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let log = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${log}`)), 60_000);
      const onData = (b: Buffer): void => {
        log += b.toString();
        const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => reject(new Error(`exited ${code}:\n${log}`)));
    });
    const token = new URL(url).searchParams.get('token');
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
    child.kill('SIGINT');
    child.kill('SIGTERM');
  }
});
