/**
 * evaluate(model, samples, {methods, metrics}): every method × every metric over the samples, as a
 * plain table of means with 95% confidence intervals. Methods and metrics come from their
 * registries, so a new one is evaluated with no change here. Maps run in batches (one explain call
 * per method per batch); the perturbed images of one curve run as one batched forward.
 */
import * as tf from '@tensorflow/tfjs';
import { CancelledError, TslabCamError } from '../errors';
import { runChunksAsync } from '../run/chunks';
import { methodNames, methodOf } from '../explain/registry';
import { checkSample, targetBox } from './geometry';
import { checkSteps } from './perturb';
import { metricNames, metricOf, type RegisteredMetric } from './registry';
import { saliencyOf } from './saliency';
import { cascadeLayers, copyModel, randomiseLayer } from './sanity';
import { estimate } from './stats';
import { samplesToBatch } from './samples';
import type { EvalCell, EvalSample, EvalTable, Forward, MetricOptions } from './types';
import './metrics';

/** Progress of an evaluation: samples finished of the total. */
export interface EvaluateProgress {
  readonly done: number;
  readonly total: number;
}

export interface EvaluateOptions extends MetricOptions {
  /** Registered method names (default: every registered method that gives a map). */
  readonly methods?: readonly string[];
  /** Registered metric names (default: every registered metric). */
  readonly metrics?: readonly string[];
  /** One class for every sample; default each sample's classIndex, else the model's top-1. */
  readonly classIndex?: number;
  /** Target layer for the map methods (default: each method's own). */
  readonly layer?: string | number;
  /** Samples per explain batch (default 16). */
  readonly batchSize?: number;
  /** Images per forward call of the perturbation metrics (default 130: a 64-step deletion and insertion). */
  readonly forwardBatch?: number;
  /** Cancels between batches. */
  readonly signal?: AbortSignal;
  /** When cancelled: return what finished, marked partial (true), or throw CANCELLED (default). */
  readonly partialOnCancel?: boolean;
  readonly onProgress?: (p: EvaluateProgress) => void;
  /** Seed of the randomised copy for the 'sanity' metric. */
  readonly seed?: number;
}


/** The model's output for class c on stacked images, in chunks of `chunk` images. */
export function forwardFor(model: tf.LayersModel, shape: readonly [number, number, number], classIndex: number, chunk = 130): Forward {
  const size = shape[0] * shape[1] * shape[2];
  return (images, count) => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += chunk) {
      const n = Math.min(chunk, count - i);
      const part = tf.tidy(() => {
        const x = tf.tensor4d(images.subarray(i * size, (i + n) * size), [n, shape[0], shape[1], shape[2]]);
        const y = model.predict(x) as tf.Tensor2D;
        return y.slice([0, classIndex], [n, 1]).dataSync();
      });
      out.set(part, i);
    }
    return out;
  };
}

/** Checks the metric list, options and every sample before any model runs. */
function checkInputs(model: tf.LayersModel, samples: readonly EvalSample[], metrics: readonly RegisteredMetric[], options: EvaluateOptions): void {
  if (!samples.length) throw new TslabCamError('BAD_SAMPLE', 'evaluate() got no samples.', 'Pass at least one sample: samplesFromScenes(scenes), or {pixels, width, height, channels, box?, mask?}.');
  samples.forEach(checkSample);
  const [, H, W, C] = model.inputs[0].shape;
  samples.forEach((s, i) => {
    if ((H && s.height !== H) || (W && s.width !== W) || (C && s.channels !== C) || s.width !== samples[0].width || s.height !== samples[0].height) {
      throw new TslabCamError('BAD_SAMPLE', `Sample ${s.name ?? i} is ${s.height}×${s.width}×${s.channels}; the model takes ${H}×${W}×${C}.`,
        'Resize the images (and their boxes and masks) to the model\'s input size, e.g. with loadImage(path, {model}).');
    }
  });
  for (const m of metrics) {
    for (const need of m.needs) {
      const missing = samples.findIndex((s) => (need === 'box' ? !targetBox(s) : need === 'mask' ? !s.mask : false));
      if (missing >= 0) {
        const s = samples[missing];
        throw new TslabCamError('BAD_SAMPLE', `The metric '${m.name}' needs a ground-truth ${need === 'box' ? 'box or mask' : 'mask'}, and sample ${s.name ?? missing} has none.`,
          `Give every sample a ${need === 'box' ? 'box {x, y, width, height} or a mask' : 'mask'}, or leave '${m.name}' out of metrics.`);
      }
    }
  }
  if (options.steps !== undefined) checkSteps(options.steps, samples[0].width * samples[0].height);
  if (options.batchSize !== undefined && !(Number.isInteger(options.batchSize) && options.batchSize > 0)) {
    throw new TslabCamError('BAD_OPTION', `batchSize must be a whole number ≥ 1, got ${options.batchSize}.`, 'Pass e.g. {batchSize: 16}.');
  }
}

