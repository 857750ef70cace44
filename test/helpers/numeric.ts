/** Numeric helpers shared by tests: relative differences, seeded sampling, finite differences. */
import * as tf from '@tensorflow/tfjs';
import { runGraph } from '../../src/model/graph';
import { mulberry32 } from '../../src/data/prng';

export { mulberry32 };

/** max|a-b| / max(max|b|, floor): one number for "how different are these arrays". */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, floor);
}


/** The score S_c of image 0 when the target layer's output is replaced by `f`. */
export function scoreWithF(model: tf.LayersModel, image: tf.Tensor4D, path: readonly string[], f: tf.Tensor, c: number): number {
  return tf.tidy(() => {
    const r = runGraph(model, image, { capture: path, scoreKind: 'logits', override: f });
    return r.scores.dataSync()[c];
  });
}

export interface FdSample {
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
  readonly rel: number;
}

/**
 * The difference quotient of `score` at element i of `base` closest to `analytic`, tried with
 * steps from 1e-3 to 1 (relative to max(1, |base[i]|)): central, and one-sided forward and
 * backward. On a piecewise-linear S a step that crosses a kink on one side spoils the central
 * quotient, while the other side's one-sided quotient is still the exact slope; a wrong
 * gradient agrees with none of them. The search stops once one is within 1e-3 (see
 * finiteDifferences for why no single step suits).
 */
export function bestDifferenceQuotient(base: ArrayLike<number>, i: number, analytic: number, score: (v: Float32Array) => number): FdSample {
  let best: FdSample | null = null;
  let atBase: number | null = null;
  const consider = (numeric: number): boolean => {
    const rel = Math.abs(numeric - analytic) / Math.max(Math.abs(analytic), Math.abs(numeric), 1e-12);
    if (!best || rel < best.rel) best = { index: i, analytic, numeric, rel };
    return rel < 1e-3;
  };
  for (const step of [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1]) {
    const eps = step * Math.max(1, Math.abs(base[i]));
    const plus = Float32Array.from(base);
    const minus = Float32Array.from(base);
    plus[i] += eps;
    minus[i] -= eps;
    const sPlus = score(plus);
    const sMinus = score(minus);
    if (consider((sPlus - sMinus) / (plus[i] - minus[i]))) break;
    atBase ??= score(Float32Array.from(base));
    if (consider((sPlus - atBase) / (plus[i] - base[i])) || consider((atBase - sMinus) / (base[i] - minus[i]))) break;
  }
  return best as unknown as FdSample;
}

/**
 * Finite differences of S_c with respect to sampled elements of f (batch of one): the `top`
 * elements of largest |gradient| and `random` more among those with |g| ≥ 10% of max.
 *
 * These networks are piecewise linear in f (ReLU, ReLU6, max-pool, inference BatchNorm), so a
 * difference quotient is exact unless the step crosses a kink, while a small step drowns in
 * float32 rounding of S (|ΔS| near 1e-7·|S|). No single step suits every element, so each element
 * is tried with steps from 1e-3 to 1, central and one-sided (bestDifferenceQuotient), and the
 * closest agreement is reported: a wrong gradient cannot agree to 1% at any of them.
 */
export function finiteDifferences(model: tf.LayersModel, image: tf.Tensor4D, path: readonly string[], f: tf.Tensor, grads: Float32Array,
  c: number, opts: { top?: number; random?: number; seed?: number } = {}): FdSample[] {
  const rand = mulberry32(opts.seed ?? 1);
  const base = f.dataSync();
  // An activation that is exactly 0 (a ReLU's clamp) can tie with its neighbours in a max-pool
  // window: there S has one-sided derivatives (the gradient takes one, a central difference their
  // mean), so such elements are not sampled.
  const order = Array.from(grads.keys()).filter((i) => base[i] !== 0).sort((i, j) => Math.abs(grads[j]) - Math.abs(grads[i]));
  const max = Math.abs(grads[order[0]]);
  const big = order.filter((i) => Math.abs(grads[i]) >= 0.1 * max);
  const picks = new Set(order.slice(0, opts.top ?? 4));
  for (let k = 0; k < (opts.random ?? 4) && big.length > 0; k++) picks.add(big[Math.floor(rand() * big.length)]);
  return [...picks].map((i) => bestDifferenceQuotient(base, i, grads[i], (v) => tf.tidy(() => scoreWithF(model, image, path, tf.tensor(v, f.shape), c))));
}

