import * as tf from '@tensorflow/tfjs';
import { runGraph } from '../model/graph';
import { graphScoresFrom, planGraph } from '../model/graphmodel';
import { denseWeights, findGapHead } from '../model/head';
import { resolveLayer } from '../model/inspect';
import { toBatch } from './input';
import { gapOf, weightedSum } from './maps';
import { VerifyContext, methodOf } from './registry';
import { tidyData } from './runner';
import { CamResult, ExplainResult, GapResult, GradCamResult, IdentityCheck, MapResult } from './types';

export type { VerifyContext };

const TOL = 1e-4;

function compare(id: number, name: string, latex: string, lhs: ArrayLike<number>, rhs: ArrayLike<number>, tolerance = TOL): IdentityCheck {
  let diff = 0;
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < lhs.length; i++) {
    const d = Math.abs(lhs[i] - rhs[i]);
    if (d > diff) {
      diff = d;
      worst = i;
    }
    scale = Math.max(scale, Math.abs(rhs[i]));
  }
  const relDiff = diff / Math.max(scale, 1e-12);
  return { id, name, latex, lhs: lhs[worst] ?? NaN, rhs: rhs[worst] ?? NaN, diff, relDiff, tolerance, pass: relDiff <= tolerance };
}

function skipped(id: number, name: string, latex: string, why: string): IdentityCheck {
  return { id, name, latex, lhs: NaN, rhs: NaN, diff: NaN, relDiff: NaN, tolerance: TOL, pass: true, skipped: why };
}

const L1 = 'F_k = \\frac{1}{Z}\\sum_{x,y} f_k(x,y)';
const L2 = 'S_c = \\sum_k w_k^c F_k + b_c';
const L3 = 'S_c = \\frac{1}{Z}\\sum_{x,y} M_c(x,y) + b_c';
const L4 = '\\alpha_k^c Z = w_k^c,\\quad L_c Z = \\mathrm{ReLU}(M_c)';
const L5 = '\\alpha_k^c = \\frac{1}{Z}\\sum_{x,y}\\frac{\\partial S_c}{\\partial f_k(x,y)} \\approx \\frac{S_c(f+\\varepsilon 1_k)-S_c(f-\\varepsilon 1_k)}{2\\varepsilon Z}';

/** 1: F_k computed from f equals the model's own GlobalAveragePooling2D output. */
function identity1(r: GapResult | CamResult): IdentityCheck {
  const modelF = (r as { modelF?: Float32Array }).modelF;
  if (!modelF) return skipped(1, 'GAP', L1, 'the model has no GlobalAveragePooling2D layer at this layer');
  return compare(1, 'GAP: F_k from f equals the model\'s GAP layer', L1, gapOf(r.f), modelF);
}

/** GAP's identity: 1. */
export function gapIdentities(r: GapResult): IdentityCheck[] {
  return [identity1(r)];
}

/** CAM's identities: 1 GAP, 2 score, 3 CAM sum. */
export function camIdentities(r: CamResult): IdentityCheck[] {
  let s2 = r.b;
  for (let k = 0; k < r.w.length; k++) s2 += r.w[k] * r.F[k];
  let sumM = 0;
  for (const v of r.M.data) sumM += v;
  const s3 = sumM / r.Z + r.b;
  const out = [identity1(r)];
  if (r.scoreKind !== 'logits') {
    out.push(skipped(2, 'score', L2, 'scores are probabilities; S_c is the score before softmax'), skipped(3, 'CAM sum', L3, 'scores are probabilities'));
    return out;
  }
  out.push(compare(2, 'score: Σ_k w_k^c F_k + b_c equals S_c', L2, [s2], [r.S]));
  out.push(compare(3, 'CAM: Σ_{x,y} M_c / Z + b_c equals S_c', L3, [s3], [r.S]));
  return out;
}

