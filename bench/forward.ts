/**
 * The forward-pass methods' speed (issue 12), each as a ratio to plain forward passes measured in
 * the same process, side by side (wall-clock times on a shared machine are noise; ratios are not):
 * - Score-CAM at MobileNetV2 (α = 1, 224², K = 1,280 at the last block), batch 1: its total time
 *   against ⌈K/B⌉ forward passes of B images, B the batch size it chose from memory.
 * - Ablation-CAM: its time per channel against one full forward pass of one image, at the last
 *   block and at an inner block (more layers above it).
 * Writes its table into BENCHMARKS.md between <!-- bench:forward --> markers.
 *
 * Run: node --require ts-node/register bench/forward.ts   (a benchmark: nothing asserted)
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend';
import { runGraph } from '../src/model/graph';
import { ablationCam } from '../src/explain/ablationcam';
import { scoreCam } from '../src/explain/scorecam';
import { chunkSize, forwardBytesPerImage } from '../src/explain/chunks';
import { mobileNetV2, randomImages } from '../test/fixtures/models';
import { writeSection } from './sections';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median wall time of fn over `runs` calls (after one warm-up). */
function timeIt(fn: () => void, runs = 3): number {
  fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

function forward(model: tf.LayersModel, x: tf.Tensor4D): void {
  tf.tidy(() => runGraph(model, x, { capture: [], scoreKind: 'logits' }).scores.dataSync());
}

async function main(): Promise<void> {
  await initBackend();
  const model = mobileNetV2({ size: 224, alpha: 1, full: true });
  const x = randomImages(1, 224, 1);
  const K = 1280;
  const B = Number(process.env.SCORECAM_BATCH ?? chunkSize(K, forwardBytesPerImage(model)));
  const xb = tf.tile(x, [B, 1, 1, 1]) as tf.Tensor4D;
  const fwd1 = timeIt(() => forward(model, x));
  const fwdB = timeIt(() => forward(model, xb));
  const t0 = performance.now();
  const r = scoreCam(model, x, { layer: 'out_relu6', batchSize: B });
  const score = performance.now() - t0;
  const fwdB2 = timeIt(() => forward(model, xb), 1);
  const passes = Math.ceil(K / B);
  const baseline = passes * (fwdB + fwdB2) / 2;
  const rows: string[] = [];
  rows.push(`| Score-CAM, K = ${K} at out_relu6, B = ${B} | ${(score / 1000).toFixed(1)} s | ${passes} × forward(B) = ${(baseline / 1000).toFixed(1)} s | **${(score / baseline).toFixed(2)}×** |`);
  console.log(rows[rows.length - 1], r.alpha.length);
  for (const layer of ['out_relu6', 'block_13_expand_relu6']) {
    const a0 = performance.now();
    const a = ablationCam(model, x, { layer });
    const total = performance.now() - a0;
    const Kl = a.alpha.length;
    const perChannel = total / Kl;
    rows.push(`| Ablation-CAM at ${layer} (K = ${Kl}), per channel | ${perChannel.toFixed(2)} ms | forward(1) = ${fwd1.toFixed(1)} ms | **${(perChannel / fwd1).toFixed(3)}×** |`);
    console.log(rows[rows.length - 1]);
  }
  const body = [
    '## Forward-pass methods (issue 12): ratios to forward passes in the same process',
    '',
    `MobileNetV2 α = 1, 224², random weights, batch 1, backend ${tf.getBackend()}, measured ${new Date().toISOString().slice(0, 16)}Z on a`,
    'shared machine under load (wall-clock times are noise; the ratios were taken side by side).',
    '',
    '| what | time | compared with | ratio |',
    '|---|---|---|---|',
    ...rows,
    '',
    'Score-CAM: masked copies run B at a time (B sized from the memory available); the target is 1.2× of',
    '⌈K/B⌉ batched forward passes. Ablation-CAM: the network below the target runs once; each batch of',
    'ablated copies runs only the layers above it.',
  ].join('\n');
  writeSection(path.join(__dirname, '..', 'BENCHMARKS.md'), 'bench:forward', body);
  tf.dispose([x, xb]);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
