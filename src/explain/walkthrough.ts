import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { findGapHead } from '../model/head';
import { resolveLayer } from '../model/inspect';
import { CAM } from './cam';
import { GAP } from './gap';
import { GRAD_CAM } from './gradcam';
import { combineGuidedGradCam, guidedBackpropBatch } from './guided';
import { maxOf } from './maps';
import { MethodOptions, methodOf } from './registry';
import { runLayerMethods } from './runner';
import { runChunks, type LongRunOptions } from '../run/chunks';
import { CamResult, ExplainResult, GapResult, GradCamResult, GuidedBackpropResult, GuidedGradCamResult, IdentityCheck } from './types';
import { verify } from './verify';

export type StepKey = 'features' | 'gap' | 'scores' | 'cam' | 'gradCam' | 'guidedBackprop' | 'guidedGradCam';

/** One stop on the article's path: its equation, its numbers, its result and the checks of its identity. */
export interface WalkthroughStep {
  readonly index: number;
  readonly key: StepKey;
  readonly title: { readonly ja: string; readonly en: string };
  /** The step's equation in LaTeX with the article's symbols. */
  readonly latex: string;
  /** Named numbers worth printing (shapes, leading values, sums). */
  readonly numbers: Readonly<Record<string, string | number>>;
  /** The result the figure is drawn from; absent when the step does not apply to this model. */
  readonly result?: ExplainResult;
  readonly checks: readonly IdentityCheck[];
  /** Why the step does not apply (e.g. CAM on a model without a GAP head). */
  readonly notApplicable?: string;
}

export interface Walkthrough {
  readonly steps: readonly WalkthroughStep[];
  readonly classIndex: number;
  readonly layer: string;
  /** Step n (1-based, as numbered in the article's order). */
  step(n: number): WalkthroughStep;
  /** True when every check that ran passed. */
  readonly allPassed: boolean;
  [Symbol.iterator](): Iterator<WalkthroughStep>;
}

const lead = (a: ArrayLike<number>, n = 4): string => Array.from(a).slice(0, n).map((v) => v.toPrecision(4)).join(', ') + (a.length > n ? ', …' : '');
const sum = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};
const latexOf = (method: string): string => methodOf(method).latex;

/**
 * The article's path as ordered steps for one image and class: f_k → F_k (GAP) → S_c → M_c (CAM)
 * → α_k^c, L_c (Grad-CAM) → guided backprop → guided Grad-CAM, each with its equation, numbers,
 * result and identity checks. On a model without a GAP → Dense head, the GAP-head steps say why
 * they do not apply and Grad-CAM carries on (the article's reason for Grad-CAM).
 * Two model passes: one at the layer (f, ∂S_c/∂f and S serve GAP, CAM and Grad-CAM alike) and one
 * guided pass to the input (guided backprop, and with L_c guided Grad-CAM).
 */
