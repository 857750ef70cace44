/**
 * The method seam, proven from outside src/: a method defined with the public interface alone
 * runs through explain() on a batch, displays, joins comparisons and class dropdowns, and is
 * refused cleanly where it cannot run — with no other file changed.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { cam, defineMapMethod, explain, gradCam, methodNames, verify, type LayerPass, type MapResult } from '../../src/explain';
import { TslabCamError } from '../../src/errors';
import { resultFigure, resultListFigure } from '../../src/notebook';
import { gapNet, randomImages } from '../fixtures/models';

// ---- the toy method: "gradient × activation, summed over channels" (29 lines with its doc) ----
/** Toy: T(x,y) = Σ_k ∂S_c/∂f_k(x,y) · f_k(x,y). On a GAP → Dense head it is M_c / Z. */
function toyMap(p: LayerPass): Float32Array {
  const out = new Float32Array(p.Z);
  const g = p.grads!.data;
  for (let i = 0; i < p.Z; i++) for (let k = 0; k < p.K; k++) out[i] += g[i * p.K + k] * p.f.data[i * p.K + k];
  return out;
}
defineMapMethod({
  name: 'toy',
  label: 'Toy (grad × act)',
  latex: 'T(x,y) = \\sum_k \\frac{\\partial S_c}{\\partial f_k(x,y)} f_k(x,y)',
  paper: 'none: a test of the method seam',
  needs: 'gradients',
  map: (p) => ({ map: toyMap(p), parts: { T: { data: toyMap(p), shape: [p.h, p.w] } } }),
});
// -------------------------------------------------------------------------------------------------

before(async () => {
  await initBackend();
});

test('seam: a method defined outside src/ runs on a batch through explain() with the article\'s numbers', () => {
  assert.ok(methodNames().includes('toy'));
  const model = gapNet({ seed: 3, size: 16 });
  const x = randomImages(3, 16, 5);
  const before = tf.memory().numTensors;
  const toys = explain(model, x, { method: 'toy', classIndex: [0, 1, 2] }) as MapResult[];
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  assert.equal(toys.length, 3);
  toys.forEach((r, i) => {
    assert.equal(r.method, 'toy');
    assert.equal(r.classIndex, i);
    assert.deepEqual(r.upsampled.shape, [16, 16]);
    assert.ok(r.normalized.data.every((v) => v >= 0 && v <= 1));
    // Known answer on a GAP → Dense head: ∂S_c/∂f_k = w_k^c / Z, so T = M_c / Z (CAM's map).
    const c = cam(model, x.slice(i, 1), { classIndex: i });
    const worst = Math.max(...Array.from(r.raw.data, (v, j) => Math.abs(v - c.M.data[j] / c.Z)));
    assert.ok(worst < 1e-5 * Math.max(1, ...Array.from(c.M.data, Math.abs)), `toy = M_c / Z (worst ${worst})`);
  });
  assert.deepEqual(verify(toys[0]), [], 'a method that declares no identities verifies to an empty list');
  x.dispose();
  model.dispose();
});

test('seam: the toy displays as an overlay, joins the comparison row and a class dropdown', () => {
  const model = gapNet({ seed: 3, size: 16 });
  const x = randomImages(1, 16, 5);
  const [t0] = explain(model, x, { method: 'toy', classIndex: 0 }) as MapResult[];
  const [t1] = explain(model, x, { method: 'toy', classIndex: 1 }) as MapResult[];
  const overlay = resultFigure(t0);
  assert.equal(overlay.kind, 'overlay');
  assert.match(overlay.title, /Toy \(grad × act\)/);
  const row = resultListFigure([gradCam(model, x, { classIndex: 0 }), t0]);
  assert.equal(row.kind, 'comparison');
  assert.deepEqual(row.scene.panels.map((p) => p.title), ['input', 'Grad-CAM', 'Toy (grad × act)']);
  const dropdown = resultListFigure([t0, t1]);
  assert.equal(dropdown.kind, 'classes');
  x.dispose();
  model.dispose();
});

test('seam: the toy is refused with a typed error where it cannot run, and leaks nothing', () => {
  // No 4-D feature map anywhere: there is no f_k for the toy to weigh.
  const flat = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 2 })] });
  const img = tf.ones([4, 4, 1]);
  const before = tf.memory().numTensors;
  assert.throws(() => explain(flat, img, { method: 'toy' }),
    (e: unknown) => e instanceof TslabCamError && e.code === 'NO_SPATIAL_LAYER' && /Fix:/.test(e.message));
  assert.throws(() => explain(flat, img, { method: 'toyy' }),
    (e: unknown) => e instanceof TslabCamError && e.code === 'BAD_OPTION' && /Unknown method 'toyy'.*\btoy\b/.test(e.message));
  assert.equal(tf.memory().numTensors, before);
  img.dispose();
  flat.dispose();
});
