/**
 * Soak benchmarks, both in one synchronous loop each (a notebook cell or script that never yields):
 *  1. 1,000 explanations (Grad-CAM, CAM and guided backprop in turn) on a fixed model;
 *  2. 1,000 `toBundle` calls over a mix of figures and 200 `savePng` calls (issue 19: canvases
 *     whose native memory waited for an event-loop turn made this grow ~6 MiB per figure).
 * Reports tensor counts and RSS growth; writes its section of BENCHMARKS.md.
 * Targets: tensors constant, RSS growth ≤ 5% after warm-up. Run with --expose-gc (npm run bench
 * does) so the before/after readings are taken after a full collection; RSS is still noisy.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../src/model/backend';
import { explain } from '../src/explain';
import type { GradCamResult } from '../src/explain/types';
import { tf } from '../src/index';
import { savePng, toBundle } from '../src/notebook';
import {
  barsFigure, classDropdownFigure, comparisonFigure, galleryFigure, guidedFigure, heatmapFigure, overlayFigure, resultFeatureMapsFigure,
} from '../src/render/figures';
import { syntheticExample } from '../src/render/synthetic';
import { gapNet, randomImages } from '../test/fixtures/models';
import { writeSection } from './sections';

const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 1000);
const BUNDLES = Number(process.env.SOAK_BUNDLES ?? 1000);
const SAVES = Number(process.env.SOAK_SAVES ?? 200);
const MiB = 2 ** 20;

interface Reading {
  tensors0: number;
  tensors1: number;
  maxTensors: number;
  rss0: number;
  rss1: number;
  maxRss: number;
  /** Highest RSS sampled in the first and in the second half of the loop (no GC forced). */
  halves: [number, number];
  ms: number;
}

/** Runs `step(i)` `rounds` times after `warmup` calls, reading tensors and RSS around the loop. */
function soak(rounds: number, warmup: number, step: (i: number, measured: boolean) => void): Reading {
  // Warm-up: first calls allocate caches (kernels, wasm memory, canvases, V8 heap) that are not growth.
  for (let i = 0; i < warmup; i++) step(i, false);
  global.gc?.();
  const tensors0 = tf.memory().numTensors;
  const rss0 = process.memoryUsage().rss;
  let maxTensors = tensors0;
  const halves: [number, number] = [0, 0];
  const t0 = Date.now();
  for (let i = 0; i < rounds; i++) {
    step(i, true);
    maxTensors = Math.max(maxTensors, tf.memory().numTensors);
    if (i % 25 === 24) {
      const h = i < rounds / 2 ? 0 : 1;
      halves[h] = Math.max(halves[h], process.memoryUsage().rss);
    }
  }
  const ms = (Date.now() - t0) / rounds;
  global.gc?.();
  const maxRss = Math.max(rss0, ...halves);
  return { tensors0, tensors1: tf.memory().numTensors, maxTensors, rss0, rss1: process.memoryUsage().rss, maxRss, halves, ms };
}

/** RSS growth over the loop, after-GC readings, in per cent. */
function growthPct(r: Reading): number {
  return ((r.rss1 - r.rss0) / r.rss0) * 100;
}

function rows(r: Reading, what: string): string[] {
  return [
    '| measure | value | target |',
    '|---|---|---|',
    `| tensors before → after (max during) | ${r.tensors0} → ${r.tensors1} (${r.maxTensors}) | constant |`,
    `| RSS before → after (max during) | ${(r.rss0 / MiB).toFixed(1)} MiB → ${(r.rss1 / MiB).toFixed(1)} MiB (${(r.maxRss / MiB).toFixed(1)} MiB) | |`,
    `| RSS growth | ${growthPct(r).toFixed(2)}% | ≤ 5% |`,
    // Memory held per call shows as a rise between the halves; a plateau (collected garbage the
    // allocator keeps) does not.
    `| highest RSS, first half → second half of the loop | ${(r.halves[0] / MiB).toFixed(1)} MiB → ${(r.halves[1] / MiB).toFixed(1)} MiB ` +
    `(${(((r.halves[1] - r.halves[0]) / r.halves[0]) * 100).toFixed(2)}%) | no rise |`,
    `| mean time per ${what} | ${r.ms.toFixed(1)} ms | |`,
  ];
}

