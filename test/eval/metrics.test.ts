/**
 * Known answers of every registered metric on hand-made maps and hand-made "models" (plain
 * forward functions): a map equal to the ground truth scores perfectly, a map elsewhere misses,
 * and a score that reads one pixel gives deletion / insertion curves with closed-form AUCs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricNames, metricOf } from '../../src/eval/registry';
import { auc, curveImages, imputeLinear, orderByMap } from '../../src/eval/perturb';
import { pointingTolerance } from '../../src/eval/metrics/pointing';
import { TslabCamError } from '../../src/errors';
import type { EvalSample, Forward, MetricInput } from '../../src/eval/types';
import '../../src/eval/metrics';

const W = 16, H = 16, C = 3;
const box = { x: 4, y: 5, width: 6, height: 4 };
const mask = Uint8Array.from({ length: W * H }, (_, i) => (i % W >= 4 && i % W < 10 && Math.floor(i / W) >= 5 && Math.floor(i / W) < 9 ? 1 : 0));
const pixels = Float32Array.from({ length: W * H * C }, (_, i) => 0.2 + 0.6 * (((i * 7919) % 97) / 97));
const sample: EvalSample = { pixels, width: W, height: H, channels: C, box, mask, classIndex: 0 };
const inputOf = (map: Float32Array, extra: Partial<MetricInput> = {}): MetricInput => ({ map, sample, classIndex: 0, ...extra });
const score = (name: string, input: MetricInput, o = {}): number => metricOf(name).score(input, o).value;

const gtMap = Float32Array.from(mask);
const elsewhere = new Float32Array(W * H);
for (let y = 11; y < 15; y++) for (let x = 11; x < 15; x++) elsewhere[y * W + x] = 1;

test('registry: every metric has a label, needs, direction and paper; unknown is a typed error listing them', () => {
  for (const m of ['pointing', 'pointingTolerant', 'energyPointing', 'localisationError', 'maskIoU', 'averageDrop', 'increaseInConfidence', 'deletion', 'insertion', 'roadMostRelevantFirst', 'roadLeastRelevantFirst', 'sanity']) {
    assert.ok(metricNames().includes(m), m);
    const r = metricOf(m);
    assert.ok(r.label && r.paper && Array.isArray(r.needs) && (r.direction === 'higher' || r.direction === 'lower'));
  }
  assert.throws(() => metricOf('pointng'), (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && /pointing/.test(e.message) && /Fix:/.test(e.message));
});

test('localisation: a map equal to the mask hits, holds 100% of the energy, IoU 1, no localisation error', () => {
  assert.equal(score('pointing', inputOf(gtMap)), 1);
  assert.equal(score('pointingTolerant', inputOf(gtMap)), 1);
  assert.equal(score('energyPointing', inputOf(gtMap)), 100);
  assert.equal(score('maskIoU', inputOf(gtMap)), 1);
  assert.equal(score('localisationError', inputOf(gtMap)), 0);
});

test('localisation: a map pointing elsewhere misses everything', () => {
  assert.equal(score('pointing', inputOf(elsewhere)), 0);
  assert.equal(score('pointingTolerant', inputOf(elsewhere)), 0);
  assert.equal(score('energyPointing', inputOf(elsewhere)), 0);
  assert.equal(score('maskIoU', inputOf(elsewhere)), 0);
  assert.equal(score('localisationError', inputOf(elsewhere)), 1);
  assert.equal(score('pointing', inputOf(new Float32Array(W * H))), 0, 'a constant map points nowhere');
  assert.equal(score('energyPointing', inputOf(new Float32Array(W * H))), 0, 'an empty map has no energy inside');
});

test('localisation: tolerance 15 px at 224 scales to 4 px at 64; energy counts partial mass; IoU at a threshold', () => {
  assert.equal(pointingTolerance(224, 224), 15);
  assert.equal(pointingTolerance(64, 64), 4);
  const near = new Float32Array(W * H);
  near[5 * W + 10] = 1; // one column right of the box: a strict miss, a tolerant hit (tolerance 1 at 16 px)
  assert.equal(pointingTolerance(W, H), 1);
  assert.equal(score('pointing', inputOf(near)), 0);
  assert.equal(score('pointingTolerant', inputOf(near)), 1);
  const half = Float32Array.from(gtMap, (v, i) => v + elsewhere[i] * (24 / 16));
  // mass inside = 24 (the box), outside = 16·1.5 = 24 → 50%.
  assert.equal(score('energyPointing', inputOf(half)), 50);
  // map = mask + 0.4 everywhere: at t = 0.5 of max 1.4 → 0.7, only the mask survives.
  const lifted = Float32Array.from(gtMap, (v) => v + 0.4);
  assert.equal(score('maskIoU', inputOf(lifted), { iouThreshold: 0.5 }), 1);
  assert.ok(Math.abs(score('maskIoU', inputOf(lifted), { iouThreshold: 0.2 }) - 24 / 256) < 1e-12);
  // Two blobs: the box goes around the larger one (the object), the smaller one is ignored.
  const two = Float32Array.from(gtMap);
  two[0] = 1;
  assert.equal(score('localisationError', inputOf(two)), 0);
});

// A "model" whose score is exactly pixel p's first channel.
const p = 5 * W + 6;
const onePixel: Forward = (images, count) => Float32Array.from({ length: count }, (_, k) => images[k * W * H * C + p * C]);
const peaked = new Float32Array(W * H).fill(0.1);
peaked[p] = 1;

test('deletion: the perfect ordering drops at the first step; AUC = v / (2n) in closed form (zero baseline)', () => {
  const v = pixels[p * C];
  for (const steps of [4, 16, 64]) {
    const r = metricOf('deletion').score(inputOf(peaked, { forward: onePixel }), { steps, baseline: 'zero' });
    assert.equal(r.curve!.length, steps + 1);
    assert.ok(Math.abs(r.curve![0] - v) < 1e-7);
    assert.ok(r.curve!.slice(1).every((y) => y === 0), 'drops to 0 at step 1 and stays');
    assert.ok(Math.abs(r.value - v / (2 * steps)) < 1e-7, `AUC ${r.value} vs ${v / (2 * steps)}`);
    const ins = metricOf('insertion').score(inputOf(peaked, { forward: onePixel }), { steps, baseline: 'zero' });
    assert.ok(Math.abs(ins.value - v * (1 - 1 / (2 * steps))) < 1e-7, 'insertion AUC = v(1 − 1/2n)');
  }
  // The worst ordering (the pixel last) keeps the score until the final step.
  const worst = Float32Array.from(peaked, (x) => 1.1 - x);
  const r = metricOf('deletion').score(inputOf(worst, { forward: onePixel }), { steps: 8, baseline: 'zero' });
  assert.ok(Math.abs(r.value - auc([...Array(8).fill(pixels[p * C]), 0])) < 1e-7);
  assert.ok(r.value > 7 * pixels[p * C] / 8 - 1e-7);
});

test('deletion / insertion images: the step k image has exactly round(k·P/n) pixels switched; baselines', () => {
  const order = orderByMap(peaked);
  assert.equal(order[0], p);
  const base = new Float32Array(pixels.length).fill(-1);
  const imgs = curveImages(sample, order, 4, base, 'deletion');
  for (let k = 0; k <= 4; k++) {
    let switched = 0;
    for (let i = 0; i < W * H; i++) if (imgs[k * W * H * C + i * C] === -1) switched++;
    assert.equal(switched, Math.round((k * W * H) / 4));
  }
  const mean = metricOf('deletion').score(inputOf(peaked, { forward: onePixel }), { steps: 2, baseline: 'mean' }).curve!;
  const m0 = pixels.filter((_, i) => i % C === 0).reduce((a, b) => a + b, 0) / (W * H);
  assert.ok(Math.abs(mean[1] - m0) < 1e-6, 'mean baseline = the channel mean');
  const blur = metricOf('insertion').score(inputOf(peaked, { forward: onePixel }), { steps: 2, baseline: 'blur' }).curve!;
  assert.ok(blur[0] > 0.2 && blur[0] < 0.8 && blur[2] === pixels[p * C], 'insertion starts blurred, ends at the image');
});

test('steps: zero, fractional or more than the pixels is a typed error naming the fix', () => {
  for (const steps of [0, 2.5, W * H + 1]) {
    assert.throws(() => metricOf('deletion').score(inputOf(peaked, { forward: onePixel }), { steps }),
      (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && /steps/.test(e.message) && /Fix:/.test(e.message));
  }
});

test('Average Drop and Increase in Confidence: O on image × map, in closed form', () => {
  const v = pixels[p * C];
  // Map 1 at p: O = Y → no drop, no increase.
  assert.equal(score('averageDrop', inputOf(peaked, { forward: onePixel })), 0);
  assert.equal(score('increaseInConfidence', inputOf(peaked, { forward: onePixel })), 0);
  // Map 0.25 at p: O = Y/4 → drop 75%.
  const quarter = Float32Array.from(peaked, () => 0);
  quarter[p] = 0.25;
  assert.ok(Math.abs(score('averageDrop', inputOf(quarter, { forward: onePixel })) - 75) < 1e-4);
  // A score that falls with the pixel's brightness rises when the map dims it: an increase.
  const inverse: Forward = (images, count) => Float32Array.from({ length: count }, (_, k) => 1 - images[k * W * H * C + p * C]);
  assert.equal(score('increaseInConfidence', inputOf(quarter, { forward: inverse })), 100);
  assert.equal(score('averageDrop', inputOf(quarter, { forward: inverse })), 0);
  void v;
});

test('ROAD: linear imputation reproduces a linear image, and MoRF on the read pixel changes the score, LeRF does not', () => {
  const ramp: EvalSample = { ...sample, pixels: Float32Array.from({ length: W * H * C }, (_, i) => ((Math.floor(i / C) % W) + 2 * Math.floor(i / C / W)) / 50) };
  const removed = new Uint8Array(W * H);
  for (let y = 3; y < 9; y++) for (let x = 3; x < 9; x++) removed[y * W + x] = 1;
  const filled = imputeLinear(ramp, removed, 0);
  let worst = 0;
  for (let i = 0; i < filled.length; i++) worst = Math.max(worst, Math.abs(filled[i] - ramp.pixels[i]));
  assert.ok(worst < 1e-3, `a linear image is its own interpolation (worst ${worst})`);
  // Constant image: imputation gives the constant (plus the noise), so both orders change the score by the noise only.
  const morf = score('roadMostRelevantFirst', inputOf(peaked, { forward: onePixel }));
  const lerf = score('roadLeastRelevantFirst', inputOf(peaked, { forward: onePixel }));
  assert.notEqual(morf, 0, 'the read pixel is imputed first');
  assert.equal(lerf, 0, 'the read pixel is never imputed when the least relevant go first');
});

test('sanity metric: ρ = 1 for an unchanged map, −1 for a reversed one', () => {
  const ramp = Float32Array.from({ length: W * H }, (_, i) => i);
  assert.ok(Math.abs(score('sanity', inputOf(ramp, { randomisedMap: ramp })) - 1) < 1e-12);
  assert.ok(Math.abs(score('sanity', inputOf(ramp, { randomisedMap: Float32Array.from(ramp, (v) => -v) })) + 1) < 1e-12);
});

test('metrics that need ground truth or the model say so with a typed error and a fix', () => {
  const bare: EvalSample = { pixels, width: W, height: H, channels: C };
  for (const m of ['pointing', 'energyPointing', 'localisationError', 'maskIoU']) {
    assert.throws(() => metricOf(m).score({ map: gtMap, sample: bare, classIndex: 0 }, {}),
      (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_SAMPLE' && /Fix:/.test(e.message), m);
  }
  for (const m of ['averageDrop', 'deletion', 'roadMostRelevantFirst', 'sanity']) {
    assert.throws(() => metricOf(m).score(inputOf(gtMap), {}), (e: unknown) => e instanceof TslabCamError && /Fix:/.test(e.message), m);
  }
});
