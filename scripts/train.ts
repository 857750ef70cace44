/**
 * Train the built-in models and write them, with their metadata, into models/NAME/; then write
 * the committed sample scenes into samples/.
 *
 *   npm run train                                   # both models, default settings
 *   npm run train -- --model digits-gap --steps 200 # one model, fewer steps
 *   npm run train -- --samples-only                 # only regenerate samples/
 *
 * Options: --model digits-gap|digits-fc|all, --steps N, --batch N, --seed N, --lr X,
 * --pool N (cycle over N scenes: smoke tests), --out DIR (default: the package's models/),
 * --continue (start from the model already in --out and train it further; the stage is
 * appended to its metadata, so the shipped weights' full history stays on record),
 * --samples-only, --no-samples, --json (print one JSON summary line per model on stdout),
 * --features PATH (digits-fc only: the model.json whose conv blocks digits-fc starts from;
 * default: digits-gap in --out), --full (train every layer from the start, not only the head),
 * --joint (continue both models in --out together, sharing their conv blocks; see trainJointly),
 * --fc-grad-scale X (joint only: the share of digits-fc's gradient that reaches the conv blocks),
 * --head-only (train only the layers after the target layer, conv blocks frozen),
 * --invariance λ (digits-fc: penalise the position-varying share of the `fc` kernel; see
 * positionVaryingShare in src/data/train.ts).
 *
 * Ctrl-C stops training at the next step (within one step's time) and writes nothing of that
 * stage; the exit status is 130. A second Ctrl-C exits at once.
 *
 * digits-fc is not trained from scratch: a fresh digits-fc starts from digits-gap's conv
 * blocks and first trains only its Flatten → Dense head on them (frozen); `--continue` then
 * fine-tunes every layer, and `--joint` fine-tunes both models as one two-headed net. Trained
 * from scratch, its conv channels stayed generic stroke detectors and Grad-CAM pointed at the
 * wrong digit on a third of two-digit scenes (README).
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as tf from '@tensorflow/tfjs';
import { BUILTIN_KINDS, BuiltinKind, SCORE_LAYER, TARGET_LAYER } from '../src/data/architectures';
import { loadLayersModel, saveModel } from '../src/model/load';
import { DEFAULT_TRAIN, TrainResult, trainJointly, trainModel } from '../src/data/train';
import { writeSamples } from '../src/data/samples';
import { initBackend } from '../src/model/backend';
import { META_FILE, ModelMeta, packageRoot } from '../src/model/builtin';
import { progressBarSink } from '../src/notebook/progress';
import { CancelledError } from '../src/errors';
import { NUM_CLASSES } from '../src/data/mnist';
import { DEFAULT_SCENE_SIZE } from '../src/data/scenes';

interface Args {
  models: BuiltinKind[];
  steps: number;
  batch: number;
  seed: number;
  lr: number;
  pool?: number;
  out: string;
  samples: boolean;
  train: boolean;
  json: boolean;
  continue: boolean;
  features?: string;
  full: boolean;
  joint: boolean;
  fcGradScale: number;
  headOnly: boolean;
  invariance: number;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    models: [...BUILTIN_KINDS], steps: DEFAULT_TRAIN.steps, batch: DEFAULT_TRAIN.batchSize, seed: DEFAULT_TRAIN.seed,
    lr: DEFAULT_TRAIN.learningRate, out: path.join(packageRoot(), 'models'), samples: true, train: true, json: false, continue: false,
    full: false, joint: false, fcGradScale: 1, headOnly: false, invariance: 0,
  };
  const num = (i: number): number => {
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v)) throw new Error(`${argv[i]} needs a number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--model') {
      const m = argv[++i];
      if (m === 'all') args.models = [...BUILTIN_KINDS];
      else if ((BUILTIN_KINDS as readonly string[]).includes(m)) args.models = [m as BuiltinKind];
      else throw new Error(`--model must be ${BUILTIN_KINDS.join(', ')} or all`);
    } else if (a === '--steps') { args.steps = num(i); i++; }
    else if (a === '--batch') { args.batch = num(i); i++; }
    else if (a === '--seed') { args.seed = num(i); i++; }
    else if (a === '--lr') { args.lr = num(i); i++; }
    else if (a === '--pool') { args.pool = num(i); i++; }
    else if (a === '--out') { args.out = path.resolve(argv[++i]); }
    else if (a === '--samples-only') { args.train = false; }
    else if (a === '--no-samples') { args.samples = false; }
    else if (a === '--json') { args.json = true; }
    else if (a === '--continue') { args.continue = true; }
    else if (a === '--features') { args.features = path.resolve(argv[++i]); }
    else if (a === '--full') { args.full = true; }
    else if (a === '--joint') { args.joint = true; }
    else if (a === '--fc-grad-scale') { args.fcGradScale = num(i); i++; }
    else if (a === '--head-only') { args.headOnly = true; }
    else if (a === '--invariance') { args.invariance = num(i); i++; }
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

const DESCRIPTIONS: Record<BuiltinKind, string> = {
  'digits-gap': 'conv1–conv4 → GlobalAveragePooling2D → Dense(10, softmax): CAM applies.',
  'digits-fc': 'conv1–conv4 (from digits-gap) → MaxPool → Flatten → Dropout(0.5) → Dense(64) → BatchNorm → ReLU → Dense(10, sigmoid): no GAP, so CAM does not apply; Grad-CAM does.',
};

/** The metadata stored next to a trained model (evaluation is filled in by scripts/evaluate.ts). */
function metaFor(kind: BuiltinKind, training: Record<string, unknown>): ModelMeta {
  return {
    name: kind,
    description: DESCRIPTIONS[kind],
    inputSize: [DEFAULT_SCENE_SIZE, DEFAULT_SCENE_SIZE],
    channels: 3,
    inputRange: [0, 1],
    classNames: Array.from({ length: NUM_CLASSES }, (_, c) => String(c)),
    head: kind === 'digits-fc' ? 'sigmoid' : 'softmax',
    scoreLayer: SCORE_LAYER,
    targetLayer: TARGET_LAYER,
    hasGap: kind === 'digits-gap',
    // Figures from an earlier evaluation are dropped: they belong to other weights.
    training,
  };
}