/** 4: on a GAP → Dense model, α_k^c·Z = w_k^c and hence L_c·Z = ReLU(M_c). */
function identity4(r: GradCamResult, ctx?: VerifyContext): IdentityCheck[] {
  if (!ctx) return [skipped(4, 'Grad-CAM = CAM', L4, 'needs the model: verify(result, {model, image})')];
  if (ctx.model instanceof tf.GraphModel) {
    return [skipped(4, 'Grad-CAM = CAM', L4, 'a graph model has no Dense layer to read w_k^c from: verify its layers-format twin for this identity')];
  }
  const head = findGapHead(ctx.model);
  if (!head || head.featureLayer.name !== r.layer) {
    return [skipped(4, 'Grad-CAM = CAM', L4, head ? `CAM's weights exist only at '${head.featureLayer.name}'` : 'the model has no GAP → Dense head, so w_k^c do not exist')];
  }
  if (r.scoreKind !== 'logits') return [skipped(4, 'Grad-CAM = CAM', L4, 'scores are probabilities, so ∂S/∂f is not w/Z')];
  const { W, K, classes } = denseWeights(ctx.model, head);
  const wc = Float32Array.from({ length: K }, (_, k) => W[k * classes + r.classIndex]);
  const M = weightedSum(r.f, wc);
  if (r.smoothed === 'eigen') return [compare(4, 'Grad-CAM weights: α_k^c · Z equals w_k^c', L4, r.alpha.map((a) => a * r.Z), wc)];
  return [
    compare(4, 'Grad-CAM weights: α_k^c · Z equals w_k^c', L4, r.alpha.map((a) => a * r.Z), wc),
    compare(4, 'Grad-CAM map: L_c · Z equals ReLU(M_c)', L4, r.L.data.map((v) => v * r.Z), M.map((v) => (v > 0 ? v : 0))),
  ];
}

/**
 * S(f'): the scores when the target layer's (or graph node's) output is replaced by f'. A layers
 * model overrides the captured layer downstream; a graph model is fed f' at the node, with the
 * values computed before it that later nodes read (skip connections) taken from the image.
 * Runs in the caller's tidy.
 */
function scoresWithLayer(model: VerifyContext['model'], image: tf.Tensor4D, path: readonly string[], node: string, scoreKind: GradCamResult['scoreKind']): (f: tf.Tensor4D) => tf.Tensor {
  if (model instanceof tf.GraphModel) {
    const plan = planGraph(model, image.shape, { layer: node, scores: scoreKind });
    return (f) => {
      const vals = plan.cut.length === 0 ? [] : model.execute({ [plan.input]: image }, [...plan.cut]);
      const known: tf.NamedTensorMap = {};
      (Array.isArray(vals) ? vals : [vals]).forEach((v, i) => { known[plan.cut[i]] = v; });
      return graphScoresFrom(model, plan, image, f, known);
    };
  }
  return (f) => runGraph(model, image, { capture: path, scoreKind, override: f }).scores;
}

/**
 * 5: α_k^c against a finite difference: adding ε to every position of map k changes S_c by
 * 2εZ·α_k^c between f+ε1_k and f−ε1_k. Checked on the `channels` channels of largest |α|.
 */
function identity5(r: GradCamResult, ctx?: VerifyContext, channels = 3): IdentityCheck {
  if (!ctx) return skipped(5, 'α by finite differences', L5, 'needs the model: verify(result, {model, image})');
  const layer = resolveLayer(ctx.model, r.layer);
  const batch = toBatch(ctx.model, ctx.image);
  try {
    const image = batch.shape[0] === 1 ? batch : null;
    if (!image) return skipped(5, 'α by finite differences', L5, 'give the single image this result came from');
    const [h, w, K] = r.f.shape;
    const order = Array.from(r.alpha.keys()).sort((a, b) => Math.abs(r.alpha[b]) - Math.abs(r.alpha[a])).slice(0, Math.min(channels, K));
    let fScale = 0;
    for (const v of r.f.data) fScale = Math.max(fScale, Math.abs(v));
    // Small enough that few ReLU kinks are crossed, large enough that 2εZα stands far above
    // float32 rounding of S.
    const eps = 1e-4 * Math.max(fScale, 1e-3);
    const scoresAt = scoresWithLayer(ctx.model, image, layer.path, r.layer, r.scoreKind);
    const S = (k: number, sign: number): number => tidyData(() => {
      const shifted = Float32Array.from(r.f.data);
      for (let p = 0; p < h * w; p++) shifted[p * K + k] += sign * eps;
      return scoresAt(tf.tensor4d(shifted, [1, h, w, K])).dataSync()[r.classIndex];
    });
    const fd = order.map((k) => (S(k, 1) - S(k, -1)) / (2 * eps * h * w));
    return compare(5, 'Grad-CAM weights α_k^c match finite differences of S_c', L5, order.map((k) => r.alpha[k]), fd, 2e-2);
  } finally {
    batch.dispose();
  }
}

