/** Finite differences at a node of a tf.GraphModel, by feeding the node. */
import * as tf from '@tensorflow/tfjs';
import { runEngine } from '../../src/model/engine';
import { graphScoresFrom, planGraph } from '../../src/model/graphmodel';

/**
 * Central differences of S_c with respect to single elements of f at a graph node, by feeding the
 * node: the largest-gradient elements, each tried at several steps (S is piecewise linear, so the
 * best step agrees to rounding unless a kink is crossed).
 */
export function graphFd(g: tf.GraphModel, x: tf.Tensor4D, layer: string, c: number, count = 6): number[] {
  const plan = planGraph(g, x.shape, { layer, classIndex: c });
  const out = runEngine(g, x, { layer, classIndex: c });
  const base = out.f.dataSync() as Float32Array;
  const grads = out.grads.dataSync() as Float32Array;
  const order = Array.from(grads.keys()).filter((i) => base[i] !== 0).sort((i, j) => Math.abs(grads[j]) - Math.abs(grads[i])).slice(0, count);
  // The cut values (skip connections around the node) are those of this image.
  const known = plan.cut.length === 0 ? [] : tf.tidy(() => {
    const vals = g.execute({ [plan.input]: x }, [...plan.cut]);
    return Array.isArray(vals) ? vals : [vals];
  });
  const feeds: tf.NamedTensorMap = {};
  plan.cut.forEach((n, i) => { feeds[n] = known[i]; });
  const rels = order.map((i) => {
    let best = Infinity;
    for (const step of [1e-3, 1e-2, 1e-1, 1]) {
      const eps = step * Math.max(1, Math.abs(base[i]));
      const s = (d: number): number => tf.tidy(() => {
        const v = Float32Array.from(base);
        v[i] += d;
        return graphScoresFrom(g, plan, x, tf.tensor(v, out.f.shape), feeds).dataSync()[c];
      });
      const numeric = (s(eps) - s(-eps)) / (2 * eps);
      best = Math.min(best, Math.abs(numeric - grads[i]) / Math.max(Math.abs(grads[i]), Math.abs(numeric), 1e-12));
      if (best < 1e-3) break;
    }
    return best;
  });
  tf.dispose(known);
  out.dispose();
  return rels;
}

