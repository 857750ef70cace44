/**
 * Benchmark: forward pass vs the engine (one forward + one backward to a layer), Grad-CAM and
 * guided backprop, at batch 1 and batch 8, on the wasm backend (cpu for the smallest model too).
 * Reports medians of RUNS runs after one warm-up, ratios to the forward pass and the per-image
 * cost of batch 8 relative to batch 1, prints a markdown table and writes it into BENCHMARKS.md
 * between <!-- bench:engine --> and <!-- /bench:engine -->.
 *
 * A benchmark, not a test: nothing here asserts on wall-clock times.
 * Run: npm run bench   (BENCH_QUICK=1: 3 runs instead of 5; cpu rows run only if the wasm rows took
 * under CPU_BUDGET_S; BENCH_CPU=1 forces them, BENCH_NO_CPU=1 skips them)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend';
import { runEngine } from '../src/model/engine';
import { listLayers } from '../src/model/inspect';
import { explain } from '../src/explain/index';
import { mobileNetV2, resNet, vggFlat, randomImages } from '../test/fixtures/models';

const QUICK = process.env.BENCH_QUICK === '1';
const RUNS = QUICK ? 3 : 5;
const BATCHES = [1, 8] as const;
/** Run the optional cpu rows only if the wasm rows took less than this (seconds). */
const CPU_BUDGET_S = 170;
const MARK_START = '<!-- bench:engine -->';
const MARK_END = '<!-- /bench:engine -->';

/** pytorch-grad-cam, same kind of machine, one thread, torchvision MobileNetV2 224×224 (ms). */
const REFERENCE = { forward: 48.6, gradCamLast: 98.7, gradCamInner: 93.1, guided: 94.7 };
const TARGETS = { engineLast: 1.2, engineInner: 2.0, guided: 2.5, perImage: 0.8 };

interface ModelCase {
  readonly name: string;
  readonly build: () => tf.LayersModel;
  readonly size: number;
  readonly last: string;
  readonly inner: string;
}

const MODELS: readonly ModelCase[] = [
  { name: 'MobileNetV2 224 α=1', build: () => mobileNetV2({ size: 224, alpha: 1, full: true }), size: 224, last: 'out_relu6', inner: 'block_5_add' },
  { name: 'ResNet 64', build: () => resNet({ size: 64 }), size: 64, last: 'res3_out', inner: 'res2_a_relu' },
  { name: 'VGG-flat 64', build: () => vggFlat({ size: 64 }), size: 64, last: 'block2_conv2', inner: 'block1_conv2' },
];

type Key = 'forward' | 'engineLast' | 'engineInner' | 'gradCamLast' | 'gradCamInner' | 'guided';
type Timings = Record<Key, number>;

interface Row {
  readonly model: string;
  readonly backend: string;
  readonly batch: number;
  readonly t: Timings;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time (ms) of RUNS calls after one warm-up; every call reads its result back. */
function time(f: () => void): number {
  f();
  const ts: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

function benchModel(m: ModelCase, model: tf.LayersModel, backend: string, batch: number): Row {
  const x = randomImages(batch, m.size);
  const before = tf.memory().numTensors;
  const t: Timings = {
    forward: time(() => {
      const y = tf.tidy(() => model.predict(x) as tf.Tensor);
      y.dataSync();
      y.dispose();
    }),
    engineLast: time(() => {
      const out = runEngine(model, x, { layer: m.last });
      out.grads.dataSync();
      out.dispose();
    }),
    engineInner: time(() => {
      const out = runEngine(model, x, { layer: m.inner });
      out.grads.dataSync();
      out.dispose();
    }),
    gradCamLast: time(() => { explain(model, x, { method: 'gradCam', layer: m.last }); }),
    gradCamInner: time(() => { explain(model, x, { method: 'gradCam', layer: m.inner }); }),
    guided: time(() => { explain(model, x, { method: 'guidedBackprop' }); }),
  };
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) console.warn(`  warning: ${leaked} tensors left over after ${m.name} batch ${batch}`);
  x.dispose();
  return { model: m.name, backend, batch, t };
}

function checkLayers(m: ModelCase, model: tf.LayersModel): void {
  const names = new Set(listLayers(model).map((l) => l.name));
  for (const l of [m.last, m.inner]) {
    if (!names.has(l)) throw new Error(`${m.name}: no layer '${l}' (see listLayers)`);
  }
}

const ms = (v: number): string => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0));
const ratio = (v: number): string => `${v.toFixed(2)}×`;
const vs = (v: number, target: number): string => `${ratio(v)} ${v <= target ? '✓' : '✗'}`;