/** Grad-CAM's identities: 4 Grad-CAM = CAM on GAP models, 5 α by finite differences (pass {model, image}). */
export function gradCamIdentities(r: GradCamResult, ctx?: VerifyContext): IdentityCheck[] {
  if (r.target !== undefined) {
    const why = 'a target function is explained, not a class score S_c';
    return [skipped(4, 'Grad-CAM = CAM', L4, why), skipped(5, 'α by finite differences', L5, why)];
  }
  return [...identity4(r, ctx), identity5(r, ctx)];
}

/**
 * Evaluates the article's identities on a result's real numbers: each with both sides, the
 * difference, the tolerance and pass/fail (skipped ones say why they do not apply). Which
 * identities apply is the method's own declaration in the registry: 1 GAP, 2 score, 3 CAM sum
 * (CAM results); 4 Grad-CAM = CAM on GAP models and 5 α by finite differences (Grad-CAM and
 * guided Grad-CAM; pass {model, image}). A method that declares none gives an empty list.
 */
export function verify(result: ExplainResult, ctx?: VerifyContext): IdentityCheck[] {
  return methodOf(result.method).verify?.(result, ctx) ?? [];
}

// ---- The CAM family after Grad-CAM: its reductions on a GAP → Dense head (identities 6–10) ----
// There ∂S_c/∂f_k(x,y) = w_k^c / Z at every position, so each method's map has a closed form in
// CAM's quantities; the derivations are in each method's doc comment.

/** A family result as the identities read it. */
interface FamilyResult extends MapResult {
  readonly alpha?: Float32Array;
  readonly epsilon?: number;
  readonly fused?: unknown;
}

/** w^c at the GAP layer, or why the reductions do not apply to this result. */
function gapWeights(r: FamilyResult, ctx: VerifyContext | undefined): { wc: Float32Array } | { why: string } {
  if (!ctx) return { why: 'needs the model: verify(result, {model, image})' };
  if (r.fused) return { why: 'a fusion of several layers has no single layer to reduce at' };
  if (r.target !== undefined) return { why: 'a target function is explained, not a class score S_c' };
  if (ctx.model instanceof tf.GraphModel) return { why: 'a graph model has no Dense layer to read w_k^c from: verify its layers-format twin for these reductions' };
  const head = findGapHead(ctx.model);
  if (!head) return { why: 'the model has no GAP → Dense head, so w_k^c do not exist' };
  if (head.featureLayer.name !== r.layer) return { why: `the reductions hold at the layer the GAP averages ('${head.featureLayer.name}')` };
  if (r.scoreKind !== 'logits') return { why: 'scores are probabilities, so ∂S/∂f is not w/Z' };
  const { W, K, classes } = denseWeights(ctx.model, head);
  return { wc: Float32Array.from({ length: K }, (_, k) => W[k * classes + r.classIndex]) };
}

/** The raw map times Z, against the closed form the reduction gives. */
function mapTimesZ(id: number, name: string, latex: string, r: FamilyResult, rhs: ArrayLike<number>): IdentityCheck {
  return compare(id, name, latex, r.raw.data.map((v) => v * r.Z), rhs);
}

const L6 = '\\alpha_k^c\\,(Z F_k + \\varepsilon) = w_k^c F_k,\\qquad L^{\\mathrm{XGrad}}_c Z = \\mathrm{ReLU}(M_c)';
const L7 = 'L^{\\mathrm{HiRes}}_c Z = \\mathrm{ReLU}(M_c)';
const L8 = 'L^{\\mathrm{Layer}}_c Z = \\sum_k \\mathrm{ReLU}(w_k^c) f_k \\quad (f \\ge 0)';
const L9 = 'L^{\\mathrm{elem}}_c Z = \\sum_k \\mathrm{ReLU}(w_k^c) f_k \\quad (f \\ge 0)';
const L10 = '\\alpha_k^c = \\frac{\\mathrm{ReLU}(w_k^c)\\,(w_k^c)^2}{(w_k^c)^2 (2 + w_k^c F_k) + \\varepsilon Z^2}';

