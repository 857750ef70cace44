import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import {
  META_FILE, builtinModelPath, builtinNames, builtinSamples, decodeRuns, encodeRuns, packageRoot, readModelMeta,
} from '../../src/model/builtin';
import { loadImage } from '../../src/model/image';
import { TslabCamError } from '../../src/errors';
import { loadLayersModel } from '../../src/model/load';
import { accuracyOf, evaluationScenes, predictScenes } from '../../src/data/evaluate';
import { SAMPLE_SPECS, sampleScene } from '../../src/data/samples';
import { combined, pointingGame, rate } from '../../src/eval/pointing';

/**
 * Floors the shipped weights must reach on the fixed 200-scene sample (100 single-digit,
 * 100 two-digit scenes of the held-out evaluation set). README states the full-size figures
 * (2,000 + 2,000 scenes: digits-gap 98.2% / 95.9%, digits-fc 98.2% / 95.9%, both meeting the
 * issue's 98% / 95%); on this sample both models score 99% / 94% (one scene is one point here,
 * so 94 vs 95 is sampling noise). The floors sit at the targets less one or two scenes, so a
 * backend that rounds differently and flips a scene does not fail CI, while a broken model or
 * loader does.
 */
const SAMPLE_FLOORS = { singleTop1: 0.98, doubleBothTop2: 0.93 };

test('builtinNames and builtinModelPath: two models inside the package; unknown names fail clearly', () => {
  assert.deepEqual(builtinNames(), ['digits-gap', 'digits-fc']);
  for (const name of builtinNames()) {
    const p = builtinModelPath(name);
    assert.ok(path.isAbsolute(p) && p.startsWith(packageRoot()));
    assert.ok(fs.existsSync(p));
  }
  assert.throws(() => builtinModelPath('digits-gpa'), (e: unknown) => {
    assert.ok(e instanceof TslabCamError);
    assert.equal(e.code, 'UNKNOWN_BUILTIN');
    assert.match(e.message, /builtin:digits-gap/);
    assert.match(e.message, /closest: 'digits-gap'/);
    return true;
  });
});

