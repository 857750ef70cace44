/**
 * Before/after benchmark of the method seam (issue 11): the same methods through the code of an
 * earlier commit (default: the last commit before the seam) and through today's code, alternating
 * call by call in ONE process on the same tfjs instance and backend, so both see the same load.
 * Writes the table into BENCHMARKS.md between <!-- bench:seam --> markers.
 *
 * Run: node --require ts-node/register bench/seam-ab.ts [REF]   (a benchmark: nothing asserted)
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend';
import * as now from '../src/explain';
import { mobileNetV2, randomImages } from '../test/fixtures/models';
import { writeSection } from './sections';

const ROOT = path.resolve(__dirname, '..');
const REF = process.argv[2] ?? '4ea4995';
const RUNS = Number(process.env.BENCH_RUNS ?? 9);

type Explain = (model: tf.LayersModel, images: tf.Tensor, options: { method: string; layer?: string }) => unknown[];

/** Compiles `ref`'s src/ into a temporary folder that resolves node_modules to this checkout's (one tfjs instance). */
function buildRef(ref: string): Explain {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-ref-'));
  execFileSync('bash', ['-c', `git -C "${ROOT}" archive ${ref} src tsconfig.json | tar -x -C "${dir}"`]);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', path.join(dir, 'tsconfig.json'), '--outDir', path.join(dir, 'dist'), '--declaration', 'false', '--sourceMap', 'false']);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require(path.join(dir, 'dist', 'explain')) as { explain: Explain }).explain;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  await initBackend();
  const before = buildRef(REF);
  const model = mobileNetV2({ size: 224, alpha: 1, full: true });
  const rows: Array<{ label: string; method: string; batch: number; layer?: string }> = [
    { label: 'Grad-CAM, last block', method: 'gradCam', batch: 1 },
    { label: 'Grad-CAM, inner block', method: 'gradCam', batch: 1, layer: 'block_5_add' },
    { label: 'CAM', method: 'cam', batch: 1 },
    { label: 'guided backprop', method: 'guidedBackprop', batch: 1 },
    { label: 'Grad-CAM, last block', method: 'gradCam', batch: 8 },
    { label: 'CAM', method: 'cam', batch: 8 },
  ];
  const lines = [`Before = commit \`${REF}\` (before the seam), after = this commit; MobileNetV2 224 α=1, ${tf.getBackend()}, ` +
    `median of ${RUNS}, the two alternating call by call in one process.`, '',
    '| method | batch | before ms | after ms | after ÷ before |', '|---|--:|--:|--:|--:|'];
  for (const row of rows) {
    const x = randomImages(row.batch, 224, 11);
    const options = { method: row.method, ...(row.layer ? { layer: row.layer } : {}) };
    const t: Record<'before' | 'after', number[]> = { before: [], after: [] };
    const time = (fn: Explain, into: number[]): void => {
      const t0 = performance.now();
      fn(model, x, options);
      into.push(performance.now() - t0);
    };
    time(before, []);
    time(now.explain as Explain, []);
    for (let i = 0; i < RUNS; i++) {
      if (i % 2) { time(before, t.before); time(now.explain as Explain, t.after); } else { time(now.explain as Explain, t.after); time(before, t.before); }
    }
    x.dispose();
    const b = median(t.before);
    const a = median(t.after);
    lines.push(`| ${row.label} | ${row.batch} | ${b.toFixed(1)} | ${a.toFixed(1)} | ${(a / b).toFixed(2)} |`);
    console.log(lines[lines.length - 1]);
  }
  writeSection(path.join(ROOT, 'BENCHMARKS.md'), 'bench:seam', `## The method seam: before and after\n\n${lines.join('\n')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
