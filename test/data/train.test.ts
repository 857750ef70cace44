import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { loadLayersModel } from '../../src/model/load';
import { binaryLoss, learningRateAt, lossFor, multiLabelLoss, positionVaryingShare, scaleGradient, trainJointly, trainModel } from '../../src/data/train';
import { buildModel } from '../../src/data/architectures';
import { CancelledError } from '../../src/errors';
import type { RunProgress } from '../../src/run';

const root = path.join(__dirname, '..', '..');

/** Runs scripts/train.ts with these arguments and returns its stdout (throws on a non-zero exit). */
function trainScript(args: readonly string[]): string {
  return execFileSync(process.execPath, ['-r', 'ts-node/register', 'scripts/train.ts', ...args], {
    cwd: root, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, encoding: 'utf8', timeout: 85_000, stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The losses of each --json summary line the script printed, in order. */
function lossesOf(stdout: string): number[][] {
  return stdout.trim().split('\n').map((line) => (JSON.parse(line) as { losses: number[] }).losses);
}

/** 16 steps cycling over 16 scenes: enough for the loss to fall visibly, a few seconds of work. */
const SMOKE = ['--steps', '16', '--batch', '8', '--pool', '16', '--lr', '0.003', '--no-samples', '--json'];

test('smoke: scripts/train.ts runs a few steps on a few scenes, the loss falls, the saved model loads', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-train-'));
  const losses = lossesOf(trainScript(['--model', 'digits-gap', '--out', out, ...SMOKE])).pop() ?? [];
  assert.equal(losses.length, 16);
  const first = (losses[0] + losses[1]) / 2, last = (losses[14] + losses[15]) / 2;
  assert.ok(last < first * 0.8, `loss fell: ${first.toFixed(3)} → ${last.toFixed(3)}`);
  const dir = path.join(out, 'digits-gap');
  assert.ok(fs.existsSync(path.join(dir, 'tslab-cam.json')));
  await initBackend();
  const model = await loadLayersModel(path.join(dir, 'model.json'));
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
  assert.ok(model.getLayer('gap') && model.getLayer('relu4'));

  // digits-fc starts from the digits-gap just written: its conv blocks are copied and stay
  // frozen while the head trains, and the head's loss falls too.
  const fcLosses = lossesOf(trainScript(['--model', 'digits-fc', '--out', out, ...SMOKE])).pop() ?? [];
  const fcFirst = (fcLosses[0] + fcLosses[1]) / 2, fcLast = (fcLosses[14] + fcLosses[15]) / 2;
  assert.ok(fcLast < fcFirst * 0.8, `head loss fell: ${fcFirst.toFixed(3)} → ${fcLast.toFixed(3)}`);
  const fc = await loadLayersModel(path.join(out, 'digits-fc', 'model.json'));
  for (const name of ['conv1', 'bn2', 'conv4', 'bn4']) {
    const a = model.getLayer(name).getWeights(), b = fc.getLayer(name).getWeights();
    assert.equal(a.length, b.length);
    a.forEach((w, i) => assert.deepEqual(Array.from(w.dataSync()), Array.from(b[i].dataSync()), `${name} weight ${i} is digits-gap's`));
  }
  const meta = JSON.parse(fs.readFileSync(path.join(out, 'digits-fc', 'tslab-cam.json'), 'utf8')) as { training: { stages: { headOnly?: boolean }[] } };
  assert.equal(meta.training.stages[0].headOnly, true);

  // A joint stage fine-tunes both on one set of conv blocks: afterwards the two models' conv
  // weights are identical again, they moved, and the summed loss fell.
  const jointLosses = lossesOf(trainScript(['--joint', '--out', out, ...SMOKE]))[0];
  assert.ok((jointLosses[14] + jointLosses[15]) < (jointLosses[0] + jointLosses[1]) * 0.9, `joint loss fell: ${jointLosses[0]} → ${jointLosses[15]}`);
  const gap2 = await loadLayersModel(path.join(out, 'digits-gap', 'model.json'));
  const fc2 = await loadLayersModel(path.join(out, 'digits-fc', 'model.json'));
  const conv = (m: tf.LayersModel): number[] => Array.from(m.getLayer('conv3').getWeights()[0].dataSync());
  assert.deepEqual(conv(gap2), conv(fc2));
  assert.notDeepEqual(conv(gap2), conv(model));
  const stages = (m: string): { joint?: boolean }[] =>
    (JSON.parse(fs.readFileSync(path.join(out, m, 'tslab-cam.json'), 'utf8')) as { training: { stages: { joint?: boolean }[] } }).training.stages;
  assert.equal(stages('digits-gap').length, 2);
  assert.equal(stages('digits-fc')[1].joint, true);
  for (const m of [gap2, fc2, fc, model]) m.dispose();
});

test('digits-fc without a digits-gap to start from fails with the fix in the message', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-train-'));
  assert.throws(() => trainScript(['--model', 'digits-fc', '--steps', '1', '--batch', '2', '--out', out, '--no-samples']), (e: unknown) => /Train digits-gap first/.test(String((e as { stderr?: string }).stderr)));
});

test('learning-rate schedule and loss: flat then cosine to 5%; loss is cross-entropy against normalised targets', async () => {
  assert.equal(learningRateAt(0, 100, 1), 1);
  assert.equal(learningRateAt(59, 100, 1), 1);
  assert.ok(Math.abs(learningRateAt(99, 100, 1) - 0.05) < 0.01);
  await initBackend();
  const loss = tf.tidy(() => multiLabelLoss(tf.tensor2d([[0, 1, 1, 0, 0, 0, 0, 0, 0, 0]]), tf.tensor2d([[0, 0.5, 0.5, 0, 0, 0, 0, 0, 0, 0]])).dataSync()[0]);
  assert.ok(Math.abs(loss - Math.log(2)) < 1e-5);
});

test('scaleGradient: identity forward, gradient times the scale (0 blocks it)', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const x = tf.tensor1d([1, -2, 3]);
  const c = tf.tensor1d([0.5, 4, -1]);
  for (const scale of [0.3, 0]) {
    const value = tf.tidy(() => Array.from(scaleGradient(x, scale).dataSync()));
    assert.deepEqual(value, [1, -2, 3]);
    const g = tf.tidy(() => Array.from(tf.grad((v: tf.Tensor) => tf.sum(tf.mul(scaleGradient(tf.square(v), scale), c)))(x).dataSync()));
    // d/dx Σ c·x² = 2·c·x, scaled.
    g.forEach((gi, i) => assert.ok(Math.abs(gi - scale * 2 * [0.5, 4, -1][i] * [1, -2, 3][i]) < 1e-6, `scale ${scale}: ${g}`));
  }
  tf.dispose([x, c]);
  assert.equal(tf.memory().numTensors, before);
});