/** The figures of the render soak: real results of the model and larger synthetic ones, built anew per call. */
function figureMakers(model: tf.LayersModel, image: tf.Tensor4D): { name: string; make: () => unknown }[] {
  const batch = tf.concat([image, image, image, image]);
  const [gc] = explain(model, image, { method: 'gradCam' });
  const [camR] = explain(model, image, { method: 'cam', classIndex: 3 });
  const [guided] = explain(model, image, { method: 'guidedGradCam' });
  const gallery = explain(model, batch, { method: 'gradCam', classIndex: [0, 1, 2, 3] });
  const classes = [0, 1, 2].map((c) => explain(model, image, { method: 'gradCam', classIndex: c })[0]) as GradCamResult[];
  batch.dispose();
  const s224 = syntheticExample({ size: 224, layerSize: 7 });
  const s448 = syntheticExample({ size: 448, layerSize: 14, channels: 16, seed: 3 });
  const many = Array.from({ length: 8 }, (_, i) => syntheticExample({ size: 224, layerSize: 7, seed: 10 + i }).gradCam);
  return [
    { name: 'Grad-CAM result (64²)', make: () => gc },
    { name: 'CAM result (64²)', make: () => camR },
    { name: 'guided Grad-CAM result (64²)', make: () => guided },
    { name: 'batch of 4 (gallery, 64²)', make: () => gallery },
    { name: 'top-3 classes (dropdown, 64²)', make: () => classes },
    { name: 'overlay 448²', make: () => overlayFigure(s448.gradCam) },
    { name: 'heatmap 14²', make: () => heatmapFigure(s448.gradCam.raw, { colormap: 'jet' }) },
    { name: 'feature maps 16 × 14²', make: () => resultFeatureMapsFigure(s448.gradCam) },
    { name: 'comparison 224²', make: () => comparisonFigure(s224) },
    { name: 'gallery 8 × 224²', make: () => galleryFigure(many) },
    { name: 'guided Grad-CAM 448²', make: () => guidedFigure(s448.guidedGradCam) },
    { name: 'class dropdown 224²', make: () => classDropdownFigure([s224.gradCam, s224.cam]) },
    { name: 'bars', make: () => barsFigure(Array.from(s448.gradCam.alpha)) },
  ];
}

/** What the figure soak did, besides its reading. */
interface FigureSoak {
  readonly reading: Reading;
  readonly names: readonly string[];
  readonly every: number;
  readonly saved: number;
  readonly warmup: number;
  readonly pngBytes: number;
}

/** The figure soak: BUNDLES toBundle calls over the figure kinds in turn, every `every`-th also saved as a PNG file. */
function figureSoak(model: tf.LayersModel, image: tf.Tensor4D): FigureSoak {
  const makers = figureMakers(model, image);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-soak-'));
  // One loop: every call renders a bundle; every (BUNDLES / SAVES)-th also writes a PNG file.
  const every = Math.max(1, Math.round(BUNDLES / Math.max(1, SAVES)));
  let saved = 0;
  let pngBytes = 0;
  // Long enough for V8's lazy collection of the bundles' garbage to reach its usual height.
  const warmup = 16 * makers.length;
  const reading = soak(BUNDLES, warmup, (i, measured) => {
    const value = makers[i % makers.length].make();
    const png = toBundle(value, { pngMime: true }).data['image/png'] ?? '';
    if (measured) pngBytes += png.length;
    if (i % every === every - 1) {
      savePng(value, path.join(dir, `figure-${i % 10}.png`));
      if (measured) saved++;
    }
  });
  fs.rmSync(dir, { recursive: true });
  return { reading, names: makers.map((m) => m.name), every, saved, warmup, pngBytes };
}

/**
 * glibc's malloc serves a request above its mmap threshold (128 KiB at start) with its own mapping,
 * returned to the system on free — but the first free of such a mapping raises the threshold to
 * that size, and from then on the figures' ~1 MB transient buffers (typed arrays, PNG and zlib
 * buffers, freed by the GC in another order than they were made) come from the heap, where freed
 * holes stay in RSS. MALLOC_MMAP_THRESHOLD_ fixes the threshold, so the same loop in a child
 * process with it set shows how much of the growth is that fragmentation rather than memory held.
 */
const FIXED_MMAP = '131072';