function render(rows: readonly Row[], meta: { date: string; backendLine: string; node: string; tfjs: string; runs: number; totalS: number; cpuShare: number; note?: string }): string {
  const L: string[] = [];
  L.push(`Measured ${meta.date} · ${meta.backendLine} · Node ${meta.node} · tfjs ${meta.tfjs} · ${machine()} · median of ${meta.runs} runs after 1 warm-up · whole run ${meta.totalS.toFixed(0)} s, this process got ${(meta.cpuShare * 100).toFixed(0)}% of one core (the rest went to other load: lower means noisier numbers).`);
  L.push('');
  L.push('Times in ms (median). Ratios are to the forward pass of the same model, backend and batch; ✓/✗ against the target in the header.');
  L.push('Forward = `tf.tidy(() => model.predict(x))` + `dataSync`; engine = `runEngine(model, x, {layer})` + `grads.dataSync()`;');
  L.push('Grad-CAM / guided = `explain(model, x, {method})` (plain-data results, so includes reading back and building per-image maps).');
  if (meta.note) L.push(meta.note);
  L.push('Guided backprop targets the input (layer-independent). ResNet 64 and VGG-flat 64 are tiny (a few ms per forward), so their ratios are dominated by per-op overhead and are noisy.');
  L.push('');
  L.push(`| model | backend | batch | forward | engine last | engine inner | Grad-CAM last | Grad-CAM inner | guided BP | engine last / fwd (≤${TARGETS.engineLast}×) | engine inner / fwd (≤${TARGETS.engineInner}×) | Grad-CAM last / fwd | guided / fwd (≤${TARGETS.guided}×) |`);
  L.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    const t = r.t;
    L.push(`| ${r.model} | ${r.backend} | ${r.batch} | ${ms(t.forward)} | ${ms(t.engineLast)} | ${ms(t.engineInner)} | ${ms(t.gradCamLast)} | ${ms(t.gradCamInner)} | ${ms(t.guided)} | `
      + `${vs(t.engineLast / t.forward, TARGETS.engineLast)} | ${vs(t.engineInner / t.forward, TARGETS.engineInner)} | ${ratio(t.gradCamLast / t.forward)} | ${vs(t.guided / t.forward, TARGETS.guided)} |`);
  }
  const R = REFERENCE;
  L.push(`| *pytorch-grad-cam, torchvision MobileNetV2 224, 1 thread (reference)* | torch cpu | 1 | ${R.forward} | – | – | ${R.gradCamLast} | ${R.gradCamInner} | ${R.guided} | – | – | ${ratio(R.gradCamLast / R.forward)} | ${ratio(R.guided / R.forward)} |`);
  L.push('');
  L.push(`Per-image cost of batch 8 relative to batch 1: (t₈ / 8) / t₁ (target ≤${TARGETS.perImage}×).`);
  L.push('');
  L.push('| model | backend | forward | engine last | engine inner | Grad-CAM last | Grad-CAM inner | guided BP |');
  L.push('|---|---|--:|--:|--:|--:|--:|--:|');
  const keys: Key[] = ['forward', 'engineLast', 'engineInner', 'gradCamLast', 'gradCamInner', 'guided'];
  for (const r1 of rows.filter((r) => r.batch === 1)) {
    const r8 = rows.find((r) => r.batch === 8 && r.model === r1.model && r.backend === r1.backend);
    if (!r8) continue;
    L.push(`| ${r1.model} | ${r1.backend} | ${keys.map((k) => vs(r8.t[k] / 8 / r1.t[k], TARGETS.perImage)).join(' | ')} |`);
  }
  return L.join('\n');
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${(cpus[0]?.model ?? 'unknown cpu').trim()}`;
}

function writeSection(file: string, body: string): void {
  const section = `${MARK_START}\n${body}\n${MARK_END}`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (!text) {
    text = '# Benchmarks\n\nGenerated by `npm run bench` (bench/bench.ts). Timings depend on the machine and its load; compare ratios, not absolute times.\n\n## Engine, Grad-CAM and guided backprop vs the forward pass\n\n';
  }
  const a = text.indexOf(MARK_START);
  const b = text.indexOf(MARK_END);
  if (a >= 0 && b > a) text = text.slice(0, a) + section + text.slice(b + MARK_END.length);
  else text = `${text.replace(/\n*$/, '\n\n')}${section}\n`;
  fs.writeFileSync(file, text);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const info = await initBackend({ backend: 'wasm' });
  const backendLine = `backend ${info.name}${info.name === 'wasm' ? ` (SIMD ${info.wasmSimd ? 'on' : 'off'}, threads ${info.wasmThreads ? 'on' : 'off'})` : ''}`;
  console.log(`${backendLine}, node ${process.version}, ${RUNS} runs${QUICK ? ' (BENCH_QUICK)' : ''}`);
  const rows: Row[] = [];
  for (const m of MODELS) {
    const model = m.build();
    checkLayers(m, model);
    for (const batch of BATCHES) {
      const r = benchModel(m, model, info.name, batch);
      rows.push(r);
      console.log(`${m.name} ${info.name} b${batch}: ${Object.entries(r.t).map(([k, v]) => `${k} ${ms(v)}`).join(', ')}  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
    model.dispose();
  }
  // cpu for the smallest model only, and only while the whole run stays near its ~4 min budget
  // (BENCH_NO_CPU=1 skips it always, BENCH_CPU=1 runs it always).
  const elapsedS = (performance.now() - t0) / 1000;
  const cpuWanted = process.env.BENCH_CPU === '1' || (process.env.BENCH_NO_CPU !== '1' && elapsedS < CPU_BUDGET_S);
  const cpuNote = cpuWanted ? undefined : `cpu rows skipped: the wasm rows took ${elapsedS.toFixed(0)} s (budget ${CPU_BUDGET_S} s; BENCH_CPU=1 forces them).`;
  if (cpuNote) console.log(cpuNote);
  if (cpuWanted) {
    try {
      const cpu = await initBackend({ backend: 'cpu' });
      const m = MODELS[MODELS.length - 1];
      const model = m.build();
      for (const batch of BATCHES) {
        const r = benchModel(m, model, cpu.name, batch);
        rows.push(r);
        console.log(`${m.name} ${cpu.name} b${batch}: ${Object.entries(r.t).map(([k, v]) => `${k} ${ms(v)}`).join(', ')}`);
      }
      model.dispose();
    } catch (e) {
      console.warn(`cpu run skipped: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const body = render(rows, {
    date: new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
    backendLine: `${backendLine}${rows.some((r) => r.backend === 'cpu') ? '; cpu for the smallest model' : ''}`,
    node: process.version,
    tfjs: tf.version.tfjs,
    runs: RUNS,
    totalS: (performance.now() - t0) / 1000,
    cpuShare: (() => { const u = process.cpuUsage(cpu0); return (u.user + u.system) / 1000 / (performance.now() - t0); })(),
    note: cpuNote,
  });
  console.log(`\n${body}\n`);
  const file = path.join(__dirname, '..', 'BENCHMARKS.md');
  writeSection(file, body);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