test('binary loss by hand; each built-in head gets its loss; the position-varying share is 0 for shared weights', async () => {
  await initBackend();
  // Two classes present (p = 0.8, 0.6), one absent (p = 0.1): −(ln 0.8 + ln 0.6 + ln 0.9).
  const t = tf.tensor2d([[1, 1, 0]]), p = tf.tensor2d([[0.8, 0.6, 0.1]]);
  const value = tf.tidy(() => binaryLoss(t, p).dataSync()[0]);
  assert.ok(Math.abs(value + Math.log(0.8) + Math.log(0.6) + Math.log(0.9)) < 1e-5, String(value));
  tf.dispose([t, p]);
  const gap = buildModel('digits-gap', 1), fc = buildModel('digits-fc', 1);
  assert.equal(lossFor(gap), multiLabelLoss);
  assert.equal(lossFor(fc), binaryLoss);
  // Fresh He-initialised weights: about 1 − 1/16 of the energy varies over the 4×4 positions.
  const fresh = tf.tidy(() => positionVaryingShare(fc).dataSync()[0]);
  assert.ok(Math.abs(fresh - 15 / 16) < 0.02, String(fresh));
  const kernel = fc.getLayer('fc').getWeights()[0];
  const shared = tf.tidy(() => tf.tile(tf.slice(kernel, [0, 0], [128, 64]), [16, 1]));
  fc.getLayer('fc').setWeights([shared]);
  assert.ok(tf.tidy(() => positionVaryingShare(fc).dataSync()[0]) < 1e-6);
  tf.dispose(shared);
  gap.dispose();
  fc.dispose();
});

