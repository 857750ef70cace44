/**
 * tslab-cam as a dependency of someone else's notebook folder: the package is packed as npm would
 * publish it, installed into a fresh folder with its own package.json (from the npm cache the
 * repo's own install filled; the registry only for what the cache lacks), the tslab kernel is
 * registered from that folder, and real Jupyter runs notebooks there that `import ... from
 * "tslab-cam"`. Nothing is written into the repository: the build goes to a temporary folder.
 *
 * Variant 2: the folder depends on its own @tensorflow/tfjs at another 4.x version (4.21.0), so
 * npm nests tslab-cam's 4.22.0. A model built with the folder's copy must fail at once with a
 * typed error naming both versions and the fix, never halfway inside tfjs; tensors work across
 * the copies (tfjs-core shares one engine per process and checks tensors by shape of the object).
 */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Notebook, jupyterPython, makeNotebook, notebookErrors, ROOT } from '../../scripts/jupyter';

const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const TFJS = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'package.json'), 'utf8')) as { version: string }).version;
const OTHER_TFJS = '4.21.0';
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let tmp: string;
let tarball: string;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 ** 2 });
}

/** Packs the package as `npm publish` would, from a staging copy whose dist/ is built fresh. */
function pack(): string {
  const stage = path.join(tmp, 'stage');
  fs.mkdirSync(stage, { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(stage, 'package.json'));
  for (const f of ['README.md', 'LICENSE']) if (fs.existsSync(path.join(ROOT, f))) fs.copyFileSync(path.join(ROOT, f), path.join(stage, f));
  for (const entry of pkg.files.filter((f) => f !== 'dist')) {
    if (fs.existsSync(path.join(ROOT, entry))) fs.cpSync(path.join(ROOT, entry), path.join(stage, entry), { recursive: true });
  }
  run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.json'), '--outDir', path.join(stage, 'dist')], ROOT);
  // prepare (the build) already ran above into the staging copy.
  const name = run(NPM, ['pack', '--ignore-scripts', '--pack-destination', tmp], stage).trim().split('\n').pop() as string;
  return path.join(tmp, name);
}

/** A notebook folder with its own package.json, tslab-cam installed from the tarball, and the tslab kernel registered. */
function userFolder(name: string, extraDeps: Record<string, string>): { dir: string; jupyterPath: string } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const tslab = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies.tslab;
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: `${name}-notebooks`, private: true,
    dependencies: { 'tslab-cam': `file:${tarball}`, tslab, ...extraDeps },
  }, null, 2));
  run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund'], dir);
  const prefix = path.join(tmp, `${name}-jupyter`);
  const bin = path.join(dir, 'node_modules', '.bin', 'tslab');
  run(bin, ['install', `--python=${jupyterPython()}`, `--binary=${bin}`, `--prefix=${prefix}`], dir);
  return { dir, jupyterPath: path.join(prefix, 'share', 'jupyter') };
}

/** Runs a notebook in `dir` with only that folder's kernel on the Jupyter path. */
function execute(dir: string, jupyterPath: string, cells: string[]): Notebook {
  const input = path.join(dir, 'notebook.ipynb');
  const output = path.join(dir, 'executed.ipynb');
  fs.writeFileSync(input, JSON.stringify(makeNotebook(cells)));
  run(jupyterPython(), ['-m', 'nbconvert', '--to', 'notebook', '--execute', '--allow-errors', '--ExecutePreprocessor.timeout=300',
    '--ExecutePreprocessor.kernel_name=tslab', '--output', output, input], dir, { ...process.env, JUPYTER_PATH: jupyterPath });
  return JSON.parse(fs.readFileSync(output, 'utf8')) as Notebook;
}