test('each model ships its metadata and stays within 2 MB', () => {
  for (const name of builtinNames()) {
    const meta = readModelMeta(builtinModelPath(name));
    assert.ok(meta);
    assert.deepEqual(meta.inputSize, [64, 64]);
    assert.equal(meta.channels, 3);
    assert.deepEqual(meta.inputRange, [0, 1]);
    assert.deepEqual(meta.classNames, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(meta.hasGap, name === 'digits-gap');
    assert.equal(meta.targetLayer, 'relu4');
    const dir = path.dirname(builtinModelPath(name));
    const bytes = fs.readdirSync(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
    assert.ok(bytes <= 2 * 1024 * 1024, `${name} is ${bytes} bytes`);
  }
});

test('readModelMeta: absent → null, broken → MODEL_LOAD', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-cam-meta-'));
  const modelJson = path.join(dir, 'model.json');
  assert.equal(readModelMeta(modelJson), null);
  fs.writeFileSync(path.join(dir, META_FILE), '{ nope');
  assert.throws(() => readModelMeta(modelJson), (e: unknown) => e instanceof TslabCamError && e.code === 'MODEL_LOAD');
  fs.writeFileSync(path.join(dir, META_FILE), JSON.stringify({ inputSize: [64], channels: 3, inputRange: [0, 1] }));
  assert.throws(() => readModelMeta(modelJson), /inputSize/);
});

test('mask run-length encoding round-trips', () => {
  const mask = Uint8Array.from([1, 1, 0, 0, 0, 1, 0, 1, 1, 1]);
  assert.deepEqual(encodeRuns(mask), [0, 2, 3, 1, 1, 3]);
  assert.deepEqual(decodeRuns(encodeRuns(mask), mask.length), mask);
  const empty = new Uint8Array(5);
  assert.deepEqual(decodeRuns(encodeRuns(empty), 5), empty);
});

test('builtinSamples: committed PNGs and ground truth match the generator that made them', async () => {
  await initBackend();
  const samples = builtinSamples();
  assert.deepEqual(samples.map((s) => s.name), SAMPLE_SPECS.map((s) => s.name));
  assert.ok(samples.some((s) => s.labels.length === 2), 'a two-digit sample');
  assert.ok(samples.some((s) => s.clutter === 'heavy'), 'a heavy-clutter sample');
  for (const [i, sample] of samples.entries()) {
    const scene = sampleScene(SAMPLE_SPECS[i]);
    assert.deepEqual(sample.labels, scene.labels);
    sample.digits.forEach((d, j) => {
      assert.deepEqual(d.box, scene.digits[j].box);
      assert.deepEqual(d.mask, scene.digits[j].mask);
    });
    const x = await loadImage(sample.path, { size: 64 });
    const data = await x.data();
    x.dispose();
    let worst = 0;
    for (let k = 0; k < data.length; k++) worst = Math.max(worst, Math.abs(data[k] - scene.pixels[k]));
    assert.ok(worst <= 0.5 / 255 + 1e-6, `${sample.name}: PNG differs from the scene by ${worst}`);
  }
});

test('shipped weights reach the stated accuracy on a fixed 200-scene held-out sample (and the samples are read right)', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const scenes = evaluationScenes({ singles: 100, doubles: 100 });
  for (const name of builtinNames()) {
    const model = await loadLayersModel(builtinModelPath(name));
    const acc = accuracyOf(scenes, await predictScenes(model, scenes));
    assert.ok(acc.singleTop1 >= SAMPLE_FLOORS.singleTop1, `${name}: single-digit top-1 ${acc.singleTop1}`);
    assert.ok(acc.doubleBothTop2 >= SAMPLE_FLOORS.doubleBothTop2, `${name}: two-digit both-in-top-2 ${acc.doubleBothTop2}`);
    // The notebooks' samples: each model's top-k classes are exactly the sample's digits.
    for (const sample of builtinSamples()) {
      const x = await loadImage(sample.path, { size: 64 });
      const p = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync());
      x.dispose();
      const top = Array.from(p).map((v, c) => [v, c]).sort((a, b) => b[0] - a[0]).slice(0, sample.labels.length).map((e) => e[1]);
      assert.deepEqual([...top].sort(), [...sample.labels].sort(), `${name} on ${sample.name}`);
    }
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

/**
 * Pointing-game floors on a fixed held-out sample (50 single-digit scenes, and both digits of 50
 * two-digit scenes: 150 maps per model and method). README states the 3,000-map figures
 * (96.0%, 96.0%, 95.7%); on this sample the weights score 94% / 94% / 93% overall and 88% / 88% /
 * 86% for the second digit of each pair.
 */
const POINTING_FLOORS = { gradCamGap: 0.9, camGap: 0.9, gradCamFc: 0.9 };

test('shipped weights: Grad-CAM (both models) and CAM (digits-gap) point at the right digit, also the second one', async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const singles = evaluationScenes({ singles: 50, doubles: 0 });
  const doubles = evaluationScenes({ singles: 0, doubles: 50 });
  const runs: [string, 'gradCam' | 'cam', number][] = [
    ['digits-gap', 'gradCam', POINTING_FLOORS.gradCamGap], ['digits-gap', 'cam', POINTING_FLOORS.camGap], ['digits-fc', 'gradCam', POINTING_FLOORS.gradCamFc],
  ];
  for (const [name, method, floor] of runs) {
    const model = await loadLayersModel(builtinModelPath(name));
    const report = pointingGame(model, method, undefined, singles, doubles);
    const all = combined(report.single, report.firstOfTwo, report.secondOfTwo), second = report.secondOfTwo;
    assert.equal(all.trials, 150);
    assert.ok(rate(all) >= floor, `${name} ${method}: pointing ${rate(all)} < ${floor}`);
    // Class discrimination: the map for the second digit's class must move to that digit.
    assert.ok(rate(second) >= floor - 0.1, `${name} ${method}: second digit ${rate(second)}`);
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});
