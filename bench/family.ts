/**
 * Benchmark of the gradient CAM family against Grad-CAM: MobileNetV2 224 (α = 1, full), batch 1,
 * wasm, at the last block and an inner block. Every round runs every method once, in a rotated
 * order, so load on a shared machine falls on all of them alike; medians over ROUNDS rounds after
 * one warm-up round, and ratios to Grad-CAM measured in the same rounds.
 *
 * A second table times only what differs between the methods, each method's own math on the same
 * f and ∂S_c/∂f (the engine pass is the same call for every gradient method), which a loaded
 * machine's noise does not swamp.
 *
 * A benchmark, not a test: nothing here asserts on wall-clock times.
 * Run: node --require ts-node/register bench/family.ts   (FAMILY_ROUNDS=n, default 9)
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend';
import { runGraph } from '../src/model/graph';
import { runEngine } from '../src/model/engine';
import { EIGEN_CAM, EIGEN_GRAD_CAM, GRAD_CAM, GRAD_CAM_ELEMENT_WISE, GRAD_CAM_PLUS_PLUS, HIRES_CAM, LAYER_CAM, XGRAD_CAM, explain, type LayerPass } from '../src/explain/index';
import { mobileNetV2, randomImages } from '../test/fixtures/models';

const ROUNDS = Number(process.env.FAMILY_ROUNDS ?? 9);
const METHODS = ['gradCam', 'gradCamPlusPlus', 'xGradCam', 'hiResCam', 'gradCamElementWise', 'layerCam', 'eigenCam', 'eigenGradCam'] as const;
const LAYERS = { last: 'out_relu6', inner: 'block_5_add' } as const;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm' });
  const model = mobileNetV2({ size: 224, alpha: 1, full: true });
  const x = randomImages(1, 224, 3);
  const jobs: Array<[string, () => void]> = [['forward', () => tf.tidy(() => void runGraph(model, x, { capture: [], scoreKind: 'logits' }).scores.dataSync())]];
  for (const [where, layer] of Object.entries(LAYERS)) {
    for (const method of METHODS) jobs.push([`${method} ${where}`, () => void explain(model, x, { method, layer })]);
  }
  const times = new Map<string, number[]>(jobs.map(([k]) => [k, []]));
  for (let round = -1; round < ROUNDS; round++) {
    for (let j = 0; j < jobs.length; j++) {
      const [key, run] = jobs[(j + Math.max(round, 0)) % jobs.length];
      const t0 = performance.now();
      run();
      if (round >= 0) times.get(key)!.push(performance.now() - t0);
    }
  }
  const fwd = median(times.get('forward')!);
  const lines = [`MobileNetV2 224 α=1, batch 1, wasm, ${ROUNDS} rounds, median ms (ratio to Grad-CAM at the same layer; to the forward pass)`, '',
    '| method | last block | vs Grad-CAM | inner block | vs Grad-CAM |', '|---|--:|--:|--:|--:|', `| forward | ${fwd.toFixed(1)} | | | |`];
  for (const method of METHODS) {
    const cell = (where: string) => {
      const t = median(times.get(`${method} ${where}`)!);
      const g = median(times.get(`gradCam ${where}`)!);
      return `${t.toFixed(1)} (${(t / fwd).toFixed(2)}× fwd) | ${(t / g).toFixed(3)}`;
    };
    lines.push(`| ${method} | ${cell('last')} | ${cell('inner')} |`);
  }
  console.log(lines.join('\n'));
  console.log(['', 'Each method\'s own math on one pass (ms, median of 15; the pass itself is shared):', '',
    '| method | last block | inner block |', '|---|--:|--:|', ...mathRows(model, x)].join('\n'));
  x.dispose();
  model.dispose();
}

const DEFS = { gradCam: GRAD_CAM, gradCamPlusPlus: GRAD_CAM_PLUS_PLUS, xGradCam: XGRAD_CAM, hiResCam: HIRES_CAM, gradCamElementWise: GRAD_CAM_ELEMENT_WISE, layerCam: LAYER_CAM, eigenCam: EIGEN_CAM, eigenGradCam: EIGEN_GRAD_CAM };

/** Median time of each method's result() (its weights or map, the map forms) on one engine pass per layer. */
function mathRows(model: tf.LayersModel, x: tf.Tensor4D): string[] {
  const cells = new Map<string, string[]>();
  for (const layer of Object.values(LAYERS)) {
    const out = runEngine(model, x, { layer });
    const [, h, w, K] = out.f.shape;
    const pass: LayerPass = {
      f: { data: out.f.dataSync() as Float32Array, shape: [h, w, K] }, grads: { data: out.grads.dataSync() as Float32Array, shape: [h, w, K] },
      h, w, K, Z: h * w, classIndex: out.classIndices[0], S: 0, scores: out.scores.dataSync() as Float32Array, inputSize: [224, 224], extra: undefined, options: {},
    };
    out.dispose();
    for (const [name, m] of Object.entries(DEFS)) {
      const t = Array.from({ length: 15 }, () => {
        const t0 = performance.now();
        m.def.result(pass);
        return performance.now() - t0;
      });
      cells.set(name, [...(cells.get(name) ?? []), median(t).toFixed(2)]);
    }
  }
  return [...cells].map(([name, c]) => `| ${name} | ${c.join(' | ')} |`);
}

void main();