function textOf(nb: Notebook, cell: number): string {
  return (nb.cells[cell].outputs ?? []).map((o) => (Array.isArray(o.text) ? o.text.join('') : o.text ?? '')).join('');
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-dependency-'));
  tarball = pack();
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('npm pack → install into a fresh notebook folder → the README quick start runs there through real Jupyter', { timeout: 15 * 60_000 }, () => {
  assert.equal(path.basename(tarball), `tslab-cam-${VERSION}.tgz`);
  const { dir, jupyterPath } = userFolder('plain', {});
  // The installed copy is the packed one, and it shares the folder's tfjs (one copy).
  assert.ok(fs.existsSync(path.join(dir, 'node_modules', 'tslab-cam', 'dist', 'index.d.ts')));
  assert.equal(fs.existsSync(path.join(dir, 'node_modules', 'tslab-cam', 'node_modules', '@tensorflow', 'tfjs')), false);
  const nb = execute(dir, jupyterPath, [
    'import * as tc from "tslab-cam";',
    'const model = await tc.loadModel("builtin:digits-gap");\nconst sample = tc.builtinSamples().find((s) => s.name === "two-digits")!;\nconst x = await tc.loadImage(sample.path, { model: model });\nconst r = tc.gradCam(model, x, { classIndex: 7 });\nr',
    'tc.verify(r, { model: model, image: x })',
    'console.log(`resolved from ${require.resolve("tslab-cam")}`);',
  ]);
  assert.deepEqual(notebookErrors(nb), []);
  // The bundle holds the plotly JSON and text/html with the PNG inside it (stored once; no image/png by default).
  const figure = (nb.cells[1].outputs ?? []).find((o) => o.output_type === 'display_data' && o.data && 'application/vnd.plotly.v1+json' in o.data);
  assert.ok(figure, 'the Grad-CAM overlay was displayed');
  assert.ok(figure.data && 'text/html' in figure.data);
  const html = [figure.data['text/html']].flat().join('');
  assert.match(html, /<img class="tslab-cam-fallback"[^>]* src="data:image\/png;base64,/);
  assert.match(textOf(nb, 1), /Grad-CAM · class 7/);
  assert.match(textOf(nb, 2), /identity checks: \d+ pass, 0 fail/);
  assert.match(textOf(nb, 3), new RegExp(`resolved from ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.node_modules.tslab-cam.dist.index\\.js`));
});

test(`a notebook folder with its own @tensorflow/tfjs ${OTHER_TFJS}: a model from that copy fails at once with both versions and the fix`, { timeout: 15 * 60_000 }, () => {
  const { dir, jupyterPath } = userFolder('other-tfjs', { '@tensorflow/tfjs': OTHER_TFJS });
  // npm keeps the folder's tfjs at the top and nests tslab-cam's own.
  const top = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', '@tensorflow', 'tfjs', 'package.json'), 'utf8')) as { version: string };
  assert.equal(top.version, OTHER_TFJS);
  const nested = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'tslab-cam', 'node_modules', '@tensorflow', 'tfjs', 'package.json'), 'utf8')) as { version: string };
  assert.equal(nested.version, TFJS);
  const caught = (expr: string): string => `try { ${expr}; console.log("RAN"); } catch (e) { console.log(\`CAUGHT \${(e as { code?: string }).code}: \${(e as Error).message}\`); }`;
  const nb = execute(dir, jupyterPath, [
    'import * as tf from "@tensorflow/tfjs";\nimport * as tc from "tslab-cam";\nconsole.log(`notebook tfjs ${tf.version.tfjs}, tslab-cam tfjs ${tc.tf.version.tfjs}`);',
    'const mine = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [64, 64, 3], filters: 4, kernelSize: 3, activation: "relu" }), tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 10 })] });\n' +
      'const digits = await tc.loadModel("builtin:digits-gap");\nconst sample = tc.builtinSamples().find((s) => s.name === "two-digits")!;\nconst x = await tc.loadImage(sample.path, { model: digits });',
    // TypeScript already refuses `mine` where a LayersModel is wanted (the two copies' classes differ); `as any` is how it gets through.
    caught('tc.gradCam(mine as any, x)'),
    caught('await tc.loadModel(mine as any)'),
    caught('tc.findTargetLayer(mine as any)'),
    // Tensors cross over: tfjs-core keeps one engine per process and recognises tensors by their methods.
    'const own = tc.gradCam(digits, x, { classIndex: 7 });\nconst theirs = tc.gradCam(digits, tf.tensor(Array.from(x.dataSync()), x.shape) as any, { classIndex: 7 });\nconsole.log(`S_c own ${own.S.toFixed(5)} theirs ${theirs.S.toFixed(5)}`);',
  ]);
  assert.match(textOf(nb, 0), new RegExp(`notebook tfjs ${OTHER_TFJS}, tslab-cam tfjs ${TFJS}`));
  for (const cell of [2, 3, 4]) {
    const t = textOf(nb, cell);
    assert.match(t, /CAUGHT NOT_A_MODEL: The model is a Sequential made by @tensorflow\/tfjs 4\.21\.0 \(/, `cell ${cell}: ${t}`);
    assert.match(t, new RegExp(`tslab-cam runs on its own @tensorflow/tfjs ${TFJS.replace(/\./g, '\\.')}`));
    assert.match(t, new RegExp(`Fix: .*npm install @tensorflow/tfjs@${TFJS.replace(/\./g, '\\.')}`));
  }
  const m = /S_c own (\S+) theirs (\S+)/.exec(textOf(nb, 5));
  assert.ok(m, textOf(nb, 5));
  assert.equal(m[1], m[2]);
  // No cell failed in any other way (a tfjs-internal error would show here).
  assert.deepEqual(nb.cells.flatMap((c) => (c.outputs ?? []).filter((o) => o.output_type === 'error').map((o) => `${o.ename}: ${o.evalue}`)), []);
});