function readPrevious(file: string): ModelMeta | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ModelMeta;
  } catch {
    return null;
  }
}

/** The output activation of the score layer: what S_c is turned into (and trained through). */
function headOf(model: tf.LayersModel): string {
  return String((model.getLayer(SCORE_LAYER).getConfig() as { activation?: string }).activation);
}

/** The training record already in `dir` (for --continue), as a list of stages. */
function earlierStages(dir: string): unknown[] {
  const before = readPrevious(path.join(dir, META_FILE))?.training;
  // A record without stages is one plain run: it becomes the first stage.
  return before ? (before.stages as unknown[] | undefined) ?? [before] : [];
}

/** Save a trained model into `dir` with its stage appended to the record, and report it. */
async function saveStage(args: Args, kind: BuiltinKind, dir: string, model: tf.LayersModel, result: Omit<TrainResult, 'model'>,
  extra: Record<string, unknown>, earlier: unknown[]): Promise<void> {
  // One weights file whatever the size (the built-ins are small), and no metadata file: this
  // script writes tslab-cam.json itself.
  const files = await saveModel(model, dir, { shardBytes: Number.MAX_SAFE_INTEGER, meta: null });
  const saved = { modelJson: files.modelJson, bytes: files.modelJsonBytes + files.weightBytes };
  const stage = {
    ...extra, head: headOf(model), seed: result.seed, steps: result.steps, batchSize: result.batchSize, learningRate: result.learningRate,
    scenes: result.steps * result.batchSize, ...(args.pool ? { poolSize: args.pool } : {}),
    backend: result.backend, seconds: Math.round(result.seconds), tfjs: '4.22.0',
    finalLoss: Number(average(result.losses.slice(-50)).toFixed(4)),
  };
  const stages = [...earlier, stage];
  const training = { stages, totalScenes: stages.reduce((n: number, s) => n + Number((s as { scenes: number }).scenes), 0) };
  fs.writeFileSync(path.join(dir, META_FILE), JSON.stringify(metaFor(kind, training), null, 2) + '\n');
  const firstLoss = average(result.losses.slice(0, Math.min(5, result.losses.length)));
  const lastLoss = average(result.losses.slice(-Math.min(5, result.losses.length)));
  process.stderr.write(`${kind}: ${result.steps} steps in ${result.seconds.toFixed(0)} s, loss ${firstLoss.toFixed(3)} → ${lastLoss.toFixed(3)}, ` +
    `${(saved.bytes / 1024).toFixed(0)} KiB → ${saved.modelJson}\n`);
  if (args.json) {
    process.stdout.write(JSON.stringify({ kind, modelJson: saved.modelJson, bytes: saved.bytes, losses: result.losses, seconds: result.seconds }) + '\n');
  }
}