export function walkthrough(model: tf.LayersModel, image: tf.Tensor, options: MethodOptions & LongRunOptions = {}): Walkthrough {
  const head = findGapHead(model);
  const layer = options.layer !== undefined ? resolveLayer(model, options.layer).name : head ? head.featureLayer.name : resolveLayer(model).name;
  const hasCam = !!head && head.featureLayer.name === layer;
  const noCam = head ? `CAM's weights w_k^c exist only at the layer the GAP averages ('${head.featureLayer.name}').`
    : 'This model has no GlobalAveragePooling2D → Dense head (it flattens the feature maps), so the weights w_k^c of CAM do not exist. Grad-CAM below does not need them.';
  const defs = hasCam ? [GRAD_CAM.def, GAP.def, CAM.def] : [GRAD_CAM.def, GAP.def];
  let gc!: GradCamResult, g!: GapResult, gb!: GuidedBackpropResult;
  let cm = null as CamResult | null;
  let camChecks: IdentityCheck[] = [], gapChecks: IdentityCheck[] = [], gcChecks: IdentityCheck[] = [];
  // Three stages, each a point where a kernel interrupt or options.signal can stop the walk.
  const stages = [
    (): void => {
      const [[a], [b], cams] = runLayerMethods(defs, model, image, { ...options, layer }, 'walkthrough') as [[GradCamResult], [GapResult], CamResult[]?];
      gc = a;
      g = b;
      cm = cams?.[0] ?? null;
    },
    (): void => {
      gb = guidedBackpropBatch(model, image, { ...options, classIndex: gc.classIndex })[0];
    },
    (): void => {
      camChecks = cm ? verify(cm) : [];
      gapChecks = verify(g);
      gcChecks = verify(gc, { model, image });
    },
  ];
  const titles = ['GAP, CAM and Grad-CAM (one pass at the layer)', 'guided backprop (one pass to the input)', 'identity checks'];
  runChunks({ ...options, total: stages.length, chunk: 1, label: 'walkthrough', unit: 'stages', detail: (d) => titles[Math.min(d, titles.length - 1)] },
    (i) => stages[i]());
  const c = gc.classIndex;
  const gg: GuidedGradCamResult = combineGuidedGradCam(gb, gc);
  const [h, w, K] = g.f.shape;
  const steps: WalkthroughStep[] = [
    {
      index: 1, key: 'features', title: { ja: '特徴マップ f_k', en: 'Feature maps f_k' },
      latex: 'f_k(x,y),\\quad k = 1,\\dots,K,\\quad Z = \\sum_{x,y} 1',
      numbers: { layer, shape: `${h} × ${w} × ${K}`, Z: h * w, 'f_0(0,0…)': lead(Array.from({ length: Math.min(4, w) }, (_, x) => g.f.data[x * K])) },
      result: g, checks: [],
    },
    {
      index: 2, key: 'gap', title: { ja: 'Global Average Pooling: F_k', en: 'Global average pooling: F_k' },
      latex: latexOf('gap'),
      numbers: { K, 'F (first)': lead(g.F), ...(g.modelF ? { "model's GAP (first)": lead(g.modelF) } : {}) },
      result: g, checks: gapChecks.filter((x) => !x.skipped || hasCam),
    },
    {
      index: 3, key: 'scores', title: { ja: 'クラススコア S_c', en: 'Class scores S_c' },
      latex: 'S_c = \\sum_k w_k^c F_k + b_c',
      numbers: {
        c, ...(gc.className ? { class: gc.className } : {}), S_c: gc.S.toPrecision(6), 'all S': lead(gc.scores, gc.scores.length), scores: gc.scoreKind,
        ...(cm ? {} : { 'Σ_k w_k^c F_k + b_c': 'not checked: this model has no GAP → Dense head, so w_k^c do not exist' }),
      },
      result: cm ?? gc, checks: camChecks.filter((x) => x.id === 2),
    },
    {
      index: 4, key: 'cam', title: { ja: 'CAM: M_c(x,y)', en: 'CAM: M_c(x,y)' },
      latex: `${latexOf('cam')},\\qquad S_c = \\frac{1}{Z}\\sum_{x,y} M_c(x,y) + b_c`,
      numbers: cm ? { 'w^c (first)': lead(cm.w), b_c: cm.b.toPrecision(6), 'Σ M_c / Z + b_c': (sum(cm.M.data) / cm.Z + cm.b).toPrecision(6), S_c: cm.S.toPrecision(6) } : {},
      ...(cm ? { result: cm } : {}), checks: camChecks.filter((x) => x.id === 3),
      ...(cm ? {} : { notApplicable: noCam }),
    },
    {
      index: 5, key: 'gradCam', title: { ja: 'Grad-CAM: α_k^c と L_c', en: 'Grad-CAM: α_k^c and L_c' },
      latex: latexOf('gradCam'),
      numbers: { 'α (first)': lead(gc.alpha), ...(cm ? { 'α·Z (first)': lead(gc.alpha.map((a) => a * gc.Z)), 'w^c (first)': lead(cm.w) } : {}), 'max L_c': maxOf(gc.L.data).toPrecision(4) },
      result: gc, checks: gcChecks,
    },
    {
      index: 6, key: 'guidedBackprop', title: { ja: 'Guided Backpropagation', en: 'Guided backpropagation' },
      latex: latexOf('guidedBackprop'),
      numbers: { shape: gb.gradient.shape.join(' × '), 'max |G|': maxOf(gb.gradient.data.map(Math.abs)).toExponential(3) },
      result: gb, checks: [],
    },
    {
      index: 7, key: 'guidedGradCam', title: { ja: 'Guided Grad-CAM', en: 'Guided Grad-CAM' },
      latex: latexOf('guidedGradCam'),
      numbers: { shape: gg.product.shape.join(' × '), upsampling: 'bilinear' },
      result: gg, checks: [],
    },
  ];
  const allPassed = steps.every((s) => s.checks.every((x) => x.pass));
  return {
    steps, classIndex: c, layer, allPassed,
    step(n: number): WalkthroughStep {
      const s = steps[n - 1];
      if (!s) throw new TslabCamError('BAD_OPTION', `The walkthrough has steps 1 to ${steps.length}, not ${n}.`, `Call step(n) with n from 1 to ${steps.length}, or iterate: for (const s of wt) …`);
      return s;
    },
    [Symbol.iterator]: () => steps[Symbol.iterator](),
  };
}
