/**
 * Held-out quality of the built-in models: accuracy on test-split scenes, and the pointing game
 * for Grad-CAM (both models) and CAM (digits-gap).
 *
 *   npm run evaluate                        # 2,000 + 2,000 scenes accuracy, 1,000 + 1,000 pointing
 *   npm run evaluate -- --write             # also store the figures in models/NAME/tslab-cam.json
 *   npm run evaluate -- --singles 500 --doubles 500 --pointing 200
 *
 *   npm run evaluate -- --metrics 500 --readme   # every method × the README metrics on 500 scenes
 *
 * Runs on every core (wasm threads) unless TSLAB_CAM_THREADS says otherwise.
 * Options: --model digits-gap|digits-fc|all, --singles N, --doubles N (accuracy scenes),
 * --pointing N (single- and two-digit scenes each for the pointing game; 0 skips it),
 * --metrics N (held-out scenes for evaluate(): every registered method × pointing, energy
 * pointing, localisation error, Average Drop, Increase in Confidence, deletion / insertion AUC,
 * sanity ρ; default 500, 0 skips it), --steps N (deletion / insertion steps, default 64),
 * --readme (write the table into README.md between <!-- eval-table --> markers),
 * --save FILE (the metric tables as JSON; default out/eval-tables.json, rewritten after each model),
 * --render FILE (no model runs: rebuild the README section from a saved FILE; with --readme),
 * --methods a,b (only these registered methods; default every method that gives a map),
 * --update FILE (with --methods: re-measure those rows and put them into the tables saved in FILE,
 *   keeping the other rows; the table then says which rows were re-measured, when, and their time),
 * --dir DIR (models folder; default the package's), --write, --json.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { BUILTIN_KINDS, BuiltinKind } from '../src/data/architectures';
import { AccuracyReport, EVAL_SEED, evaluateAccuracy, evaluationScenes } from '../src/data/evaluate';
import { POINTING_TOLERANCE, rate } from '../src/eval/pointing';
import { backendSummary, initScriptBackend } from '../src/model/backend';
import { META_FILE, ModelMeta, packageRoot } from '../src/model/builtin';
import { loadLayersModel } from '../src/model/load';
import { createProgress, progressBarSink } from '../src/notebook/progress';
import { CancelledError } from '../src/errors';
import { Method, PointingReport, combined, pointingGame } from '../src/eval/pointing';
import { evaluate, samplesFromScenes, metricOf, SANITY_THRESHOLD, type EvalTable } from '../src/eval';
import { methodLabel } from '../src/explain/registry';
import { writeSection } from '../bench/sections';

interface Args {
  models: BuiltinKind[];
  singles: number;
  doubles: number;
  pointing: number;
  dir: string;
  write: boolean;
  json: boolean;
  metrics: number;
  steps: number;
  readme: boolean;
  save: string;
  render: string | null;
  methods: string[] | null;
  update: string | null;
}

/** The README table's metrics, in its column order. */
export const README_METRICS = ['pointing', 'energyPointing', 'localisationError', 'averageDrop', 'increaseInConfidence', 'deletion', 'insertion', 'sanity'] as const;

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { models: [...BUILTIN_KINDS], singles: 2000, doubles: 2000, pointing: 1000, dir: path.join(packageRoot(), 'models'), write: false, json: false, metrics: 500, steps: 64, readme: false, save: path.join(packageRoot(), 'out', 'eval-tables.json'), render: null, methods: null, update: null };
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
    else if (k === '--metrics') a.metrics = num();
    else if (k === '--steps') a.steps = num();
    else if (k === '--readme') a.readme = true;
    else if (k === '--save') a.save = path.resolve(argv[++i]);
    else if (k === '--render') a.render = path.resolve(argv[++i]);
    else if (k === '--methods') a.methods = (argv[++i] ?? '').split(',').map((m) => m.trim()).filter(Boolean);
    else if (k === '--update') a.update = path.resolve(argv[++i]);
    else throw new Error(`unknown option ${k}`);
  }
  if (a.update && !a.methods) throw new Error('--update needs --methods (the rows to re-measure)');
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

/** Rows measured in a later run and merged in (--methods … --update). */
export interface Remeasured {
  readonly methods: readonly string[];
  readonly seconds: number;
  readonly date: string;
}

/** One model's table, its whole run's time, and the rows re-measured since. */
export interface TableEntry {
  readonly kind: string;
  readonly table: EvalTable;
  readonly seconds: number;
  readonly remeasured?: readonly Remeasured[];
}

/** What the tables were measured with, saved beside them so the README can be rebuilt without re-running. */
interface SavedTables {
  readonly steps: number;
  readonly backend: string;
  readonly tables: TableEntry[];
}

