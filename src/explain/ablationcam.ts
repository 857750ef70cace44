import * as tf from '@tensorflow/tfjs';
import { runGraph, runUntil } from '../model/graph';
import { inboundNodes, nodeOf, type SymbolicTensor } from '../model/layers';
import { LongRunOptions, checkBatchSize, chunkSize, forChunks, forwardBytesPerImage } from './chunks';
import { defineWeightsMethod, type WeightParts } from './mapmethod';
import type { MethodOptions } from './registry';
import { layersOnly, type BatchContext } from './runner';
import type { MapResult } from './types';
import { ablationCamIdentities } from './verify';

/** Ablation-CAM's options: the usual ones plus how its K ablated passes per image run. */
export interface AblationCamOptions extends MethodOptions, LongRunOptions {}

/** What Ablation-CAM's results carry beyond a channel-weight result. */
export interface AblationCamParts extends WeightParts {
  /** S_c with channel k ablated, for every k: (K). */
  readonly ablatedScores: Float32Array;
  /** The value every position of an ablated channel was set to. */
  readonly ablationValue: number;
}
export interface AblationCamResult extends MapResult, AblationCamParts {
  readonly method: 'ablationCam';
}

/**
 * pytorch-grad-cam's ablation value: 0 when the activation's minimum is 0 (after a ReLU, zeroing
 * is the paper's ablation), else min − 1e7, far below anything the layer produces.
 */
export function ablationValue(f: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < f.length; i++) m = Math.min(m, f[i]);
  return m === 0 ? 0 : m - 1e7;
}

/**
 * The values a pass above the target layer needs from below it: walking back from the model's
 * outputs, every value recorded by runUntil where the walk stops (the target's output, skip
 * connections around it, the input), by id. Values the pass never reads (e.g. a folded conv's
 * input) are not repeated.
 */
function frontier(model: tf.LayersModel, known: ReadonlyMap<number, tf.Tensor>): { ids: number[]; aboveBytes: number } {
  const need = new Set<number>();
  const seen = new Set<number>();
  let aboveBytes = 0;
  const visit = (s: SymbolicTensor): void => {
    if (seen.has(s.id)) return;
    seen.add(s.id);
    if (known.has(s.id)) {
      need.add(s.id);
      return;
    }
    // Per-image bytes of what the upper pass computes, for sizing its batches.
    aboveBytes += 4 * s.shape.slice(1).reduce<number>((n, d) => n * (d ?? 1), 1);
    for (const t of nodeOf(s).inputTensors) visit(t);
  };
  model.outputs.forEach(visit);
  return { ids: [...need], aboveBytes };
}

/** Image i of a batch, repeated n times along the batch axis. */
function repeatImage(t: tf.Tensor, i: number, n: number): tf.Tensor {
  const one = tf.slice(t, [i, ...t.shape.slice(1).map(() => 0)], [1, ...t.shape.slice(1).map(() => -1)]);
  return tf.tile(one, [n, ...t.shape.slice(1).map(() => 1)]);
}

/**
 * S_c with channel k of f set to the ablation value, for every image and channel. The network
 * below the target layer runs ONCE (runUntil); each chunk of B ablated copies runs only the layers
 * above it, fed with the copies as the target's value and the needed lower values repeated B
 * times. A target inside a nested model (no top-level split) runs whole passes instead.
 */
