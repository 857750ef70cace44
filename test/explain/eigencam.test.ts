import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { eigenCam, firstPrincipalProjection } from '../../src/explain';
import { handModel } from '../fixtures/handworked';
import { relDiff } from '../helpers/numeric';

before(async () => {
  await initBackend();
});

test('Eigen-CAM known answer on the hand-worked model: projection of centred f on its first principal component', () => {
  // f as a 4×2 matrix (rows = positions): [[1, −1], [2, 1], [3, 1], [0, 2]]; channel means [1.5, 0.75];
  // centred C = [[−0.5, −1.75], [0.5, 0.25], [1.5, 0.25], [−1.5, 1.25]]; CᵀC = [[5, −0.5], [−0.5, 4.75]].
  // Its top eigenvalue λ = (9.75 + √(0.25² + 1))/2 = 5.390388; eigenvector v ∝ (0.5, 5 − λ) → (0.788205, −0.615412).
  // p = C v = [0.682869, 0.240250, 1.028455, −1.951573]: it correlates positively with the channel mean
  // m = [0, 1.5, 2, 1] (Σ p (m − m̄) = 0.466 > 0), so this sign is kept. map = ReLU(p).
  const { model, image } = handModel();
  const before = tf.memory().numTensors;
  const r = eigenCam(model, image);
  assert.equal(tf.memory().numTensors, before);
  const p = [0.6828686474, 0.2402496667, 1.0284551047, -1.9515734188];
  assert.ok(relDiff(r.projection.data, p) < 1e-6, `projection ${r.projection.data}`);
  assert.ok(relDiff(r.raw.data, p.map((v) => Math.max(v, 0))) < 1e-6);
  // Class-agnostic: every class gives the same map.
  assert.deepEqual(Array.from(eigenCam(model, image, { classIndex: 1 }).raw.data), Array.from(r.raw.data));
  image.dispose();
  model.dispose();
});

test('the principal component: sign fixed by the channel mean, either Gram matrix, constant input', () => {
  // Rank one: a_k(x,y) = u(x,y) · s_k, so p = (u − ū)|s| up to sign; the sign follows u's correlation with the mean.
  const u = [3, -1, 0, 2, 5, 1];
  const s = [2, 1, 0.5];
  const a = { data: Float32Array.from(u.flatMap((v) => s.map((k) => v * k))), shape: [2, 3, 3] };
  const mean = u.reduce((x, y) => x + y) / u.length;
  const norm = Math.hypot(...s);
  assert.ok(relDiff(firstPrincipalProjection(a), u.map((v) => (v - mean) * norm)) < 1e-6);
  const flipped = { data: a.data.map((v) => -v), shape: a.shape };
  assert.ok(relDiff(firstPrincipalProjection(flipped), u.map((v) => -(v - mean) * norm)) < 1e-6, 'the sign follows the data, not the solver');
  // K > Z (Gram of positions) gives the same answer as K < Z.
  const wide = { data: Float32Array.from([1, 2, 3, 4, 5, -1, 0, 2, 1, 1, 2, 0]), shape: [1, 2, 6] };
  const rows = [[1, 2, 3, 4, 5, -1], [0, 2, 1, 1, 2, 0]];
  // Two positions: the centred rows are ±d/2 with d = row0 − row1, so p = ±|d|/2.
  const d = Math.hypot(...rows[0].map((v, i) => v - rows[1][i]));
  assert.ok(relDiff(firstPrincipalProjection(wide), [d / 2, -d / 2]) < 1e-6);
  assert.deepEqual(Array.from(firstPrincipalProjection({ data: new Float32Array(12).fill(3), shape: [2, 2, 3] })), [0, 0, 0, 0]);
});