/** ReLU(M_c) at the GAP layer. */
function reluM(r: FamilyResult, wc: Float32Array): Float32Array {
  return weightedSum(r.f, wc).map((v) => (v > 0 ? v : 0));
}

/** Σ_k ReLU(w_k^c) f_k, or null when some f < 0 (then the reduction does not hold). */
function positivePartMap(r: FamilyResult, wc: Float32Array): Float32Array | null {
  if (r.f.data.some((v) => v < 0)) return null;
  return weightedSum(r.f, wc.map((v) => (v > 0 ? v : 0)));
}

/** 6: XGrad-CAM on a GAP head: α_k (Z F_k + ε) = w_k F_k exactly, hence map·Z = ReLU(M_c). */
export function xGradCamIdentities(r: FamilyResult, ctx?: VerifyContext): IdentityCheck[] {
  const g = gapWeights(r, ctx);
  if ('why' in g) return [skipped(6, 'XGrad-CAM = Grad-CAM on a GAP head', L6, g.why)];
  const F = gapOf(r.f);
  const eps = r.epsilon ?? 0;
  return [
    compare(6, 'XGrad-CAM weights: α_k^c (Z F_k + ε) equals w_k^c F_k', L6, r.alpha!.map((a, k) => a * (r.Z * F[k] + eps)), g.wc.map((w, k) => w * F[k])),
    r.smoothed ? skipped(6, 'XGrad-CAM map', L6, 'a smoothed map is not Σ_k α_k f_k') : mapTimesZ(6, 'XGrad-CAM map: L · Z equals ReLU(M_c)', L6, r, reluM(r, g.wc)),
  ];
}

/** 7: HiResCAM on a GAP head: map·Z = ReLU(M_c) (the 1/Z is the GAP's own gradient). */
export function hiResCamIdentities(r: FamilyResult, ctx?: VerifyContext): IdentityCheck[] {
  const g = gapWeights(r, ctx);
  if ('why' in g) return [skipped(7, 'HiResCAM = Grad-CAM on a GAP head', L7, g.why)];
  if (r.smoothed) return [skipped(7, 'HiResCAM = Grad-CAM on a GAP head', L7, 'a smoothed map is not the sum over channels')];
  return [mapTimesZ(7, 'HiResCAM map: L · Z equals ReLU(M_c)', L7, r, reluM(r, g.wc))];
}

function positivePartIdentity(id: number, label: string, latex: string, r: FamilyResult, ctx?: VerifyContext): IdentityCheck[] {
  const g = gapWeights(r, ctx);
  if ('why' in g) return [skipped(id, `${label} on a GAP head`, latex, g.why)];
  if (r.smoothed) return [skipped(id, `${label} on a GAP head`, latex, 'a smoothed map is not the sum over channels')];
  const rhs = positivePartMap(r, g.wc);
  if (!rhs) return [skipped(id, `${label} on a GAP head`, latex, 'f has negative values here (no ReLU before the GAP), so ReLU(w f) ≠ ReLU(w) f')];
  return [mapTimesZ(id, `${label} map: L · Z equals Σ_k ReLU(w_k^c) f_k`, latex, r, rhs)];
}

/** 8: LayerCAM on a GAP head with f ≥ 0: map·Z = Σ_k ReLU(w_k^c) f_k. */
export function layerCamIdentities(r: FamilyResult, ctx?: VerifyContext): IdentityCheck[] {
  return positivePartIdentity(8, 'LayerCAM', L8, r, ctx);
}

/** 9: element-wise Grad-CAM on a GAP head with f ≥ 0: map·Z = Σ_k ReLU(w_k^c) f_k. */
export function elementwiseIdentities(r: FamilyResult, ctx?: VerifyContext): IdentityCheck[] {
  return positivePartIdentity(9, 'Element-wise Grad-CAM', L9, r, ctx);
}