function ablatedScores(ctx: BatchContext): Array<{ scores: Float32Array; value: number }> {
  const options = ctx.options as AblationCamOptions;
  const model = layersOnly(ctx.model, 'Ablation-CAM');
  const [n, h, w, K] = ctx.pass.f.shape;
  const batchSize = checkBatchSize(options.batchSize, 'Ablation-CAM');
  const target = ctx.layer.path.length === 1 ? model.layers.find((l) => l.name === ctx.layer.path[0]) : undefined;
  const known = target ? runUntil(model, ctx.images, ctx.layer.path[0]) : null;
  const targetId = target && known ? inboundNodes(target)[0].outputTensors[0].id : -1;
  const upper = known ? frontier(model, known) : { ids: [], aboveBytes: 0 };
  const needed = upper.ids.filter((id) => id !== targetId);
  // The upper pass reads the input itself only when a layer above the target takes it.
  const inputIds = new Set(model.inputs.map((s) => s.id));
  const needsInput = needed.some((id) => inputIds.has(id));
  const fData = ctx.pass.f.dataSync() as Float32Array;
  const values = Array.from({ length: n }, (_, i) => ablationValue(fData.subarray(i * h * w * K, (i + 1) * h * w * K)));
  const bytes = 4 * h * w * K * 3 + needed.reduce((s, id) => s + 4 * known!.get(id)!.size / n, 0) + 2 * upper.aboveBytes;
  const chunk = chunkSize(n * K, known ? bytes : forwardBytesPerImage(model) + bytes, batchSize);
  const out = values.map((value) => ({ scores: new Float32Array(K), value }));
  forChunks({
    total: n * K, chunk, label: 'Ablation-CAM', unit: 'ablated channels', signal: options.signal, onProgress: options.onProgress,
    detail: (done) => `image ${Math.min(n, Math.floor(done / K) + 1)}/${n} · channels ${done === n * K ? K : done % K}/${K}`,
  }, (start, end) => {
    for (let u = start; u < end;) {
      const i = Math.floor(u / K);
      const k0 = u % K;
      const k1 = Math.min(K, k0 + (end - u));
      const b = k1 - k0;
      // Row r ablates channel k0 + r (tf.oneHot refuses a depth of 1, so compare indices).
      const mask = tf.cast(tf.equal(tf.range(0, K, 1, 'int32').reshape([1, 1, 1, K]), tf.range(k0, k1, 1, 'int32').reshape([b, 1, 1, 1])), 'float32');
      const ablated = tf.add(tf.mul(repeatImage(ctx.pass.f, i, b), tf.sub(1, mask)), tf.mul(mask, values[i]));
      const input = known && !needsInput ? tf.slice(ctx.images, [i, 0, 0, 0], [1, -1, -1, -1]) : repeatImage(ctx.images, i, b);
      const scores = known
        ? runGraph(model, input, { capture: [], scoreKind: ctx.pass.scoreKind, known: new Map([...needed.map((id) => [id, repeatImage(known.get(id)!, i, b)] as const), [targetId, ablated]]) })
        : runGraph(model, input, { capture: ctx.layer.path, scoreKind: ctx.pass.scoreKind, override: ablated });
      const s = scores.scores.dataSync() as Float32Array;
      const classes = s.length / b;
      for (let r = 0; r < b; r++) out[i].scores[k0 + r] = s[r * classes + ctx.pass.classIndices[i]];
      tf.dispose([mask, ablated, input]);
      u += b;
    }
  });
  return out;
}

/**
 * α_k = (S_c − S_c^k) / S_c. When S_c is exactly 0 the ratio does not exist; the difference
 * S_c − S_c^k is used then, which has the same ranking of channels.
 */
export function ablationWeights(S: number, ablated: Float32Array): Float32Array {
  return ablated.map((s) => (S !== 0 ? (S - s) / S : S - s));
}

/**
 * Ablation-CAM (Desai & Ramaswamy, Ablation-CAM: Visual Explanations for Deep Convolutional
 * Network via Gradient-free Localization, WACV 2020). A channel's weight is the share of the score
 * lost when the channel is removed:
 *   α_k^c = (S_c − S_c^k) / S_c,  L = ReLU(Σ_k α_k^c f_k),
 * with S_c^k the score with f_k ablated. No gradient: K passes per image of the layers above the
 * target only (the engine's two-phase split), batched.
 *
 * pytorch-grad-cam's convention, followed here: the ablated channel is set to 0 when the
 * activation's minimum is 0 and to min − 1e7 otherwise (the paper always zeroes it), and the
 * denominator is S_c itself, so a negative S_c flips every weight.
 * On a GAP → Dense head with f ≥ 0 (min 0), S_c^k = S_c − w_k^c F_k, so α_k^c = w_k^c F_k / S_c:
 * no bias term, because b_c is in both scores.
 *
 * Options: `batchSize` (ablated copies per pass; default from the memory available), `signal`
 * (AbortSignal: stops between batches with CANCELLED), `onProgress` (count, rate, ETA).
 */
export const ABLATION_CAM = defineWeightsMethod<{ readonly ablatedScores: Float32Array; readonly ablationValue: number }, { scores: Float32Array; value: number }>({
  name: 'ablationCam',
  label: 'Ablation-CAM',
  latex: '\\alpha_k^c = \\frac{S_c - S_c^{k}}{S_c},\\qquad L = \\mathrm{ReLU}\\Big(\\sum_k \\alpha_k^c f_k\\Big)',
  paper: 'Desai & Ramaswamy, Ablation-CAM, WACV 2020',
  needs: 'forward',
  batch: ablatedScores,
  weights: (p) => ablationWeights(p.S, p.extra.scores),
  parts: (p) => ({ ablatedScores: p.extra.scores, ablationValue: p.extra.value }),
  verify: (r, ctx) => ablationCamIdentities(r as unknown as AblationCamResult, ctx),
});

/** Ablation-CAM for one image (see ABLATION_CAM). */
export function ablationCam(model: tf.LayersModel, image: tf.Tensor, options: AblationCamOptions = {}): AblationCamResult {
  return ABLATION_CAM.single(model, image, options) as unknown as AblationCamResult;
}

/** Ablation-CAM for a batch: one pass to the target layer, then the ablated copies above it in chunks. */
export function ablationCamBatch(model: tf.LayersModel, images: tf.Tensor, options: AblationCamOptions = {}): AblationCamResult[] {
  return ABLATION_CAM.batch(model, images, options) as unknown as AblationCamResult[];
}

declare module './registry' {
  interface MethodResults {
    ablationCam: AblationCamResult;
  }
}