/** Every registered method whose result on one image is a map over the input. */
export function measurableMethods(model: tf.LayersModel, sample: EvalSample): string[] {
  const x = samplesToBatch([sample]);
  try {
    return methodNames().filter((m) => {
      try { methodOf(m).explainBatch(model, x).forEach(saliencyOf); return true; } catch { return false; }
    });
  } finally {
    x.dispose();
  }
}

/**
 * Evaluates methods × metrics over the samples: for each batch of samples, each method's maps
 * (one batched explain call), then each metric on each image. Returns means with 95% confidence
 * intervals per cell, the per-sample values, mean curves for curve metrics, and the time per image
 * of each method's maps. Bad input is a typed error before any model runs; tensors are released on
 * every path, including an error or a cancel halfway.
 */
export async function evaluate(model: tf.LayersModel, samples: readonly EvalSample[], options: EvaluateOptions = {}): Promise<EvalTable> {
  const metrics = (options.metrics ?? metricNames()).map((m) => metricOf(m));
  checkInputs(model, samples, metrics, options);
  const methods = options.methods ?? measurableMethods(model, samples[0]);
  methods.forEach((m) => methodOf(m));
  const batch = options.batchSize ?? 16;
  const shape = [samples[0].height, samples[0].width, samples[0].channels] as const;
  const values = methods.map(() => metrics.map((): number[] => []));
  const curves = methods.map(() => metrics.map((): number[][] => []));
  const ms = methods.map(() => 0);
  let copy: tf.LayersModel | null = null;
  let done = 0, partial = false;
  try {
    if (metrics.some((m) => m.needs.includes('randomised'))) {
      copy = await copyModel(model);
      cascadeLayers(copy).forEach((l, k) => randomiseLayer(l, (options.seed ?? 2018) + k));
    }
    // One chunk per batch of samples: between chunks the run yields, so the kernel's stop button
    // and options.signal both stop it (src/run); the notebook layer draws its own progress bar.
    const work = (start: number, end: number): void => {
      const part = samples.slice(start, end);
      const x = samplesToBatch(part);
      try {
        const top1 = options.classIndex === undefined && part.some((s) => s.classIndex === undefined)
          ? tf.tidy(() => (model.predict(x) as tf.Tensor).argMax(-1).dataSync()) : null;
        const classes = part.map((s, i) => options.classIndex ?? s.classIndex ?? (top1 as ArrayLike<number>)[i]);
        const forwards = classes.map((c) => forwardFor(model, shape, c, options.forwardBatch));
        methods.forEach((method, a) => {
          const t0 = performance.now();
          const maps = methodOf(method).explainBatch(model, x, { classIndex: classes, layer: options.layer }).map(saliencyOf);
          ms[a] += performance.now() - t0;
          const randomised = copy ? methodOf(method).explainBatch(copy, x, { classIndex: classes, layer: options.layer }).map(saliencyOf) : null;
          part.forEach((sample, i) => {
            const input = { map: maps[i], sample, classIndex: classes[i], forward: forwards[i], ...(randomised ? { randomisedMap: randomised[i] } : {}) };
            metrics.forEach((metric, b) => {
              const v = metric.score(input, options);
              values[a][b].push(v.value);
              if (v.curve) curves[a][b].push([...v.curve]);
            });
          });
        });
      } finally {
        x.dispose();
      }
      done += part.length;
      options.onProgress?.({ done, total: samples.length });
    };
    try {
      await runChunksAsync({ total: samples.length, chunk: batch, label: 'evaluate', unit: 'samples', signal: options.signal, progress: false }, work);
    } catch (e) {
      if (!(e instanceof CancelledError && options.partialOnCancel)) throw e;
      partial = true;
    }
  } finally {
    copy?.dispose();
  }
  const cells: EvalCell[][] = methods.map((method, a) => metrics.map((metric, b): EvalCell => {
    const c = curves[a][b];
    const curve = c.length ? c[0].map((_, k) => c.reduce((s, y) => s + y[k], 0) / c.length) : undefined;
    return { method, metric: metric.name, ...estimate(values[a][b]), ...(curve ? { curve } : {}) };
  }));
  return {
    methods: [...methods], metrics: metrics.map((m) => m.name), cells, values, samples: done, samplesAsked: samples.length, partial,
    msPerImage: Object.fromEntries(methods.map((m, a) => [m, done ? ms[a] / done : NaN])),
  };
}
