import * as tf from '@tensorflow/tfjs';
import { BuiltinKind, TARGET_LAYER, buildModel } from './architectures';
import { scenesToTargets, scenesToTensor } from './batch';
import { loadMnist } from './mnist';
import { runChunksAsync, type LongRunOptions, type ProgressSink } from '../run';
import { generateScenes } from './scenes';
import { withTrainingKernels } from './trainKernels';

export interface TrainOptions {
  readonly kind: BuiltinKind;
  /** Seeds the initial weights and the stream of training scenes. */
  readonly seed?: number;
  /** Optimiser steps (one batch each; every batch is fresh scenes, so there are no epochs). */
  readonly steps?: number;
  readonly batchSize?: number;
  /** Adam's starting rate; it is held for 60% of the steps, then cosine-decayed to 5%. */
  readonly learningRate?: number;
  /** Stops training at the next step; the call then throws CANCELLED and frees everything it made. */
  readonly signal?: AbortSignal;
  /** Progress events (one per step, the loss in `detail`); default: the registered progress bar. */
  readonly onProgress?: ProgressSink;
  /** `false`: no progress display. */
  readonly progress?: boolean;
  /**
   * Cycle through only this many scenes instead of fresh ones every step: the smoke test uses a
   * small pool so a few steps visibly lower the loss.
   */
  readonly poolSize?: number;
  /**
   * Start from these weights instead of fresh seeded ones (continuing a finished run for more
   * steps); the easy-scene warm-up is then skipped.
   */
  readonly initialWeights?: tf.LayersModel;
  /**
   * Copy the conv blocks (every layer up to TARGET_LAYER, matched by name) from this model
   * before training: digits-fc starts from digits-gap's feature extractor.
   */
  readonly featuresFrom?: tf.LayersModel;
  /**
   * Train only the layers after TARGET_LAYER, on the frozen conv blocks' features (computed in
   * inference mode). Much cheaper per step than training everything: no conv backward pass.
   */
  readonly headOnly?: boolean;
  /**
   * Weight λ of a penalty on digits-fc's `fc` kernel: λ × the share of the kernel's energy that
   * varies with position (see positionVaryingShare). 0 (default): no penalty.
   */
  readonly invariance?: number;
}

export interface TrainResult {
  readonly model: tf.LayersModel;
  /** Loss of every step (see lossFor; a joint stage records the sum of both heads' losses). */
  readonly losses: readonly number[];
  readonly seconds: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly learningRate: number;
  readonly backend: string;
}

export const DEFAULT_TRAIN = { seed: 1, steps: 1200, batchSize: 32, learningRate: 2e-3 } as const;

/** Adam whose rate can change between steps (tfjs keeps the rate in a protected field). */
class ScheduledAdam extends tf.AdamOptimizer {
  setLearningRate(rate: number): void {
    this.learningRate = rate;
  }
}

/** Rate at `step`: flat, then a cosine down to 5% of the start, which settles the last steps. */
export function learningRateAt(step: number, steps: number, base: number): number {
  const flat = Math.floor(steps * 0.6);
  if (step < flat) return base;
  const t = (step - flat) / Math.max(1, steps - flat);
  return base * (0.05 + 0.95 * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/**
 * Cross-entropy of the softmax output against the multi-hot target normalised to sum 1 (1 for a
 * single digit, 1/2 each for two). Probabilities are clipped away from 0 to keep the log finite.
 */
export function multiLabelLoss(targets: tf.Tensor2D, probs: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const t = tf.div(targets, tf.maximum(tf.sum(targets, 1, true), 1));
    const p = tf.clipByValue(probs, 1e-7, 1);
    return tf.neg(tf.mean(tf.sum(tf.mul(t, tf.log(p)), 1))) as tf.Scalar;
  });
}

/**
 * Binary cross-entropy of sigmoid outputs against the multi-hot target, summed over the classes
 * and averaged over the batch: each class is a yes/no question of its own.
 */
export function binaryLoss(targets: tf.Tensor2D, probs: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.clipByValue(probs, 1e-7, 1 - 1e-7);
    const terms = tf.add(tf.mul(targets, tf.log(p)), tf.mul(tf.sub(1, targets), tf.log(tf.sub(1, p))));
    return tf.neg(tf.mean(tf.sum(terms, 1))) as tf.Scalar;
  });
}

