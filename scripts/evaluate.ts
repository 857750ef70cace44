/**
 * Held-out quality of the built-in models: accuracy on test-split scenes, and the pointing game
 * for Grad-CAM (both models) and CAM (digits-gap).
 *
 *   npm run evaluate                        # 2,000 + 2,000 scenes accuracy, 1,000 + 1,000 pointing
 *   npm run evaluate -- --write             # also store the figures in models/NAME/tslab-cam.json
 *   npm run evaluate -- --singles 500 --doubles 500 --pointing 200
 *
 * Options: --model digits-gap|digits-fc|all, --singles N, --doubles N (accuracy scenes),
 * --pointing N (single- and two-digit scenes each for the pointing game; 0 skips it),
 * --dir DIR (models folder; default the package's), --write, --json.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BUILTIN_KINDS, BuiltinKind } from '../src/data/architectures';
import { AccuracyReport, EVAL_SEED, evaluateAccuracy, evaluationScenes } from '../src/data/evaluate';
import { POINTING_TOLERANCE, rate } from '../src/eval/pointing';
import { initBackend } from '../src/model/backend';
import { META_FILE, ModelMeta, packageRoot } from '../src/model/builtin';
import { loadLayersModel } from '../src/model/load';
import { createProgress, progressBarSink } from '../src/notebook/progress';
import { CancelledError } from '../src/errors';
import { Method, PointingReport, combined, pointingGame } from '../src/eval/pointing';

interface Args {
  models: BuiltinKind[];
  singles: number;
  doubles: number;
  pointing: number;
  dir: string;
  write: boolean;
  json: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { models: [...BUILTIN_KINDS], singles: 2000, doubles: 2000, pointing: 1000, dir: path.join(packageRoot(), 'models'), write: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${k} needs a whole number`);
      return v;
    };
    if (k === '--model') {
      const m = argv[++i];
      a.models = m === 'all' ? [...BUILTIN_KINDS] : (BUILTIN_KINDS as readonly string[]).includes(m) ? [m as BuiltinKind] : [];
      if (!a.models.length) throw new Error(`--model must be ${BUILTIN_KINDS.join(', ')} or all`);
    } else if (k === '--singles') a.singles = num();
    else if (k === '--doubles') a.doubles = num();
    else if (k === '--pointing') a.pointing = num();
    else if (k === '--dir') a.dir = path.resolve(argv[++i]);
    else if (k === '--write') a.write = true;
    else if (k === '--json') a.json = true;
    else throw new Error(`unknown option ${k}`);
  }
  return a;
}

const pct = (x: number): string => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}%`);

function summary(r: PointingReport): Record<string, unknown> {
  const all = combined(r.single, r.firstOfTwo, r.secondOfTwo);
  return {
    overall: rate(all), overallTolerant: all.trials ? all.hitsTolerant / all.trials : NaN, single: rate(r.single), twoDigitFirst: rate(r.firstOfTwo), twoDigitSecond: rate(r.secondOfTwo),
    trials: all.trials, flatMaps: all.flat, perClass: all.perClass.map(rate),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await initBackend();
  process.stderr.write(`backend: ${backend.name}\n`);
  const scenes = evaluationScenes({ singles: args.singles, doubles: args.doubles });
  const pointSingles = evaluationScenes({ singles: args.pointing, doubles: 0 });
  const pointDoubles = evaluationScenes({ singles: 0, doubles: args.pointing });
  const lines: string[] = [];
  const results: Record<string, unknown> = {};
  for (const kind of args.models) {
    const modelJson = path.join(args.dir, kind, 'model.json');
    const model = await loadLayersModel(modelJson);
    const meta = JSON.parse(fs.readFileSync(path.join(args.dir, kind, META_FILE), 'utf8')) as ModelMeta;
    const acc: AccuracyReport = await evaluateAccuracy(model, scenes, { onProgress: progressBarSink({ mode: 'terminal' }) });
    const pointing: Record<string, Record<string, unknown>> = {};
    if (args.pointing > 0) {
      const methods: Method[] = meta.hasGap ? ['gradCam', 'cam'] : ['gradCam'];
      for (const m of methods) {
        const bar = createProgress({ total: pointSingles.length + 2 * pointDoubles.length, label: `pointing ${kind} ${m}`, mode: 'terminal' });
        pointing[m] = summary(pointingGame(model, m, meta.targetLayer, pointSingles, pointDoubles, (n) => bar.tick(n)));
        bar.done();
      }
    }
    model.dispose();
    const evaluation = {
      measuredBy: 'scripts/evaluate.ts', evalSeed: EVAL_SEED, backend: backend.name,
      singleScenes: acc.singles, singleTop1: acc.singleTop1, twoDigitScenes: acc.doubles, twoDigitBothTop2: acc.doubleBothTop2,
      perClassTop1: acc.perClass.map((c) => c.top1 / Math.max(1, c.scenes)),
      ...(args.pointing > 0 ? { pointing: { scenesEach: args.pointing, box: `tight ink box; overallTolerant grows it by ${POINTING_TOLERANCE} px`, ...pointing } } : {}),
    };
    results[kind] = evaluation;
    lines.push(`${kind}: single-digit top-1 ${pct(acc.singleTop1)} (${acc.singles} scenes); two-digit both in top 2 ${pct(acc.doubleBothTop2)} (${acc.doubles} scenes)`);
    for (const [m, s] of Object.entries(pointing)) {
      lines.push(`  pointing ${m}: overall ${pct(s.overall as number)} (±${POINTING_TOLERANCE} px: ${pct(s.overallTolerant as number)}), single ${pct(s.single as number)}, two-digit first ${pct(s.twoDigitFirst as number)}, ` +
        `second ${pct(s.twoDigitSecond as number)}; per class ${(s.perClass as number[]).map(pct).join(' ')}; flat maps ${s.flatMaps}`);
    }
    if (args.write) {
      const file = path.join(args.dir, kind, META_FILE);
      fs.writeFileSync(file, JSON.stringify({ ...meta, evaluation }, null, 2) + '\n');
    }
  }
  process.stderr.write(lines.join('\n') + '\n');
  if (args.json) process.stdout.write(JSON.stringify(results) + '\n');
  if (tf.memory().numTensors > 0) process.stderr.write(`note: ${tf.memory().numTensors} tensors still allocated\n`);
}

main().catch((e) => {
  if (e instanceof CancelledError) {
    process.stderr.write(`${e.message}\nNothing was written.\n`);
    process.exit(130);
  }
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
