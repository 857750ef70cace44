/** The evaluation table displays as escaped HTML with the best per column in bold and a PARTIAL banner; the sanity report as curves. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { evaluate, evalTableHtml, isEvalTable, toBundle } from '../../src/notebook';
import { samplesFromScenes } from '../../src/eval';
import { generateScene } from '../../src/data/scenes';
import { gapNet } from '../fixtures/models';

before(async () => {
  await initBackend();
});

test('evaluate (notebook): the table displays itself as HTML, best in bold, names escaped, no leaks', async () => {
  const model = gapNet({ seed: 3, size: 64, head: 'softmax', classes: 10 });
  const samples = samplesFromScenes([0, 1].map((index) => generateScene({ split: 'test', seed: 9, index, count: 1 })));
  const before = tf.memory().numTensors;
  const t = await evaluate(model, samples.map((s, i) => ({ ...s, name: `<s${i}>` })), { methods: ['gradCam', 'cam'], metrics: ['pointing', 'energyPointing', 'deletion'], steps: 8, progress: false });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(isEvalTable(t));
  const b = toBundle(t);
  const html = b.data['text/html'] as string;
  assert.match(html, /<table class="tslab-cam-eval">/);
  assert.match(html, /Grad-CAM/);
  assert.match(html, /Energy pointing % ↑/);
  assert.match(html, /font-weight:bold/);
  assert.match(String(b.data['text/plain']), /2 methods × 3 metrics on 2 of 2 samples/);
  const partial = evalTableHtml({ ...t, methods: ['<script>'], partial: true, samples: 1 });
  assert.match(partial, /PARTIAL: cancelled after 1 of 2/);
  assert.ok(!partial.includes('<script>'));
  model.dispose();
});