/** One stage of one model: from scratch, continued, or (digits-fc) its head on digits-gap's conv blocks. */
async function trainOne(args: Args, kind: BuiltinKind): Promise<void> {
  const dir = path.join(args.out, kind);
  const start = args.continue ? await loadLayersModel(path.join(dir, 'model.json')) : undefined;
  const earlier = args.continue ? earlierStages(dir) : [];
  // A fresh digits-fc borrows digits-gap's conv blocks and trains its head on them first.
  const transfer = kind === 'digits-fc' && !args.continue && !args.full;
  const featuresPath = transfer ? args.features ?? path.join(args.out, 'digits-gap', 'model.json') : undefined;
  if (featuresPath && !fs.existsSync(featuresPath)) {
    throw new Error(`digits-fc starts from digits-gap's conv blocks, but ${featuresPath} does not exist. ` +
      'Train digits-gap first (npm run train -- --model digits-gap), pass --features PATH/model.json, or train from scratch with --full.');
  }
  const features = featuresPath ? await loadLayersModel(featuresPath) : undefined;
  let result: TrainResult;
  try {
    result = await trainModel({
      kind, seed: args.seed, steps: args.steps, batchSize: args.batch, learningRate: args.lr, poolSize: args.pool, initialWeights: start,
      featuresFrom: features, headOnly: transfer || args.headOnly, invariance: args.invariance, onProgress: progressBarSink({ mode: 'terminal' }),
    });
  } finally {
    start?.dispose();
    features?.dispose();
  }
  const extra = {
    ...(args.continue ? { continued: true } : {}), ...(transfer || args.headOnly ? { headOnly: true } : {}),
    ...(featuresPath ? { featuresFrom: path.relative(args.out, featuresPath) } : {}), ...(args.invariance ? { invariance: args.invariance } : {}),
  };
  await saveStage(args, kind, dir, result.model, result, extra, earlier);
  result.model.dispose();
}

/** A joint stage: both models in --out fine-tuned together on shared conv blocks. */
async function trainBoth(args: Args): Promise<void> {
  const dirs = { gap: path.join(args.out, 'digits-gap'), fc: path.join(args.out, 'digits-fc') };
  for (const d of Object.values(dirs)) {
    if (!fs.existsSync(path.join(d, 'model.json'))) throw new Error(`--joint continues both models, but ${d}/model.json does not exist: train them first.`);
  }
  const gap = await loadLayersModel(path.join(dirs.gap, 'model.json'));
  const fc = await loadLayersModel(path.join(dirs.fc, 'model.json'));
  const result = await trainJointly({
    gap, fc, fcGradientScale: args.fcGradScale, seed: args.seed, steps: args.steps, batchSize: args.batch, learningRate: args.lr, poolSize: args.pool,
    onProgress: progressBarSink({ mode: 'terminal' }),
  });
  const earlier = { gap: earlierStages(dirs.gap), fc: earlierStages(dirs.fc) };
  gap.dispose();
  fc.dispose();
  // The recorded loss is the sum of both heads' losses.
  const jointStage = { continued: true, joint: true, ...(args.fcGradScale !== 1 ? { fcGradientScale: args.fcGradScale } : {}) };
  await saveStage(args, 'digits-gap', dirs.gap, result.gap, result, jointStage, earlier.gap);
  await saveStage(args, 'digits-fc', dirs.fc, result.fc, result, jointStage, earlier.fc);
  result.gap.dispose();
  result.fc.dispose();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await initBackend();
  process.stderr.write(`backend: ${backend.name} (${backend.reason})\n`);
  if (args.train && args.joint) await trainBoth(args);
  else if (args.train) {
    for (const kind of args.models) await trainOne(args, kind);
  }
  if (args.samples) {
    const written = writeSamples(path.join(packageRoot(), 'samples'));
    process.stderr.write(`samples: ${written.join(', ')}\n`);
  }
}

function average(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

main().catch((e) => {
  if (e instanceof CancelledError) {
    // Ctrl-C: the stage stopped at a step boundary and nothing of it was written; earlier
    // stages and models that finished are saved. 130 is the shell's code for SIGINT.
    process.stderr.write(`${e.message}\nNothing of the cancelled stage was saved.\n`);
    process.exit(130);
  }
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
