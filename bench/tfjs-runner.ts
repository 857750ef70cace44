/**
 * tslab-cam's side of the benchmark, as a persistent child process that speaks the same JSON-lines
 * protocol as bench/reference/pgc_bench.py, so bench.ts can alternate the two row by row.
 * The thread count is fixed per process (TSLAB_CAM_THREADS, read by initBackend): the wasm module
 * starts once.
 *
 *   first line  {"ready": true, "threads": n, "backend": "wasm", "info": BackendInfo}
 *   request     {"model": "mobilenet_v2" | "resnet50" | "resnet64" | "vgg_flat64" | "digits_gap", "batch": n,
 *                "row": "forward" | "forward_ours" | "engine_last" | "engine_inner" | "gradcam_last" |
 *                       "gradcam_inner" | "guided", "repeats": 5, "warmup": 1,
 *                "maxRepeats": 9, "budgetMs": 3000}   (more calls, up to maxRepeats, while under budgetMs)
 *   answer      {"ms": median, "samples": [...], "leaked": tensors} or {"error": "..."}
 *   {"quit": true} ends it.
 *
 * What each row times (every call reads its result back):
 *   forward        tf.tidy(() => model.predict(x)) + dataSync
 *   forward_ours   runEngine(model, x, {layer, gradients: false}) + scores.dataSync (BatchNorm folded)
 *   engine_*       runEngine(model, x, {layer}) + grads.dataSync()
 *   gradcam_*      explain(model, x, {method: 'gradCam', layer}) (plain-data maps per image)
 *   guided         explain(model, x, {method: 'guidedBackprop'}) (every image of the batch)
 */
import * as readline from 'readline';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend';
import { runEngine } from '../src/model/engine';
import { explain } from '../src/explain/index';
import { loadModel } from '../src/model/load';
import { mobileNetV2, randomImages, resNet, vggFlat } from '../test/fixtures/models';
import { resNet50 } from '../test/fixtures/resnet50';

interface ModelCase {
  readonly build: () => tf.LayersModel | Promise<tf.LayersModel>;
  readonly size: number;
  readonly last: string;
  readonly inner: string;
}

/** Target layers match pgc_bench.py's torchvision modules (same output tensors). */
export const MODELS: Record<string, ModelCase> = {
  mobilenet_v2: { build: () => mobileNetV2({ size: 224, alpha: 1, full: true }), size: 224, last: 'out_relu6', inner: 'block_5_add' },
  resnet50: { build: () => resNet50({ size: 224 }), size: 224, last: 'conv5_block3_out', inner: 'conv3_block4_out' },
  resnet64: { build: () => resNet({ size: 64 }), size: 64, last: 'res3_out', inner: 'res2_a_relu' },
  vgg_flat64: { build: () => vggFlat({ size: 64 }), size: 64, last: 'block2_conv2', inner: 'block1_conv2' },
  digits_gap: { build: () => loadModel('builtin:digits-gap'), size: 64, last: 'relu4', inner: 'relu2' },
};

export const ROWS = ['forward', 'forward_ours', 'engine_last', 'engine_inner', 'gradcam_last', 'gradcam_inner', 'guided'] as const;
type RowName = typeof ROWS[number];

interface Request {
  readonly model?: string;
  readonly batch?: number;
  readonly row?: string;
  readonly repeats?: number;
  readonly maxRepeats?: number;
  readonly budgetMs?: number;
  readonly warmup?: number;
  readonly quit?: boolean;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One model alive at a time (ResNet-50's weights and activations are large). */
let loaded: { name: string; model: tf.LayersModel; inputs: Map<number, tf.Tensor4D> } | null = null;

async function modelFor(name: string): Promise<{ model: tf.LayersModel; input: (batch: number) => tf.Tensor4D }> {
  const c = MODELS[name];
  if (!loaded || loaded.name !== name) {
    if (loaded) {
      loaded.model.dispose();
      tf.dispose([...loaded.inputs.values()]);
    }
    loaded = { name, model: await c.build(), inputs: new Map() };
  }
  const l = loaded;
  return {
    model: l.model,
    input: (batch) => {
      let x = l.inputs.get(batch);
      if (!x) {
        x = randomImages(batch, c.size, 1);
        l.inputs.set(batch, x);
      }
      return x;
    },
  };
}

function call(row: RowName, c: ModelCase, model: tf.LayersModel, x: tf.Tensor4D): () => void {
  const engine = (layer: string) => (): void => {
    const out = runEngine(model, x, { layer });
    out.grads.dataSync();
    out.dispose();
  };
  switch (row) {
    case 'forward': return () => {
      const y = tf.tidy(() => model.predict(x) as tf.Tensor);
      y.dataSync();
      y.dispose();
    };
    case 'forward_ours': return () => {
      const out = runEngine(model, x, { layer: c.last, gradients: false });
      out.scores.dataSync();
      out.dispose();
    };
    case 'engine_last': return engine(c.last);
    case 'engine_inner': return engine(c.inner);
    case 'gradcam_last': return () => { explain(model, x, { method: 'gradCam', layer: c.last }); };
    case 'gradcam_inner': return () => { explain(model, x, { method: 'gradCam', layer: c.inner }); };
    case 'guided': return () => { explain(model, x, { method: 'guidedBackprop' }); };
  }
}

async function answer(req: Request): Promise<Record<string, unknown>> {
  const name = req.model ?? '';
  if (!(name in MODELS)) return { error: `model must be one of ${Object.keys(MODELS).join(', ')}, got ${JSON.stringify(req.model)}` };
  if (!ROWS.includes(req.row as RowName)) return { error: `row must be one of ${ROWS.join(', ')}, got ${JSON.stringify(req.row)}` };
  const batch = req.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) return { error: `batch must be a positive integer, got ${JSON.stringify(req.batch)}` };
  const { model, input } = await modelFor(name);
  const f = call(req.row as RowName, MODELS[name], model, input(batch));
  const before = tf.memory().numTensors;
  for (let i = 0; i < (req.warmup ?? 1); i++) f();
  const samples: number[] = [];
  // At least `repeats` calls; then more, up to maxRepeats, while the row has used less than budgetMs.
  const started = performance.now();
  const min = req.repeats ?? 5;
  const max = Math.max(min, req.maxRepeats ?? min);
  while (samples.length < min || (samples.length < max && performance.now() - started < (req.budgetMs ?? 0))) {
    const t0 = performance.now();
    f();
    samples.push(performance.now() - t0);
  }
  return { ms: median(samples), samples, leaked: tf.memory().numTensors - before };
}

async function main(): Promise<void> {
  const info = await initBackend({ backend: 'wasm' });
  process.stdout.write(`${JSON.stringify({ ready: true, threads: info.wasmThreadCount ?? 1, backend: info.name, info })}\n`);
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch (e) {
      process.stdout.write(`${JSON.stringify({ error: `not JSON: ${String(e)}` })}\n`);
      continue;
    }
    if (req.quit) break;
    let out: Record<string, unknown>;
    try {
      out = await answer(req);
    } catch (e) {
      out = { error: e instanceof Error ? e.message : String(e) };
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
  lines.close();
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