/** 10: Grad-CAM++ on a GAP head: α_k = ReLU(w) w² / (w² (2 + w F_k) + ε Z²) (pytorch-grad-cam's ε). */
export function gradCamPlusPlusIdentities(r: FamilyResult, ctx?: VerifyContext): IdentityCheck[] {
  const g = gapWeights(r, ctx);
  if ('why' in g) return [skipped(10, 'Grad-CAM++ weights on a GAP head', L10, g.why)];
  const F = gapOf(r.f);
  const eps = r.epsilon ?? 0;
  const rhs = g.wc.map((w, k) => (w > 0 ? (w * w * w) / (w * w * (2 + w * F[k]) + eps * r.Z * r.Z) : 0));
  return [compare(10, 'Grad-CAM++ weights: α_k^c equals ReLU(w) w² / (w² (2 + w F_k) + ε Z²)', L10, r.alpha!, rhs)];
}

// ---- The forward-pass methods (identities 11–12) ----

const L11 = '\\alpha_k^c\\, S_c = w_k^c\\,(F_k - v)\\quad(v = 0 \\text{ when } \\min f = 0)';

/**
 * 11: Ablation-CAM on a GAP → Dense head. Setting f_k to v everywhere changes F_k to v, so
 * S_c^k = S_c − w_k^c (F_k − v) and α_k^c S_c = S_c − S_c^k = w_k^c (F_k − v); the bias b_c is in
 * both scores and drops out. With v = 0 (f ≥ 0 with a zero somewhere, as after a ReLU) this is
 * α_k^c = w_k^c F_k / S_c.
 */
export function ablationCamIdentities(r: MapResultWith<{ alpha: Float32Array; ablationValue: number }>, ctx?: VerifyContext): IdentityCheck[] {
  const name = 'Ablation-CAM on a GAP head: α_k^c S_c equals w_k^c (F_k − v)';
  if (!ctx) return [skipped(11, name, L11, 'needs the model: verify(result, {model, image})')];
  if (!(ctx.model instanceof tf.LayersModel)) return [skipped(11, name, L11, 'a graph model has no Dense weights w_k^c to read')];
  const model = ctx.model;
  const head = findGapHead(model);
  if (!head || head.featureLayer.name !== r.layer) {
    return [skipped(11, name, L11, head ? `the reduction holds at the layer the GAP averages ('${head.featureLayer.name}')` : 'the model has no GAP → Dense head, so w_k^c do not exist')];
  }
  if (r.scoreKind !== 'logits') return [skipped(11, name, L11, 'scores are probabilities, which are not linear in F_k')];
  if (r.S === 0) return [skipped(11, name, L11, 'S_c = 0: the weights are the undivided differences')];
  const { W, K, classes } = denseWeights(model, head);
  const F = gapOf(r.f);
  const rhs = Float64Array.from({ length: K }, (_, k) => W[k * classes + r.classIndex] * (F[k] - r.ablationValue));
  return [compare(11, name, L11, Array.from(r.alpha, (a) => a * r.S), rhs, 1e-3)];
}

/** A map result with a method's own fields. */
type MapResultWith<P> = import('./types').MapResult & P;

const L12 = 'x\\cdot\\nabla_x S_c + \\sum_l b^l\\cdot\\nabla_{b^l} S_c = S_c';

/**
 * 12: FullGrad's completeness. A network built from convs, Dense, BatchNorm (affine in inference),
 * ReLU/ReLU6, max/average pooling and additions is piecewise linear and positively homogeneous in
 * (input, biases) jointly, so Euler's theorem gives S_c = x·∇_x S_c + Σ_l b^l·∇_{b^l} S_c.
 */
export function fullGradIdentities(r: import('./types').MapResult & { completeness: { inputTerm: number; biasTerm: number } }): IdentityCheck[] {
  const name = 'FullGrad completeness: input·∇S_c + Σ bias·∇S_c equals S_c';
  if (r.scoreKind !== 'logits') return [skipped(12, name, L12, 'scores are probabilities, which are not piecewise linear')];
  return [compare(12, name, L12, [r.completeness.inputTerm + r.completeness.biasTerm], [r.S])];
}