/** The loss that fits a model's output activation: softmax → multiLabelLoss, sigmoid → binaryLoss. */
export function lossFor(model: tf.LayersModel): (targets: tf.Tensor2D, probs: tf.Tensor2D) => tf.Scalar {
  const config = model.layers[model.layers.length - 1].getConfig() as { activation?: string };
  return config.activation === 'sigmoid' ? binaryLoss : multiLabelLoss;
}

/** Steps at the start that see only easy scenes (one digit, light clutter) to get learning going. */
export function warmupSteps(steps: number): number {
  return Math.floor(steps * 0.15);
}

/** What the step loop needs: the scene stream, the schedule, progress and cancellation. */
interface LoopOptions extends Omit<LongRunOptions, 'batchSize'> {
  readonly label: string;
  readonly seed: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly warmup: number;
  readonly poolSize?: number;
}

/**
 * The training loop every stage shares: each step draws fresh training scenes (or cycles a small
 * pool), takes one scheduled Adam step on `lossOf(x, y)` over `variables` (all trainable ones
 * when absent), and records the loss. One step is one chunk of runChunksAsync: the loop yields
 * between steps, so an AbortSignal or the kernel interrupt stops it within one step (it then
 * throws CANCELLED with the steps done), and each step's tensors are freed by the runner.
 */
async function optimise(o: LoopOptions, lossOf: (x: tf.Tensor4D, y: tf.Tensor2D, step: number) => tf.Scalar,
  variables?: () => tf.Variable[]): Promise<{ losses: number[]; seconds: number }> {
  const set = loadMnist();
  const optimizer = new ScheduledAdam(o.learningRate, 0.9, 0.999, 1e-7);
  const losses: number[] = [];
  const start = Date.now();
  await withTrainingKernels(async () => {
    try {
      await runChunksAsync({ total: o.steps, chunk: 1, label: o.label, unit: 'steps', signal: o.signal, onProgress: o.onProgress, progress: o.progress },
        (step, _end, ctx) => {
          optimizer.setLearningRate(learningRateAt(step, o.steps, o.learningRate));
          const first = step * o.batchSize;
          const scenes = o.poolSize
            ? Array.from({ length: o.batchSize }, (_, j) => generateScenes({ split: 'train', seed: o.seed }, (first + j) % (o.poolSize ?? 1), 1, set)[0])
            : generateScenes({ split: 'train', seed: o.seed, ...(step < o.warmup ? { count: 1 as const, clutter: 'light' as const } : {}) }, first, o.batchSize, set);
          const x = scenesToTensor(scenes);
          const y = scenesToTargets(scenes);
          const loss = optimizer.minimize(() => lossOf(x, y, step), true, variables?.());
          losses.push(loss ? loss.dataSync()[0] : NaN);
          const recent = losses.slice(-20);
          ctx.note(`loss ${(recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(4)}`);
        });
    } finally {
      optimizer.dispose();
    }
  });
  return { losses, seconds: (Date.now() - start) / 1000 };
}

function loopOptions(options: Omit<TrainOptions, 'kind'>, fresh: boolean, label: string): LoopOptions {
  const steps = options.steps ?? DEFAULT_TRAIN.steps;
  return {
    label, seed: options.seed ?? DEFAULT_TRAIN.seed, steps, batchSize: options.batchSize ?? DEFAULT_TRAIN.batchSize,
    learningRate: options.learningRate ?? DEFAULT_TRAIN.learningRate, warmup: fresh ? warmupSteps(steps) : 0,
    poolSize: options.poolSize, signal: options.signal, onProgress: options.onProgress, progress: options.progress,
  };
}

/**
 * Train one built-in architecture on fresh training-split scenes. With the same seed, options
 * and backend the result is the same: the weights' initialisers, the scenes and the dropout
 * masks are seeded. Different backends (wasm, cpu) round differently, so their weights differ.
 */