test('training stages leave no tensors behind once their models are disposed (head-only and joint split the models)', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const gap = (await trainModel({ kind: 'digits-gap', steps: 2, batchSize: 4, poolSize: 4 })).model;
  const fc = (await trainModel({ kind: 'digits-fc', steps: 2, batchSize: 4, poolSize: 4, featuresFrom: gap, headOnly: true })).model;
  // The head-only model still predicts after training (its conv weights were not freed).
  const p = tf.tidy(() => (fc.predict(tf.zeros([1, 64, 64, 3])) as tf.Tensor).dataSync());
  assert.equal(p.length, 10);
  const joint = await trainJointly({ gap, fc, steps: 2, batchSize: 4, poolSize: 4, fcGradientScale: 0.5 });
  for (const m of [gap, fc, joint.gap, joint.fc]) m.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('an AbortSignal cancels training at a step boundary: typed CANCELLED, tensors equal before/after, the next run gives the same losses', async () => {
  await initBackend();
  const opts = { kind: 'digits-gap' as const, steps: 3, batchSize: 4, poolSize: 4, seed: 5, progress: false };
  const reference = await trainModel(opts);
  reference.model.dispose();
  const before = tf.memory().numTensors;
  const ac = new AbortController();
  const states: string[] = [];
  await assert.rejects(trainModel({
    ...opts, steps: 1000, progress: true,
    signal: ac.signal, onProgress: (p) => { states.push(p.state); if (p.done === 2) ac.abort(); },
  }), (e: unknown) => {
    assert.ok(e instanceof CancelledError);
    assert.equal(e.code, 'CANCELLED');
    assert.deepEqual(e.progress, { label: 'train digits-gap', done: 2, total: 1000, unit: 'steps', reason: 'signal' });
    return true;
  });
  assert.equal(states[states.length - 1], 'cancelled');
  assert.equal(tf.memory().numTensors, before, 'the model, the optimiser\'s slots and every step\'s tensors are gone');
  const again = await trainModel(opts);
  assert.deepEqual(again.losses, reference.losses, 'the next call trains exactly as before the cancelled one');
  again.model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test('an AbortSignal cancels head-only and joint training too, with nothing left behind', async () => {
  await initBackend();
  const gap = (await trainModel({ kind: 'digits-gap', steps: 1, batchSize: 4, poolSize: 4, progress: false })).model;
  const fc = (await trainModel({ kind: 'digits-fc', steps: 1, batchSize: 4, poolSize: 4, featuresFrom: gap, headOnly: true, progress: false })).model;
  const weights = tf.tidy(() => gap.getWeights().map((w) => w.dataSync().slice()));
  const before = tf.memory().numTensors;
  const stopAt = (n: number) => {
    const ac = new AbortController();
    return { signal: ac.signal, onProgress: (p: RunProgress) => { if (p.done === n) ac.abort(); } };
  };
  await assert.rejects(trainModel({ kind: 'digits-fc', steps: 50, batchSize: 4, poolSize: 4, featuresFrom: gap, headOnly: true, ...stopAt(1) }),
    (e: unknown) => e instanceof CancelledError && e.progress.done === 1);
  await assert.rejects(trainJointly({ gap, fc, steps: 50, batchSize: 4, poolSize: 4, ...stopAt(2) }),
    (e: unknown) => e instanceof CancelledError && e.progress.done === 2 && e.progress.label === 'train digits-gap + digits-fc');
  assert.equal(tf.memory().numTensors, before);
  // The models given to the cancelled calls are untouched.
  gap.getWeights().forEach((w, i) => assert.deepEqual(w.dataSync(), weights[i]));
  gap.dispose();
  fc.dispose();
});

test('Ctrl-C stops scripts/train.ts within a step: exit 130, the CANCELLED message, nothing of the stage written', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-train-int-'));
  const child = spawn(process.execPath, ['-r', 'ts-node/register', 'scripts/train.ts', '--model', 'digits-gap', '--out', out,
    '--steps', '100000', '--batch', '4', '--pool', '8', '--no-samples'], {
    cwd: root, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    // The first bar line means the step loop is running.
    if (!sent && /train digits-gap \[/.test(stderr)) {
      sent = true;
      setTimeout(() => child.kill('SIGINT'), 500);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.ok(sent, stderr);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /train digits-gap was cancelled by an interrupt .* after \d+ of 100000 steps/);
  assert.match(stderr, /train digits-gap \[[#-]+\] \d+\/100000 steps .* cancelled/);
  assert.ok(!fs.existsSync(path.join(out, 'digits-gap', 'model.json')), 'no model written');
});
