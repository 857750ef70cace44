/**
 * Speed of the eval layer (issue 13), in one process so ratios see the same load:
 * 1. one deletion + insertion curve (64 steps) on a 64×64 scene with digits-gap, against the
 *    batched forward passes it needs (2 × 65 images, predict alone), alternating run by run;
 * 2. a full evaluate() over N held-out scenes × every registered map method × every metric.
 * Writes BENCHMARKS.md between <!-- bench:eval --> markers.
 *
 * Run: node --require ts-node/register bench/eval.ts [N]   (a benchmark: nothing asserted)
 */
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { backendSummary, initScriptBackend } from '../src/model/backend';
import { loadModel } from '../src/model/load';
import { evaluationScenes } from '../src/data/evaluate';
import { evaluate, forwardFor, metricNames, perturbationCurve, samplesFromScenes } from '../src/eval';
import { baselineImage, curveImages, orderByMap } from '../src/eval/perturb';
import { explain } from '../src/explain';
import { writeSection } from './sections';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);
const N = Number(process.argv[2] ?? 20);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const backend = await initScriptBackend();
  const model = await loadModel('builtin:digits-gap');
  const [sample] = samplesFromScenes(evaluationScenes({ singles: 1, doubles: 0 }));
  const x = tf.tensor4d(sample.pixels, [1, 64, 64, 3]);
  const [r] = explain(model, x, { method: 'gradCam', classIndex: sample.classIndex });
  x.dispose();
  const map = (r as { upsampled: { data: Float32Array } }).upsampled.data;
  const input = { map, sample, classIndex: sample.classIndex as number, forward: forwardFor(model, [64, 64, 3], sample.classIndex as number) };
  const steps = 64;
  // The forward passes alone: the same 2 × 65 images, built beforehand, one batch of 130.
  const images = new Float32Array(2 * (steps + 1) * 64 * 64 * 3);
  images.set(curveImages(sample, orderByMap(map), steps, baselineImage(sample, 'zero'), 'deletion'), 0);
  images.set(curveImages(sample, orderByMap(map), steps, baselineImage(sample, 'blur'), 'insertion'), (steps + 1) * 64 * 64 * 3);
  const forwardOnly = (): void => {
    tf.tidy(() => (model.predict(tf.tensor4d(images, [2 * (steps + 1), 64, 64, 3])) as tf.Tensor).dataSync());
  };
  const curves = (): void => {
    perturbationCurve(input, { steps }, 'deletion');
    perturbationCurve(input, { steps }, 'insertion');
  };
  forwardOnly(); curves();
  const tf0: number[] = [], tc: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now(); forwardOnly(); tf0.push(performance.now() - t);
    t = performance.now(); curves(); tc.push(performance.now() - t);
  }
  const ratio = median(tc) / median(tf0);
  const samples = samplesFromScenes(evaluationScenes({ singles: Math.ceil(N / 2), doubles: Math.floor(N / 2) }));
  const t0 = performance.now();
  const table = await evaluate(model, samples, { metrics: metricNames(), steps });
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  const body = [
    '## Eval layer (issue 13): `node --require ts-node/register bench/eval.ts [N]`',
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${backendSummary(backend)}, ` +
    `load average (1 / 5 / 15 min) at the end ${os.loadavg().map((v) => v.toFixed(1)).join(' / ')} on ${os.cpus().length} cores. ${RUNS} alternating runs, medians; ratios measured side by side in one process are what counts.`,
    '',
    '| what | median ms |',
    '|---|---:|',
    `| deletion + insertion curves, 64 steps, 64×64 (perturbation, 2 × 65 forwards, AUC) | ${median(tc).toFixed(1)} |`,
    `| the same 130 forward passes alone (one predict) | ${median(tf0).toFixed(1)} |`,
    `| ratio (target ≤ 1.3×) | ${ratio.toFixed(2)}× |`,
    '',
    `Full \`evaluate()\` on digits-gap: ${table.samples} held-out scenes × ${table.methods.length} methods (${table.methods.join(', ')}) × ${table.metrics.length} metrics (${table.metrics.join(', ')}): ${seconds.toFixed(1)} s, ${(seconds * 1000 / table.samples).toFixed(0)} ms per scene` +
    ` (batches of 16 scenes, so the time grows linearly with the scenes: 500 scenes ≈ ${((seconds * 500) / table.samples / 60).toFixed(0)} min).`,
    '',
    'Per method: ms per image for the maps alone (explain, batches of 16) —',
    table.methods.map((m) => `${m} ${table.msPerImage[m].toFixed(1)}`).join(', ') + '.',
  ].join('\n');
  writeSection(path.join(__dirname, '..', 'BENCHMARKS.md'), 'bench:eval', body);
  process.stdout.write(body + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