/**
 * `base` with the rows of `part` put in (replacing a method's row, or added after the others).
 * Both must cover the same samples and metrics, or the rows would not be comparable.
 */
export function mergeRows(base: EvalTable, part: EvalTable): EvalTable {
  if (base.samples !== part.samples || base.metrics.join() !== part.metrics.join()) {
    throw new Error(`the re-measured rows cover ${part.samples} samples × [${part.metrics}], the saved table ${base.samples} × [${base.metrics}]`);
  }
  const methods = [...base.methods];
  const cells = [...base.cells];
  const values = [...base.values];
  part.methods.forEach((m, i) => {
    const at = methods.indexOf(m);
    const row = at >= 0 ? at : methods.length;
    methods[row] = m;
    cells[row] = part.cells[i];
    values[row] = part.values[i];
  });
  return { ...base, methods, cells, values, msPerImage: { ...base.msPerImage, ...part.msPerImage } };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) {
    const saved = JSON.parse(fs.readFileSync(args.render, 'utf8')) as SavedTables;
    const md = tablesMarkdown(saved.tables, saved.steps, saved.backend);
    if (args.readme) writeSection(path.join(packageRoot(), 'README.md'), 'eval-table', md);
    process.stderr.write(md + '\n');
    return;
  }
  const backend = await initScriptBackend();
  const backendText = backendSummary(backend);
  process.stderr.write(`backend: ${backendText}\n`);
  const scenes = evaluationScenes({ singles: args.singles, doubles: args.doubles });
  const pointSingles = evaluationScenes({ singles: args.pointing, doubles: 0 });
  const pointDoubles = evaluationScenes({ singles: 0, doubles: args.pointing });
  const lines: string[] = [];
  const results: Record<string, unknown> = {};
  const updating = args.update ? JSON.parse(fs.readFileSync(args.update, 'utf8')) as SavedTables : null;
  if (updating && updating.steps !== args.steps) throw new Error(`${args.update} was measured with ${updating.steps} steps; pass --steps ${updating.steps}`);
  const savePath = args.update ?? args.save;
  const tables: TableEntry[] = updating ? [...updating.tables] : [];
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
    let table: EvalTable | null = null;
    if (args.metrics > 0) {
      const samples = samplesFromScenes(evaluationScenes({ singles: Math.ceil(args.metrics / 2), doubles: Math.floor(args.metrics / 2) }));
      const bar = createProgress({ total: samples.length, label: `metrics ${kind}`, mode: 'terminal' });
      const t0 = Date.now();
      table = await evaluate(model, samples, { metrics: [...README_METRICS], steps: args.steps, ...(args.methods ? { methods: args.methods } : {}), onProgress: (p) => bar.update(p.done) });
      bar.done();
      const seconds = (Date.now() - t0) / 1000;
      const at = tables.findIndex((t) => t.kind === kind);
      if (updating && at >= 0) {
        const old = tables[at];
        tables[at] = { ...old, table: mergeRows(old.table, table), remeasured: [...(old.remeasured ?? []), { methods: table.methods, seconds, date: new Date().toISOString().slice(0, 10) }] };
      } else {
        tables.push({ kind, table, seconds });
      }
      fs.mkdirSync(path.dirname(savePath), { recursive: true });
      fs.writeFileSync(savePath, JSON.stringify({ steps: args.steps, backend: updating?.backend ?? backendText, tables } satisfies SavedTables));
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
  if (tables.length) {
    const md = tablesMarkdown(tables, args.steps, updating?.backend ?? backendText);
    lines.push('', md);
    if (args.readme) writeSection(path.join(packageRoot(), 'README.md'), 'eval-table', md);
    if (args.json) for (const t of tables) results[`${t.kind}:metrics`] = t.table;
  }
  process.stderr.write(lines.join('\n') + '\n');
  if (args.json) process.stdout.write(JSON.stringify(results) + '\n');
  if (tf.memory().numTensors > 0) process.stderr.write(`note: ${tf.memory().numTensors} tensors still allocated\n`);
}

const cell = (t: EvalTable, method: string, metric: string): { mean: number; low: number; high: number } => t.cells[t.methods.indexOf(method)][t.metrics.indexOf(metric)];
const fmt = (v: number, digits = 3): string => (Number.isFinite(v) ? Number(v.toPrecision(digits)).toString() : '–');

/** Whether `method` beats the floor on `metric`: its 95% CI lies entirely on the better side of the floor's. */
function beats(t: EvalTable, method: string, floor: string, metric: string): boolean {
  const a = cell(t, method, metric), f = cell(t, floor, metric);
  return metricOf(metric).direction === 'higher' ? a.low > f.high : a.high < f.low;
}