function figureSoakWithFixedMmap(): Reading | null {
  const child = spawnSync(process.execPath, ['--expose-gc', '--require', 'ts-node/register', __filename], {
    env: { ...process.env, SOAK_ONLY: 'figures', MALLOC_MMAP_THRESHOLD_: FIXED_MMAP }, encoding: 'utf8', maxBuffer: 64 * MiB,
  });
  const line = (child.stdout ?? '').split('\n').find((l) => l.startsWith('{"reading"'));
  if (child.status !== 0 || !line) {
    console.error(`the fixed-threshold soak did not finish (status ${child.status}): ${(child.stderr ?? '').slice(-400)}`);
    return null;
  }
  return (JSON.parse(line) as { reading: Reading }).reading;
}

async function main(): Promise<void> {
  const info = await initBackend();
  const model = gapNet({ size: 64, depth: 3, width: 16, classes: 10 });
  const image = randomImages(1, 64, 1);
  if (process.env.SOAK_ONLY === 'figures') {
    console.log(JSON.stringify({ reading: figureSoak(model, image).reading }));
    image.dispose();
    model.dispose();
    return;
  }
  const methods = ['gradCam', 'cam', 'guidedBackprop'] as const;
  const ex = soak(ROUNDS, 50, (i) => {
    explain(model, image, { method: methods[i % 3], classIndex: i % 10 });
  });

  const fig = figureSoak(model, image);
  const render = fig.reading;
  const { every, saved, warmup, pngBytes } = fig;
  const fixed = figureSoakWithFixedMmap();
  const growth = (r: Reading): string => `${growthPct(r).toFixed(2)}%`;

  const date = new Date().toISOString().slice(0, 10);
  const body = [
    `## Soak: ${ROUNDS} explanations, then ${BUNDLES} figures and ${saved} PNG files, each in one synchronous loop`,
    '',
    `${date}, backend ${info.name}, Node ${process.version}, ${os.cpus().length} cores, load average (1 / 5 / 15 min) at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')}. ` +
    'Command: `npm run bench` (or `node --expose-gc -r ts-node/register bench/soak.ts`); before/after readings follow a full GC.',
    '',
    `**Explanations**: Grad-CAM, CAM and guided backprop in turn on a 64×64 GAP CNN (${ROUNDS} calls after 50 warm-up calls).`,
    '',
    ...rows(ex, 'explanation'),
    '',
    `**Figures**: \`toBundle\` (plotly JSON, HTML, PNG fallback) of ${fig.names.length} kinds in turn, built anew each call, ` +
    `with \`savePng\` of every ${every}th (${BUNDLES} bundles and ${saved} files after ${warmup} warm-up calls; ` +
    `${(pngBytes / BUNDLES / 1024).toFixed(0)} KiB of base64 PNG per bundle on average): ${fig.names.join(', ')}. ` +
    'Before the canvases were reused (issue 19; measured 2026-11-30 on the code of commit 4ea4995), this loop with 130 ' +
    'bundles and 26 files grew RSS from 392 to 932 MiB (+138%), and 150 renders of one 448² overlay figure by 921 MiB ' +
    '(test/render/png.test.ts).',
    '',
    ...rows(render, 'figure'),
    '',
    fixed
      ? `**The same figure loop with glibc's mmap threshold fixed** (a child process with \`MALLOC_MMAP_THRESHOLD_=${FIXED_MMAP}\`): ` +
        `RSS ${(fixed.rss0 / MiB).toFixed(1)} → ${(fixed.rss1 / MiB).toFixed(1)} MiB, growth ${growth(fixed)} (above: ${growth(render)}); ` +
        `highest RSS first half → second half ${(fixed.halves[0] / MiB).toFixed(1)} → ${(fixed.halves[1] / MiB).toFixed(1)} MiB; ${fixed.ms.toFixed(1)} ms per figure ` +
        `(above: ${render.ms.toFixed(1)}). What the threshold removes is glibc heap fragmentation from the figures' ~1 MB transient buffers, ` +
        'not memory the library holds (see bench/soak.ts).'
      : '**The same figure loop with glibc\'s mmap threshold fixed**: did not run (see the bench log).',
  ].join('\n');
  console.log(body);
  writeSection(path.join(__dirname, '..', 'BENCHMARKS.md'), 'bench:soak', body);
  image.dispose();
  model.dispose();
  if (ex.tensors1 !== ex.tensors0 || render.tensors1 !== render.tensors0 || (fixed && fixed.tensors1 !== fixed.tensors0)) process.exitCode = 1;
}

void main();
