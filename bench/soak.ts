/**
 * Soak benchmark: 1,000 explanations in a loop (Grad-CAM, CAM and guided backprop in turn) on a
 * fixed model, reporting tensor counts and RSS growth. Writes its section of BENCHMARKS.md.
 * Target: tensors constant, RSS growth ≤ 5% after warm-up.
 */
import * as path from 'path';
import { initBackend } from '../src/model/backend';
import { explain } from '../src/explain';
import { tf } from '../src/index';
import { gapNet, randomImages } from '../test/fixtures/models';
import { writeSection } from './sections';

const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 1000);

async function main(): Promise<void> {
  const info = await initBackend();
  const model = gapNet({ size: 64, depth: 3, width: 16, classes: 10 });
  const image = randomImages(1, 64, 1);
  const methods = ['gradCam', 'cam', 'guidedBackprop'] as const;
  // Warm-up: first calls allocate caches (kernels, wasm memory) that are not growth.
  for (let i = 0; i < 50; i++) explain(model, image, { method: methods[i % 3] });
  global.gc?.();
  const tensors0 = tf.memory().numTensors;
  const rss0 = process.memoryUsage().rss;
  const t0 = Date.now();
  let maxTensors = tensors0;
  for (let i = 0; i < ROUNDS; i++) {
    explain(model, image, { method: methods[i % 3], classIndex: i % 10 });
    maxTensors = Math.max(maxTensors, tf.memory().numTensors);
  }
  global.gc?.();
  const rss1 = process.memoryUsage().rss;
  const tensors1 = tf.memory().numTensors;
  const growth = ((rss1 - rss0) / rss0) * 100;
  const ms = (Date.now() - t0) / ROUNDS;
  const body = [
    `## Soak: ${ROUNDS} explanations in a loop`,
    '',
    `${new Date().toISOString().slice(0, 10)}, backend ${info.name}, Node ${process.version}; Grad-CAM, CAM and guided backprop in turn on a 64×64 GAP CNN (${ROUNDS} calls after 50 warm-up calls). Command: \`npm run bench\` (or \`node -r ts-node/register bench/soak.ts\`).`,
    '',
    '| measure | value | target |',
    '|---|---|---|',
    `| tensors before → after (max during) | ${tensors0} → ${tensors1} (${maxTensors}) | constant |`,
    `| RSS before → after | ${(rss0 / 2 ** 20).toFixed(1)} MiB → ${(rss1 / 2 ** 20).toFixed(1)} MiB | |`,
    `| RSS growth | ${growth.toFixed(2)}% | ≤ 5% |`,
    `| mean time per explanation | ${ms.toFixed(1)} ms | |`,
  ].join('\n');
  console.log(body);
  writeSection(path.join(__dirname, '..', 'BENCHMARKS.md'), 'bench:soak', body);
  image.dispose();
  model.dispose();
  if (tensors1 !== tensors0) process.exitCode = 1;
}

void main();