/**
 * Methods whose per-scene values agree on every metric to float rounding (1e-4 relative: float32
 * maps that differ in the last bits move Average Drop % by ~5e-5), in groups of two or more: on a
 * GAP head several gradient methods reduce to the same map, and the table should say so rather
 * than let identical rows look like independent evidence.
 */
export function identicalRows(t: EvalTable): string[][] {
  const same = (a: number, b: number): boolean => a === b || (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(a), Math.abs(b));
  const equal = (i: number, j: number): boolean => !!t.values[i]?.length && !!t.values[j] && t.values[i].every((col, m) => col.length === t.values[j][m].length && col.every((v, s) => same(v, t.values[j][m][s])));
  const groups: string[][] = [];
  const placed = new Set<number>();
  t.methods.forEach((_, i) => {
    if (placed.has(i)) return;
    const group = t.methods.map((_, j) => j).filter((j) => j > i && !placed.has(j) && equal(i, j));
    if (!group.length) return;
    [i, ...group].forEach((j) => placed.add(j));
    groups.push([i, ...group].map((j) => t.methods[j]));
  });
  return groups;
}

/** The README section: one methods × metrics table per model, and which methods beat Random-CAM. */
export function tablesMarkdown(tables: readonly TableEntry[], steps: number, backend: string): string {
  const out: string[] = [];
  for (const { kind, table, seconds, remeasured } of tables) {
    const head = README_METRICS.map((m) => `${metricOf(m).label} ${metricOf(m).direction === 'higher' ? '↑' : '↓'}`);
    out.push(`**${kind}** — ${table.samples} held-out scenes (test split, seed ${EVAL_SEED}; half one digit, half two digits, the first digit's class), ` +
      `${steps} deletion/insertion steps, ${backend}, ${fmt(seconds)} s for the whole table. Mean ± 95% CI half-width.` +
      (remeasured ?? []).map((r) => ` Re-measured ${r.date} on the same scenes (\`--methods ${r.methods.join(',')} --update\`): ${r.methods.map(methodLabel).join(', ')}, ${fmt(r.seconds)} s.`).join(''), '');
    out.push(`| method | ${head.join(' | ')} | ms / image |`, `|---|${README_METRICS.map(() => '---:').join('|')}|---:|`);
    for (const m of table.methods) {
      const cells = README_METRICS.map((metric) => {
        const c = cell(table, m, metric);
        return `${fmt(c.mean)} ± ${fmt(c.high - c.mean, 2)}`;
      });
      out.push(`| ${methodLabel(m)} | ${cells.join(' | ')} | ${fmt(table.msPerImage[m])} |`);
    }
    const floor = table.methods.includes('randomCam') ? 'randomCam' : null;
    out.push('');
    for (const group of identicalRows(table)) {
      out.push(`- ${group.map(methodLabel).join(', ')}: the same value on every scene and metric, to float rounding (their maps agree on this model).`);
    }
    if (floor) {
      // The sanity ρ is judged against its threshold, not the floor: a random map's ρ is ~0, and a
      // more negative ρ is not a better explanation.
      const compared = README_METRICS.filter((metric) => metric !== 'sanity');
      for (const m of table.methods.filter((x) => x !== floor)) {
        const won = compared.filter((metric) => beats(table, m, floor, metric)).map((metric) => metricOf(metric).label);
        out.push(`- ${methodLabel(m)} beats Random-CAM on ${won.length ? won.join(', ') : 'no metric'} (95% CIs apart).`);
      }
    } else {
      out.push('- Random-CAM (the floor) is not registered in this build, so no floor comparison.');
    }
    if (table.metrics.includes('sanity')) {
      const failed = table.methods.filter((m) => cell(table, m, 'sanity').mean >= SANITY_THRESHOLD).map(methodLabel);
      out.push(`- Sanity check (mean ρ < ${SANITY_THRESHOLD} with every layer randomised): ${failed.length ? `failed by ${failed.join(', ')}; passed by the rest` : 'every method passes'}.`);
    }
    out.push('');
  }
  out.push('Sanity ρ: Spearman correlation of the map with the map on a copy of the model with every layer randomised (Adebayo et al. 2018); a method whose ρ stays ≥ 0.5 fails. Written by `npm run evaluate -- --readme`.');
  return out.join('\n');
}

if (require.main === module) {
  main().catch((e) => {
    if (e instanceof CancelledError) {
      process.stderr.write(`${e.message}\nNothing was written.\n`);
      process.exit(130);
    }
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
}