export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const o = loopOptions(options, !options.initialWeights && !options.featuresFrom, `train ${options.kind}`);
  const model = buildModel(options.kind, o.seed);
  let parts: ReturnType<typeof splitAtTarget> | null = null;
  let dropout: ReturnType<typeof dropoutSeeder> | null = null;
  try {
    if (options.initialWeights) model.setWeights(options.initialWeights.getWeights());
    if (options.featuresFrom) copyFeatures(options.featuresFrom, model);
    parts = options.headOnly ? splitAtTarget(model) : null;
    const head = parts;
    const seeder = dropout = dropoutSeeder(model, o.seed);
    const lambda = options.invariance ?? 0;
    const lossOf = lossFor(model);
    // Head-only: the frozen blocks run in inference mode, outside the gradient tape.
    const probs = (x: tf.Tensor4D): tf.Tensor2D => (head
      ? head.head.apply(tf.tidy(() => head.features.predict(x) as tf.Tensor), { training: true })
      : model.apply(x, { training: true })) as tf.Tensor2D;
    const run = await optimise(o, (x, y, step) => {
      seeder.step(step);
      const loss = lossOf(y, probs(x));
      return lambda ? tf.add(loss, tf.mul(lambda, positionVaryingShare(model))) as tf.Scalar : loss;
    }, head ? () => weightsOf(head.head) : undefined);
    return { model, ...summaryOf(o, run) };
  } catch (e) {
    // Cancelled or failed: the half-trained model is the caller's only if training finished.
    model.dispose();
    throw e;
  } finally {
    dropout?.restore();
    releaseHead(parts);
  }
}

/** The record of a finished stage, besides its model(s). */
function summaryOf(o: LoopOptions, run: { losses: number[]; seconds: number }): Omit<TrainResult, 'model'> {
  return { ...run, steps: o.steps, batchSize: o.batchSize, seed: o.seed, learningRate: o.learningRate, backend: tf.getBackend() };
}

export interface JointResult extends Omit<TrainResult, 'model'> {
  readonly gap: tf.LayersModel;
  readonly fc: tf.LayersModel;
}

/**
 * Fine-tune digits-gap and digits-fc together: one set of conv blocks feeds both heads, and the
 * loss is the sum of both heads' losses. digits-fc alone, fine-tuned end to end, drifted to
 * conv channels that no longer single out a class and its Grad-CAM maps got worse (pointing
 * 93% → 87% in 1,500 steps); the GAP head keeps every channel class-specific while both heads
 * improve. Both returned models carry the shared conv blocks.
 */
export async function trainJointly(options: Omit<TrainOptions, 'kind' | 'initialWeights' | 'featuresFrom' | 'headOnly'> & {
  readonly gap: tf.LayersModel; readonly fc: tf.LayersModel;
  /**
   * How much of the digits-fc head's gradient reaches the shared conv blocks (1: all of it, 0:
   * none, the head then only adapts to blocks the GAP head trains). The head itself always
   * gets its full gradient.
   */
  readonly fcGradientScale?: number;
}): Promise<JointResult> {
  const o = loopOptions(options, false, 'train digits-gap + digits-fc');
  const gap = buildModel('digits-gap', o.seed);
  const fc = buildModel('digits-fc', o.seed);
  let gapParts: ReturnType<typeof splitAtTarget> | null = null;
  let fcParts: ReturnType<typeof splitAtTarget> | null = null;
  let dropout: ReturnType<typeof dropoutSeeder> | null = null;
  try {
    gap.setWeights(options.gap.getWeights());
    fc.setWeights(options.fc.getWeights());
    const g = gapParts = splitAtTarget(gap);
    const fcHead = (fcParts = splitAtTarget(fc)).head;
    const seeder = dropout = dropoutSeeder(fc, o.seed);
    const scale = options.fcGradientScale ?? 1;
    const gapLoss = lossFor(gap), fcLoss = lossFor(fc);
    const run = await optimise(o, (x, y, step) => {
      seeder.step(step);
      const features = g.features.apply(x, { training: true }) as tf.Tensor;
      const forFc = scale === 1 ? features : scaleGradient(features, scale);
      return tf.add(gapLoss(y, g.head.apply(features, { training: true }) as tf.Tensor2D),
        fcLoss(y, fcHead.apply(forFc, { training: true }) as tf.Tensor2D)) as tf.Scalar;
    }, () => [g.features, g.head, fcHead].flatMap(weightsOf));
    dropout.restore();
    dropout = null;
    releaseHead(gapParts);
    releaseHead(fcParts);
    gapParts = fcParts = null;
    copyFeatures(gap, fc);
    return { gap, fc, ...summaryOf(o, run) };
  } catch (e) {
    dropout?.restore();
    releaseHead(gapParts);
    releaseHead(fcParts);
    gap.dispose();
    fc.dispose();
    throw e;
  }
}

