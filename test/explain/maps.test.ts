import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend } from '../../src/model/backend';
import * as tf from '@tensorflow/tfjs';
import { gapOf, mapForms, normalizeMap, resizeBilinear, upsampleMaps, weightedSum } from '../../src/explain/maps';
import { mulberry32, relDiff } from '../helpers/numeric';
import { alphaOf } from '../../src/explain/gradcam';

before(async () => {
  await initBackend();
});

test('normalizeMap: min-max to [0,1]; constant, all-zero and all-negative maps never give NaN', () => {
  assert.deepEqual(Array.from(normalizeMap(Float32Array.from([2, 4, 6]))), [0, 0.5, 1]);
  assert.deepEqual(Array.from(normalizeMap(Float32Array.from([-3, -1]))), [0, 1]);
  assert.deepEqual(Array.from(normalizeMap(new Float32Array(4))), [0, 0, 0, 0]);
  assert.deepEqual(Array.from(normalizeMap(Float32Array.from([5, 5, 5]))), [0, 0, 0]);
});

test('upsampleMaps: bilinear with half-pixel centres; a constant map stays constant, a 2×2 ramp interpolates', () => {
  const flat = upsampleMaps(Float32Array.from([0.5, 0.5, 0.5, 0.5]), 1, 2, 2, [4, 4]);
  assert.ok(flat.every((v) => Math.abs(v - 0.5) < 1e-7));
  // Columns 0 and 1 hold 0 and 1. Output column centres at 0.25, 0.75, 1.25, 1.75 input pixels,
  // i.e. offsets -0.25, 0.25, 0.75, 1.25 from the first centre, clamped to [0, 1]: 0, 0.25, 0.75, 1.
  const ramp = upsampleMaps(Float32Array.from([0, 1, 0, 1]), 1, 2, 2, [4, 4]);
  assert.deepEqual(Array.from(ramp.slice(0, 4), (v) => Math.round(v * 1e6) / 1e6), [0, 0.25, 0.75, 1]);
});

test('gapOf, weightedSum and alphaOf compute the article\'s sums on a hand example', () => {
  // f: 2×1 positions × 2 channels: position 0 = [1, 2], position 1 = [3, -4].
  const f = { data: Float32Array.from([1, 2, 3, -4]), shape: [2, 1, 2] };
  assert.deepEqual(Array.from(gapOf(f)), [2, -1]); // means of [1,3] and [2,-4]
  assert.deepEqual(Array.from(weightedSum(f, [0.5, 1])), [2.5, -2.5]); // 0.5·1+2, 0.5·3-4
  assert.deepEqual(Array.from(alphaOf(Float32Array.from([1, 2, 3, -4]), 2, 1, 2)), [2, -1]);
});

test('the upsampled map is min-max scaled after resizing (pytorch-grad-cam\'s order): it reaches 1 at its peak and 0 at its floor', () => {
  // A single hot cell: resized with half-pixel centres (8→64), its peak alone stays below 1.
  const raw = new Float32Array(64);
  raw[27] = 2;
  raw[5] = -1;
  const forms = mapForms(raw, 8, 8, [64, 64]);
  const resized = upsampleMaps(forms.normalized.data, 1, 8, 8, [64, 64]);
  const peakBefore = Math.max(...resized);
  assert.ok(peakBefore < 0.99, `the resized peak alone is ${peakBefore}`);
  assert.equal(Math.max(...forms.upsampled.data), 1);
  assert.equal(Math.min(...forms.upsampled.data), 0);
  const lo = Math.min(...resized);
  forms.upsampled.data.forEach((v, i) => assert.ok(Math.abs(v - (resized[i] - lo) / (peakBefore - lo)) < 1e-6));
  // Where the resized map peaks is unchanged (the pointing game reads the argmax).
  assert.equal(forms.upsampled.data.indexOf(1), resized.indexOf(peakBefore));
  assert.ok(mapForms(new Float32Array(64), 8, 8, [64, 64]).upsampled.data.every((v) => v === 0));
});

test('resizeBilinear equals tf.image.resizeBilinear (half-pixel centres) up, down and across aspect ratios', () => {
  const rand = mulberry32(12);
  for (const [h, w, H, W] of [[7, 7, 224, 224], [14, 9, 64, 100], [32, 30, 7, 11], [5, 6, 5, 6], [1, 4, 3, 9]]) {
    const data = Float32Array.from({ length: h * w }, () => rand() * 2 - 1);
    const ours = resizeBilinear({ data, shape: [h, w] }, H, W).data;
    const theirs = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(data, [h, w, 1]), [H, W], false, true).dataSync());
    // tfjs interpolates in float32, this code in doubles.
    assert.ok(relDiff(ours, theirs) <= 1e-5, `${h}×${w} → ${H}×${W}: ${relDiff(ours, theirs)}`);
  }
});

test('gapOf and alphaOf equal tf.mean over the spatial axes on a 7×7×1280 map', () => {
  const rand = mulberry32(13);
  const [h, w, k] = [7, 7, 1280];
  const data = Float32Array.from({ length: h * w * k }, () => rand() * 2 - 1);
  const mean = tf.tidy(() => tf.mean(tf.tensor3d(data, [h, w, k]), [0, 1]).dataSync());
  assert.ok(relDiff(gapOf({ data, shape: [h, w, k] }), mean) <= 1e-6);
  assert.ok(relDiff(alphaOf(data, h, w, k), mean) <= 1e-6);
});
