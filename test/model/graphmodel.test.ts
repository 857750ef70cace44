import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend';
import { runEngine, EngineOptions } from '../../src/model/engine';
import { findTargetLayer, listLayers, resolveLayer } from '../../src/model/inspect';
import { findTargetNode, forwardGraphModel, graphInputName, listNodes, planGraph } from '../../src/model/graphmodel';
import { withGuidedRelu } from '../../src/explain/guided';
import { TslabCamError } from '../../src/errors';
import { gapNet, mobileNetV2, randomImages, resNet, vggFlat } from '../fixtures/models';
import { GraphFixtureOptions, GraphTwin, graphTwin, layersToGraph, loadGraphFixture, nodeOfLayer, withExtraNodes } from '../fixtures/graph-models';
import { relDiff } from '../helpers/numeric';
import { graphFd } from '../helpers/graph-numeric';

before(async () => {
  await initBackend();
});

function dispose(t: GraphTwin): void {
  t.layers.dispose();
  t.graph.dispose();
}


/**
 * The engine on the graph model and on its layer-model twin, at `layer` (and its node): f, the
 * gradient and the scores agree to 1e-5 relative, the same classes are chosen, nothing leaks.
 */
function checkTwin(t: GraphTwin, layer: string, options: EngineOptions = {}, guided = false): void {
  const before = tf.memory().numTensors;
  const x = randomImages(2, t.size, 5);
  const run = (m: tf.LayersModel | tf.GraphModel, l: string) => (guided ? withGuidedRelu : <T>(fn: () => T) => fn())(() => runEngine(m, x, { ...options, layer: l }));
  const a = run(t.layers, layer);
  const b = run(t.graph, nodeOfLayer(t, layer));
  try {
    assert.deepEqual(b.f.shape, a.f.shape);
    assert.deepEqual(b.classIndices, a.classIndices);
    assert.equal(b.scoreKind, a.scoreKind);
    const df = relDiff(b.f.dataSync(), a.f.dataSync());
    const dg = relDiff(b.grads.dataSync(), a.grads.dataSync());
    const ds = relDiff(b.scores.dataSync(), a.scores.dataSync());
    assert.ok(a.grads.dataSync().some((v) => v !== 0), `${t.layers.name} ${layer}: gradient is all zero`);
    assert.ok(df <= 1e-5 && dg <= 1e-5 && ds <= 1e-5, `${t.layers.name} ${layer}${guided ? ' (guided)' : ''}: f ${df.toExponential(2)}, grads ${dg.toExponential(2)}, scores ${ds.toExponential(2)}`);
  } finally {
    a.dispose();
    b.dispose();
    x.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
}

test('the fixture writer makes exact twins: the graph model predicts what the layer model predicts', async () => {
  for (const [m, o] of [[gapNet({ head: 'softmax' }), {}], [resNet(), { fuseConv: true }], [resNet(), { batchNorm: 'mulAdd' }], [vggFlat(), {}]] as const) {
    const t = await graphTwin(m, o as GraphFixtureOptions);
    const x = randomImages(2, t.size, 3);
    const a = t.layers.predict(x) as tf.Tensor;
    const b = t.graph.execute(x) as tf.Tensor;
    assert.ok(relDiff(b.dataSync(), a.dataSync()) <= 1e-6, m.name);
    tf.dispose([a, b, x]);
    dispose(t);
  }
});

test('graph engine equals the layer engine: GAP net with a softmax head (scores read before the Softmax)', async () => {
  const t = await graphTwin(gapNet({ head: 'softmax' }));
  checkTwin(t, 'conv2');
  checkTwin(t, 'conv1', { classIndex: 3 });
  checkTwin(t, 'conv2', { scores: 'probabilities' });
  const plan = planGraph(t.graph, [1, t.size, t.size, 3]);
  assert.match(plan.score.source, /input of the softmax node 'gap_net\/predictions\/Softmax'/);
  dispose(t);
});

test('graph engine equals the layer engine: VGG-style (MaxPool, Reshape, MatMul), fused and unfused convs', async () => {
  for (const fuseConv of [false, true]) {
    const t = await graphTwin(vggFlat({ head: 'softmax' }), { fuseConv });
    checkTwin(t, 'block2_conv2');
    checkTwin(t, 'block1_conv1', { classIndex: 1 });
    dispose(t);
  }
});

test('graph engine equals the layer engine: ResNet (FusedBatchNormV3 and Mul/Add BatchNorm, skip connections around the target)', async () => {
  for (const batchNorm of ['fused', 'mulAdd'] as const) {
    const t = await graphTwin(resNet(), { batchNorm });
    checkTwin(t, 'res3_out');
    checkTwin(t, 'res2_a_relu'); // inside a projection block: the shortcut goes around it
    checkTwin(t, 'res3_b_bn', { classIndex: [0, 4] }); // inside an identity block, before the Add
    dispose(t);
  }
});

test('graph engine equals the layer engine: MobileNetV2 blocks (DepthwiseConv2dNative, Relu6, AddV2) at 96×96', async () => {
  const t = await graphTwin(mobileNetV2({ size: 96 }));
  checkTwin(t, 'out_relu6');
  checkTwin(t, 'block_4_add');
  checkTwin(t, 'block_2_depthwise_relu6');
  dispose(t);
});

test('guided backprop on a graph model equals guided backprop on its layer twin (Relu and Relu6 rules)', async () => {
  for (const m of [vggFlat(), resNet(), mobileNetV2({ size: 64 })]) {
    const t = await graphTwin(m, { fuseConv: true });
    checkTwin(t, m.inputs[0].sourceLayer.name, {}, true);
    // The guided gradient differs from the plain one: the rule was applied.
    const x = randomImages(1, t.size, 9);
    const plain = runEngine(t.graph, x, { layer: graphInputName(t.graph) });
    const guided = withGuidedRelu(() => runEngine(t.graph, x, { layer: graphInputName(t.graph) }));
    assert.ok(relDiff(guided.grads.dataSync(), plain.grads.dataSync()) > 1e-3, `${m.name}: guided equals plain`);
    plain.dispose();
    guided.dispose();
    x.dispose();
    dispose(t);
  }
});

test('automatic target node: the node twin of the layer model\'s default target layer', async () => {
  for (const m of [gapNet({ head: 'softmax' }), vggFlat(), resNet(), mobileNetV2({ size: 64 })]) {
    const t = await graphTwin(m);
    const want = nodeOfLayer(t, findTargetLayer(t.layers).name);
    assert.equal(findTargetNode(t.graph).name, want, m.name);
    assert.equal(findTargetLayer(t.graph).name, want, `${m.name} via inspect.findTargetLayer`);
    dispose(t);
  }
  const t = await graphTwin(resNet());
  assert.equal(findTargetNode(t.graph).name, 'res_net/res3_out/Relu');
  const nodes = listLayers(t.graph);
  assert.ok(nodes.every((n) => n.className !== 'Const'), 'weights are not listed');
  assert.deepEqual(nodes.find((n) => n.name === 'res_net/res2_a_conv/Conv2D')?.outputShape, [null, 16, 16, 16]);
  dispose(t);
});

test('graph engine matches finite differences at an inner node with a skip connection around it, and at the default node', async () => {
  const before = tf.memory().numTensors;
  const t = await graphTwin(resNet(), { fuseConv: true });
  const x = randomImages(1, t.size, 21);
  for (const [layer, c] of [[nodeOfLayer(t, 'res2_a_relu'), 1], [findTargetNode(t.graph).name, 3]] as const) {
    const rels = graphFd(t.graph, x, layer, c);
    for (const r of rels) assert.ok(r <= 1e-2, `${layer}: finite difference rel ${r.toExponential(2)}`);
  }
  x.dispose();
  dispose(t);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
});

test('a typo in a node name lists the closest node names', async () => {
  const t = await graphTwin(resNet());
  const x = randomImages(1, t.size, 1);
  const before = tf.memory().numTensors;
  assert.throws(() => runEngine(t.graph, x, { layer: 'res_net/res2_a_relu/Relux' }), (e: unknown) => {
    assert.ok(e instanceof TslabCamError && e.code === 'UNKNOWN_LAYER');
    assert.match(e.message, /Closest names: res_net\/res2_a_relu\/Relu/);
    return true;
  });
  // A unique last segment works like a leaf layer name; the gap's Mean is not 4-D.
  assert.equal(resolveLayer(t.graph, 'res_net/res2_a_relu/Relu').name, 'res_net/res2_a_relu/Relu');
  assert.throws(() => resolveLayer(t.graph, 'res_net/gap/Mean'), (e: unknown) => e instanceof TslabCamError && e.code === 'NO_SPATIAL_LAYER' && /res_net\/res3_out\/Relu/.test(e.message));
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  x.dispose();
  dispose(t);
});

test('a control-flow op on the gradient path is refused with a typed error naming the node, before anything runs', async () => {
  const base = gapNet();
  const f = layersToGraph(base);
  // conv2/Relu → Switch(pred) → Merge → Mean: a conditional between the target and the scores.
  const cf = withExtraNodes(f, (nodes) => {
    const mean = nodes.find((n) => n.op === 'Mean');
    if (!mean || !mean.input) throw new Error('no Mean');
    const relu = mean.input[0];
    mean.input[0] = 'cond/Merge';
    return [...nodes,
      { name: 'cond/pred', op: 'Const', attr: { dtype: { type: 'DT_BOOL' }, value: { tensor: { dtype: 'DT_BOOL', tensorShape: {}, boolVal: [true] } } } },
      { name: 'cond/Switch', op: 'Switch', input: [relu, 'cond/pred'], attr: { T: { type: 'DT_FLOAT' } } },
      { name: 'cond/Merge', op: 'Merge', input: ['cond/Switch:1', 'cond/Switch'], attr: { T: { type: 'DT_FLOAT' }, N: { i: '2' } } }];
  });
  const g = await loadGraphFixture(cf);
  const x = randomImages(1, 32, 2);
  const before = tf.memory().numTensors;
  assert.throws(() => runEngine(g, x, { layer: 'gap_net/conv2/Relu' }), (e: unknown) => {
    assert.ok(e instanceof TslabCamError && e.code === 'UNSUPPORTED', String(e));
    assert.match(e.message, /Node 'cond\/(Switch|Merge)' is a control-flow op \((Switch|Merge)\)/);
    assert.match(e.message, /Fix: /);
    return true;
  });
  assert.throws(() => listNodes(g), (e: unknown) => e instanceof TslabCamError && /control-flow/.test(e.message));
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  x.dispose();
  g.dispose();
  base.dispose();
});

test('an op without a tfjs gradient on the path gives a typed error naming the op and the node, and leaks nothing', async () => {
  const base = gapNet();
  const f = layersToGraph(base);
  // An identity StridedSlice (full range, masks set) between conv2's Relu and the Mean.
  const sliced = withExtraNodes(f, (nodes) => {
    const mean = nodes.find((n) => n.op === 'Mean');
    if (!mean || !mean.input) throw new Error('no Mean');
    const relu = mean.input[0];
    mean.input[0] = 'crop/StridedSlice';
    return [...nodes,
      { name: 'crop/StridedSlice', op: 'StridedSlice', input: [relu, 'crop/begin', 'crop/end', 'crop/strides'],
        attr: { T: { type: 'DT_FLOAT' }, Index: { type: 'DT_INT32' }, begin_mask: { i: '15' }, end_mask: { i: '15' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' }, shrink_axis_mask: { i: '0' } } }];
  }, { 'crop/begin': [0, 0, 0, 0], 'crop/end': [0, 0, 0, 0], 'crop/strides': [1, 1, 1, 1] });
  const g = await loadGraphFixture(sliced);
  const x = randomImages(1, 32, 2);
  // The forward pass is unchanged (the slice is the identity) …
  const a = base.predict(x) as tf.Tensor;
  const b = g.execute(x) as tf.Tensor;
  assert.ok(relDiff(b.dataSync(), a.dataSync()) <= 1e-6);
  tf.dispose([a, b]);
  const before = tf.memory().numTensors;
  // … but a gradient through it cannot be taken.
  assert.throws(() => runEngine(g, x, { layer: 'gap_net/conv1/Relu' }), (e: unknown) => {
    assert.ok(e instanceof TslabCamError && e.code === 'UNSUPPORTED', String(e));
    assert.match(e.message, /no gradient for the op StridedSlice, used by node 'crop\/StridedSlice' \(StridedSlice\)/);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked after the gradient error');
  // From the slice's own output on, the gradient is fine.
  const out = runEngine(g, x, { layer: 'crop/StridedSlice' });
  assert.equal(out.layer.name, 'crop/StridedSlice');
  out.dispose();
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  x.dispose();
  g.dispose();
  base.dispose();
});

test('an op tfjs cannot run is named when the graph is planned, not halfway through a pass', async () => {
  const base = gapNet();
  const g = await loadGraphFixture(withExtraNodes(layersToGraph(base), (nodes) => nodes.map((n) => (n.name === 'gap_net/conv1/Relu' ? { ...n, op: 'NoSuchOp' } : n))));
  const x = randomImages(1, 32, 2);
  const before = tf.memory().numTensors;
  assert.throws(() => runEngine(g, x, { layer: 'gap_net/conv2/Relu' }), (e: unknown) =>
    e instanceof TslabCamError && e.code === 'UNSUPPORTED' && /Node 'gap_net\/conv1\/Relu' uses the op NoSuchOp/.test(e.message));
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  x.dispose();
  g.dispose();
  base.dispose();
});

test('the forward-only pass gives the engine\'s f, scores and classes, records no gradient and leaks nothing', async () => {
  const t = await graphTwin(resNet(), { fuseConv: true });
  const x = randomImages(2, t.size, 12);
  const before = tf.memory().numTensors;
  for (const layer of [undefined, nodeOfLayer(t, 'res2_a_relu'), graphInputName(t.graph)]) {
    const a = runEngine(t.graph, x, { layer });
    const b = forwardGraphModel(t.graph, x, { layer });
    assert.equal(b.layer.name, a.layer.name);
    assert.deepEqual(b.classIndices, a.classIndices);
    assert.equal(relDiff(b.f.dataSync(), a.f.dataSync()), 0);
    assert.equal(relDiff(b.scores.dataSync(), a.scores.dataSync()), 0);
    a.dispose();
    b.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'tensors leaked');
  x.dispose();
  dispose(t);
});
