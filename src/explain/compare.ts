/**
 * Several methods on one image, side by side: the comparison a researcher makes first. Methods
 * that share a layer and a gradient scope run from ONE engine pass (runLayerMethods); several
 * classes run as one batch of copies of the image, one class per copy.
 */
import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { toBatch } from './input';
import { MethodOptions, methodNames, methodOf } from './registry';
import { CallContext, LayerMethodDef, runLayerMethods } from './runner';
import type { ExplainResult } from './types';

/** What compareMethods takes: the methods, the classes, and options passed to every method. */
export interface CompareOptions extends Omit<MethodOptions, 'classIndex'> {
  /** Registered method names; default: every registered method that runs on this model. */
  readonly methods?: readonly string[];
  /** One class, several classes (a dropdown switches between them), or the top-1 class (default). */
  readonly classIndex?: number | readonly number[] | 'top1';
  /** Any further option a method takes (batchSize, seed, signal …) is passed through. */
  readonly [option: string]: unknown;
}

/** One image explained by several methods for one or more classes. */
export interface MethodComparison {
  readonly kind: 'methodComparison';
  /** The methods that ran, in the order of the columns. */
  readonly methods: readonly string[];
  /** The classes, in the order of the rows. */
  readonly classes: readonly number[];
  /** rows[j][m]: method m's result for classes[j]. */
  readonly rows: ReadonlyArray<readonly ExplainResult[]>;
  /** Default methods that cannot run on this model, with why (an explicitly asked method throws instead). */
  readonly skipped: ReadonlyArray<{ readonly method: string; readonly reason: string }>;
}

/** True for compareMethods' result. */
export function isMethodComparison(x: unknown): x is MethodComparison {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'methodComparison' && Array.isArray((x as { rows?: unknown }).rows);
}

type Def = LayerMethodDef<object, unknown>;

/**
 * Runs `methods` on one image for one or several classes and returns every result, grouped by
 * class. A list of classes runs as a batch of copies of the image (copy j explains class j);
 * methods defined on one layer pass are grouped by (layer, gradient scope) and each group runs
 * from one engine pass. Display: one panel per method over the input, a class dropdown when
 * several classes are asked, and hover shows the value.
 */
export function compareMethods(model: tf.LayersModel, image: tf.Tensor, options: CompareOptions = {}): MethodComparison {
  const explicit = options.methods !== undefined;
  const names = options.methods ?? methodNames();
  if (!Array.isArray(names) || names.length === 0) {
    throw new TslabCamError('BAD_OPTION', 'compareMethods: methods must be a non-empty list of method names.', `Pass e.g. {methods: ['gradCam', 'scoreCam']}; registered: ${methodNames().join(', ')}.`);
  }
  const methods = names.map((n) => methodOf(n));
  const one = toBatch(model, image);
  try {
    if (one.shape[0] !== 1) {
      throw new TslabCamError('BAD_IMAGE', `compareMethods() compares methods on one image, got a batch of ${one.shape[0]}.`, 'Pass one image (H, W, C); use explain() for batches.');
    }
    const asked = options.classIndex;
    const list = Array.isArray(asked) ? asked as readonly number[] : null;
    if (list && list.length === 0) throw new TslabCamError('BAD_CLASS', 'compareMethods: classIndex is an empty list.', 'Pass one class, several, or omit it for the top-1 class.');
    const batch = list ? tf.tile(one, [list.length, 1, 1, 1]) : one.clone();
    try {
      const methodOptions = { ...options, classIndex: list ?? asked } as MethodOptions;
      const call: CallContext = { model, once: <T>(_key: string, fn: () => T): T => fn() };
      const byMethod = new Map<string, ExplainResult[]>();
      const skipped: Array<{ method: string; reason: string }> = [];
      const groups = new Map<string, { defs: Def[]; names: string[] }>();
      const runOne = (name: string, fn: () => void): void => {
        try {
          fn();
        } catch (e) {
          if (explicit || !(e instanceof TslabCamError) || e.code === 'CANCELLED') throw e;
          skipped.push({ method: name, reason: e.message });
        }
      };
      for (const m of methods) {
        const def = (m as { def?: Def }).def;
        if (!def) {
          runOne(m.name, () => byMethod.set(m.name, m.explainBatch(model, batch, methodOptions)));
          continue;
        }
        let layer: unknown;
        try {
          layer = def.fixedLayer?.(call) ?? options.layer ?? def.defaultLayer?.(call);
        } catch (e) {
          runOne(m.name, () => { throw e; });
          continue;
        }
        const key = `${String(layer)}|${methods.findIndex((x) => (x as { def?: Def }).def?.scope === def.scope)}`;
        const g = groups.get(key) ?? { defs: [], names: [] };
        g.defs.push(def);
        g.names.push(m.name);
        groups.set(key, g);
      }
      for (const g of groups.values()) {
        let out: ExplainResult[][] | null = null;
        try {
          out = runLayerMethods(g.defs, model, batch, methodOptions) as unknown as ExplainResult[][];
        } catch {
          // One method of the group may refuse the model (CAM without a GAP head): run them one by one.
          g.defs.forEach((d, i) => runOne(g.names[i], () => byMethod.set(g.names[i], runLayerMethods([d], model, batch, methodOptions)[0] as unknown as ExplainResult[])));
        }
        out?.forEach((results, i) => byMethod.set(g.names[i], results));
      }
      // Only results that have a picture (a map or an input-sized image) make a panel.
      const ran = names.filter((n) => byMethod.has(n));
      const n = batch.shape[0];
      const rows = Array.from({ length: n }, (_, j) => ran.map((m) => byMethod.get(m)![j]));
      return { kind: 'methodComparison', methods: ran, classes: rows.map((r) => r[0]?.classIndex ?? -1), rows, skipped };
    } finally {
      batch.dispose();
    }
  } finally {
    one.dispose();
  }
}