/**
 * Applying the head's layers a second time (splitAtTarget) counts as a second user of each, so
 * disposing the model alone would leave their weights behind; disposing the split head model
 * gives that count back. The split feature model re-applies nothing and must not be disposed:
 * that would free the model's own conv weights.
 */
function releaseHead(parts: { head: tf.LayersModel } | null): void {
  parts?.head.dispose();
}

/** Layer names from the input up to and including TARGET_LAYER: the conv blocks. */
function featureLayerNames(model: tf.LayersModel): string[] {
  const end = model.layers.findIndex((l) => l.name === TARGET_LAYER);
  if (end < 0) throw new Error(`model ${model.name} has no layer ${TARGET_LAYER}`);
  return model.layers.slice(0, end + 1).map((l) => l.name);
}

/** Copy the conv blocks' weights (kernels, BatchNorm scales and moving statistics) from `source` into `target`. */
export function copyFeatures(source: tf.LayersModel, target: tf.LayersModel): void {
  for (const name of featureLayerNames(target)) {
    const weights = source.getLayer(name).getWeights();
    if (weights.length) target.getLayer(name).setWeights(weights);
  }
}

/**
 * The model cut at TARGET_LAYER into the conv blocks and the head, sharing the model's layers
 * (and so its weights). Only for chains, which both built-in architectures are.
 */
function splitAtTarget(model: tf.LayersModel): { features: tf.LayersModel; head: tf.LayersModel } {
  const names = featureLayerNames(model);
  const target = model.getLayer(TARGET_LAYER);
  const features = tf.model({ inputs: model.inputs, outputs: target.output as tf.SymbolicTensor });
  const input = tf.input({ shape: (target.outputShape as number[]).slice(1) });
  let h: tf.SymbolicTensor = input;
  for (const layer of model.layers.slice(names.length)) h = layer.apply(h) as tf.SymbolicTensor;
  return { features, head: tf.model({ inputs: input, outputs: h }) };
}

/**
 * Share of the `fc` kernel's energy that varies with position: the kernel W (inputs = the
 * flattened H×W×C map, in row-major order) is split into its mean over the H·W positions,
 * W̄[c, h], and the rest; the result is Σ(W − W̄)² / ΣW², 0 when every position has the same
 * weights (a GAP in disguise) and about 1 − 1/(H·W) for random weights.
 */
export function positionVaryingShare(model: tf.LayersModel): tf.Scalar {
  return tf.tidy(() => {
    const flat = (model.getLayer('flatten').getInputAt(0) as tf.SymbolicTensor).shape as number[];
    const [positions, channels] = [flat[1] * flat[2], flat[3]];
    const kernel = model.getLayer('fc').trainableWeights[0].read();
    const w = tf.reshape(kernel, [positions, channels, -1]);
    const dev = tf.sub(w, tf.mean(w, 0, true));
    return tf.div(tf.sum(tf.square(dev)), tf.sum(tf.square(w))) as tf.Scalar;
  });
}

/** Identity forward; the gradient passing back through it is multiplied by `scale`. */
export function scaleGradient(x: tf.Tensor, scale: number): tf.Tensor {
  const f = tf.customGrad(((input: tf.Tensor) => ({ value: tf.clone(input), gradFunc: (dy: tf.Tensor) => tf.mul(dy, scale) })) as Parameters<typeof tf.customGrad>[0]);
  return f(x);
}

function weightsOf(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * A new dropout mask every step, still deterministic for a seed. tfjs's Dropout starts a fresh
 * generator from its `seed` on every call, so a seeded layer drops the same units at every
 * step (checked: two calls give the same mask) and half the head would never train; an
 * unseeded one draws from Math.random and no two runs agree. So each step gets its own seed,
 * and the layer's own seed comes back afterwards (it is what model.json records).
 */
function dropoutSeeder(model: tf.LayersModel, seed: number): { step(step: number): void; restore(): void } {
  const layers = model.layers.filter((l) => l.getClassName() === 'Dropout');
  const original = layers.map((l) => (l.getConfig() as { seed?: number }).seed);
  return {
    step(step: number): void {
      layers.forEach((l, i) => Object.assign(l, { seed: (seed * 1_000_003 + step * 7919 + i) % 2_147_483_647 }));
    },
    restore(): void {
      layers.forEach((l, i) => Object.assign(l, { seed: original[i] }));
    },
  };
}
