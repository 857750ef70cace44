/**
 * The engine for tf.GraphModel (a frozen TensorFlow graph: what tensorflowjs_converter writes for
 * a SavedModel or TF Hub module, and what `@tensorflow-models/*` load).
 *
 * A graph model has no layers, but its executor can start from any node:
 * `model.execute({[node]: tensor, …}, outputs)` prunes everything upstream of the fed nodes, and
 * the ops it then runs are ordinary tfjs ops, recorded by the gradient tape like any other
 * (measured: on a Conv2D → BiasAdd → Relu → Mean → MatMul graph, ∂S_c/∂relu came out as w_c/Z
 * exactly). So the engine here does what the layers engine does, with node names in place of
 * layer names:
 *  1. outside the tape, run input → target node, and also every value that a later node reads
 *     from before the target (a skip connection around it): the "cut";
 *  2. under the tape, run {target: f, cut…} → scores, and take ∂S_c/∂f.
 * The executor's own Relu/Relu6/FusedBatchNorm/Conv kernels are the ones the layer path uses,
 * so guided backprop, the lean gradients and the activation-only kernel swap apply unchanged.
 *
 * Node shapes are not stored in a converted graph, so they are read once per model and input
 * size from one batch-1 forward pass that returns every node on the path.
 */
import * as tf from '@tensorflow/tfjs';
import { TslabCamError, closestNames } from '../errors';
import type { EngineOptions, EngineOutput } from './engine';
import { chooseClasses, clearTape } from './engine';
import type { ScoreKind } from './graph';
import type { LayerInfo } from './inspect';
import { describeValue, fmtShape } from './inspect';
import { withLeanGradients } from './patches/gradients';
import { withActivationGradientsOnly } from './patches/kernels';

// ---------------------------------------------------------------------------------------------
// typed views of tfjs-converter internals (public fields of unexported classes)

/** One node of the executor's graph (tfjs-converter's operations/types Node). */
interface GNode {
  readonly name: string;
  readonly op: string;
  readonly category?: string;
  readonly inputNames: string[];
  readonly inputs: GNode[];
  readonly children: GNode[];
}

interface GGraph {
  readonly nodes: Record<string, GNode>;
  readonly inputs: GNode[];
  readonly outputs: GNode[];
  readonly weights: GNode[];
}

function graphOf(model: tf.GraphModel): GGraph {
  const executor = (model as unknown as { executor?: { graph?: GGraph } }).executor;
  if (!executor || !executor.graph) {
    throw new TslabCamError('GRAPH_MODEL', 'This tf.GraphModel has not been loaded (it has no graph yet).',
      'Await tf.loadGraphModel(url) (or tslab-cam\'s loadGraphModel) before explaining it.');
  }
  return executor.graph;
}

/** "name:1" → ["name", 1]; "^name" (a control input) → ["name", 0]. */
function parseName(input: string): [string, number] {
  const s = input.startsWith('^') ? input.slice(1) : input;
  const i = s.lastIndexOf(':');
  if (i > 0 && /^\d+$/.test(s.slice(i + 1))) return [s.slice(0, i), Number(s.slice(i + 1))];
  return [s, 0];
}

// ---------------------------------------------------------------------------------------------
// which nodes matter

/**
 * Ops that route tensors by a runtime condition or loop: the graph executor needs executeAsync
 * for them, and their gradients are not recorded by tfjs's tape.
 */
const CONTROL_FLOW = new Set(['Enter', 'Exit', 'Switch', 'Merge', 'LoopCond', 'NextIteration', 'If', 'StatelessIf', 'While',
  'StatelessWhile', 'RefEnter', 'RefExit', 'RefSwitch', 'RefMerge', 'RefNextIteration', '_SwitchN']);
/** Ops whose output shape depends on values: executeAsync only. */
const DYNAMIC = new Set(['NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV4', 'NonMaxSuppressionV5', 'Where', 'ListDiff']);

function isControlFlow(n: GNode): boolean {
  return CONTROL_FLOW.has(n.op) || /^(TensorArray|TensorList)/.test(n.op);
}

/**
 * Ops whose output is a feature map worth explaining (the graph counterpart of inspect.ts's
 * FEATURE_CLASSES): convolutions, the activations and normalisations after them, and merges.
 * Pooling, padding, reshapes and identities are passed over.
 */
const FEATURE_OPS = new Set(['Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative', 'Conv2DBackpropInput',
  'BiasAdd', 'Relu', 'Relu6', 'Elu', 'Selu', 'LeakyRelu', 'Prelu', 'Sigmoid', 'Tanh', 'Swish', 'FusedBatchNorm', 'FusedBatchNormV2',
  'FusedBatchNormV3', 'Add', 'AddV2', 'AddN', 'Sub', 'Mul', 'Maximum', 'Minimum', 'ConcatV2', 'Concat']);

/** Every node `name` depends on (itself included), following data inputs. */
function ancestors(graph: GGraph, names: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...names];
  while (stack.length > 0) {
    const n = graph.nodes[stack.pop() as string];
    if (!n || seen.has(n.name)) continue;
    seen.add(n.name);
    for (const i of n.inputs) stack.push(i.name);
  }
  return seen;
}

/** Every node that depends on `name` (itself included), within `within`. */
function descendants(graph: GGraph, name: string, within: ReadonlySet<string>): Set<string> {
  const seen = new Set<string>();
  const stack = [name];
  while (stack.length > 0) {
    const n = graph.nodes[stack.pop() as string];
    if (!n || seen.has(n.name) || !within.has(n.name)) continue;
    seen.add(n.name);
    for (const c of n.children) stack.push(c.name);
  }
  return seen;
}

/** The nodes of `set` in an order where every node comes after its inputs (graph order breaks ties). */
function topological(graph: GGraph, set: ReadonlySet<string>): GNode[] {
  const order = Object.keys(graph.nodes).filter((n) => set.has(n));
  const rank = new Map(order.map((n, i) => [n, i]));
  const pending = new Map(order.map((n) => [n, graph.nodes[n].inputs.filter((i) => set.has(i.name)).length]));
  const ready = order.filter((n) => pending.get(n) === 0);
  const out: GNode[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
    const n = graph.nodes[ready.shift() as string];
    out.push(n);
    for (const c of n.children) {
      if (!pending.has(c.name)) continue;
      const left = (pending.get(c.name) ?? 0) - c.inputs.filter((i) => i.name === n.name).length;
      pending.set(c.name, left);
      if (left === 0) ready.push(c.name);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// inputs, outputs and scores

function inputNode(model: tf.GraphModel, graph: GGraph): GNode {
  if (graph.inputs.length !== 1) {
    throw new TslabCamError('UNSUPPORTED', `This graph model takes ${graph.inputs.length} inputs (${graph.inputs.map((n) => n.name).join(', ')}); tslab-cam explains models with one image input.`,
      'Wrap the model so that one image tensor goes in, or explain a single-input classifier.');
  }
  return graph.inputs[0];
}

/** The input placeholder's shape, batch first (null for a free dimension), e.g. [null, 224, 224, 3]. */
export function graphInputShape(model: tf.GraphModel): (number | null)[] {
  const info = model.inputs[0];
  return (info?.shape ?? []).map((d) => (d === -1 || d === null || d === undefined ? null : d));
}

/** The name of the input placeholder: the target that gives input gradients (guided backprop). */
export function graphInputName(model: tf.GraphModel): string {
  return inputNode(model, graphOf(model)).name;
}

const SQUASH_OPS: Readonly<Record<string, string>> = { Softmax: 'softmax', Sigmoid: 'sigmoid' };

interface ScoreHead {
  /** The node (output 0) whose value is S: the output, or the input of a final Softmax/Sigmoid. */
  readonly name: string;
  readonly source: string;
}

function scoreHead(model: tf.GraphModel, graph: GGraph, scoreKind: ScoreKind, outputIndex: number): ScoreHead {
  if (!Number.isInteger(outputIndex) || outputIndex < 0 || outputIndex >= graph.outputs.length) {
    throw new TslabCamError('BAD_OPTION', `outputIndex ${outputIndex} is out of range: the graph has ${graph.outputs.length} output(s).`,
      `Use an integer from 0 to ${graph.outputs.length - 1}.`);
  }
  const out = graph.outputs[outputIndex];
  if (scoreKind === 'probabilities') return { name: out.name, source: `the output node '${out.name}'` };
  // The converter ends graphs with Identity nodes; the squashing op sits behind them.
  let n = out;
  while (n.op === 'Identity' && n.inputs.length === 1) n = n.inputs[0];
  const act = SQUASH_OPS[n.op];
  if (act && n.inputs.length >= 1) {
    return { name: n.inputNames[0], source: `the input of the ${act} node '${n.name}'` };
  }
  return { name: out.name, source: `the output node '${out.name}' (no Softmax/Sigmoid to skip)` };
}

/** Where the scores are read, e.g. "the input of the softmax node 'model/predictions/Softmax'". */
export function describeGraphScoreHead(model: tf.GraphModel, outputIndex = 0, scoreKind: ScoreKind = 'logits'): string {
  return scoreHead(model, graphOf(model), scoreKind, outputIndex).source;
}

// ---------------------------------------------------------------------------------------------
// listing nodes

const shapeCache = new WeakMap<tf.GraphModel, Map<string, Map<string, number[]>>>();

/** A concrete batch-1 input shape: the placeholder's, with free spatial sizes from `image` or 224. */
function probeShape(model: tf.GraphModel, image?: readonly number[]): number[] {
  const shape = graphInputShape(model);
  if (shape.length !== 4) {
    throw new TslabCamError('UNSUPPORTED', `The graph model's input has shape ${fmtShape(shape)}, not an image batch (N, height, width, channels).`,
      'Explain an image classifier whose input is (batch, height, width, channels).');
  }
  return shape.map((d, i) => (i === 0 ? 1 : d ?? image?.[i] ?? (i === 3 ? 3 : 224)));
}

/**
 * Output shapes (batch 1) of every node from the input to the default output, from one forward
 * pass; cached per model and input size.
 */
function nodeShapes(model: tf.GraphModel, graph: GGraph, image?: readonly number[]): Map<string, number[]> {
  const input = inputNode(model, graph);
  const shape = probeShape(model, image);
  const key = shape.join('x');
  let byModel = shapeCache.get(model);
  if (!byModel) shapeCache.set(model, (byModel = new Map()));
  const hit = byModel.get(key);
  if (hit) return hit;
  const outputs = graph.outputs.map((o) => o.name);
  const reach = ancestors(graph, outputs);
  const weights = new Set(graph.weights.map((w) => w.name));
  checkRunnable(graph, reach, input.name);
  const names = topological(graph, reach).filter((n) => !weights.has(n.name) && n.name !== input.name && n.op !== 'Const').map((n) => n.name);
  const shapes = new Map<string, number[]>([[input.name, shape]]);
  tf.tidy(() => {
    const x = tf.zeros(shape, model.inputs[0]?.dtype ?? 'float32');
    const values = names.length > 0 ? model.execute({ [input.name]: x }, names) : [];
    const list = Array.isArray(values) ? values : [values];
    names.forEach((n, i) => { if (list[i]) shapes.set(n, list[i].shape); });
    tf.dispose(list);
  });
  byModel.set(key, shapes);
  return shapes;
}

function isSpatial(shape: readonly (number | null)[]): boolean {
  return shape.length === 4 && (shape[1] ?? 2) * (shape[2] ?? 2) > 1;
}

/**
 * Every node on the way from the input to the model's outputs, in topological order, as
 * LayerInfo (name = node name, className = op, params = 0), with the output shape of a batch of
 * one `imageShape`-sized image (default: the input's own size, 224 for a free one). Weights
 * (Const nodes) are left out.
 */
export function listNodes(model: tf.GraphModel, imageShape?: readonly number[]): LayerInfo[] {
  const graph = graphOf(model);
  const shapes = nodeShapes(model, graph, imageShape);
  const reach = ancestors(graph, graph.outputs.map((o) => o.name));
  const weights = new Set(graph.weights.map((w) => w.name));
  return topological(graph, reach).filter((n) => !weights.has(n.name) && n.op !== 'Const').map((n, index) => {
    const s = shapes.get(n.name) ?? [];
    const outputShape = s.map((d, i) => (i === 0 ? null : d));
    return { name: n.name, path: [n.name], className: n.op, outputShape, params: 0, spatial: isSpatial(outputShape), index };
  });
}

/**
 * The default target node: the last node, in topological order on the path to the scores, whose
 * output is a spatial 4-D feature map (conv, depthwise conv, activation, BatchNorm, Add, Concat,
 * …): the last feature map before the pooling / classifier.
 */
export function findTargetNode(model: tf.GraphModel, imageShape?: readonly number[]): LayerInfo {
  const nodes = listNodes(model, imageShape);
  const spatial = nodes.filter((n) => n.spatial && FEATURE_OPS.has(n.className));
  if (spatial.length === 0) {
    throw new TslabCamError('NO_SPATIAL_LAYER',
      `The graph has no node with a 4-D spatial output (batch, h, w, channels) before its outputs; its nodes are ${nodes.slice(0, 30).map((l) => `${l.name} (${l.className}) ${fmtShape(l.outputShape)}`).join(', ')}${nodes.length > 30 ? ', …' : ''}.`,
      'Grad-CAM needs a convolutional feature map: use a CNN, or pass {layer} naming a node with a 4-D output.');
  }
  return spatial[spatial.length - 1];
}

/**
 * Finds a node by name (its full name, or a unique last path segment such as "Relu" within
 * "model/conv2/Relu") or by index in listNodes order. Unknown names get the closest valid ones.
 */
export function resolveNode(model: tf.GraphModel, layer?: string | number, imageShape?: readonly number[]): LayerInfo {
  if (layer === undefined || layer === null) return findTargetNode(model, imageShape);
  const nodes = listNodes(model, imageShape);
  let found: LayerInfo | undefined;
  if (typeof layer === 'number') {
    if (!Number.isInteger(layer) || layer < -nodes.length || layer >= nodes.length) {
      throw new TslabCamError('UNKNOWN_LAYER', `Node index ${layer} is out of range: the graph has ${nodes.length} nodes on the path to its outputs.`,
        `Use an integer from 0 to ${nodes.length - 1} (negative counts from the end), or a node name.`);
    }
    found = nodes[layer < 0 ? nodes.length + layer : layer];
  } else if (typeof layer === 'string') {
    const [name] = parseName(layer);
    found = nodes.find((n) => n.name === name);
    if (!found) {
      const bySuffix = nodes.filter((n) => n.name.endsWith(`/${name}`));
      if (bySuffix.length === 1) found = bySuffix[0];
      else if (bySuffix.length > 1) {
        throw new TslabCamError('UNKNOWN_LAYER', `Node name '${layer}' is ambiguous: ${bySuffix.slice(0, 8).map((n) => n.name).join(', ')}${bySuffix.length > 8 ? ', …' : ''}.`,
          'Use the full node name (listNodes(model) shows them all with shapes).');
      }
    }
    if (!found) {
      const spatial = nodes.filter((n) => n.spatial).map((n) => n.name);
      const near = closestNames(name, [...new Set([...spatial, ...nodes.map((n) => n.name)])]);
      throw new TslabCamError('UNKNOWN_LAYER', `The graph has no node named '${layer}' on the path to its outputs. Closest names: ${near.join(', ')}.`,
        'Pass one of those names (listNodes(model) shows them all with shapes), or omit layer to use the last convolutional feature map.');
    }
  } else {
    throw new TslabCamError('BAD_OPTION', `layer must be a node name or an index, got ${describeValue(layer)}.`, 'Pass a string such as "model/conv2/Relu" or an integer index.');
  }
  if (found.outputShape.length !== 4) {
    let suggestion = '';
    try {
      suggestion = ` The last spatial node is '${findTargetNode(model, imageShape).name}'.`;
    } catch {
      /* no spatial node: no suggestion */
    }
    throw new TslabCamError('NO_SPATIAL_LAYER',
      `Node '${found.name}' (${found.className}) outputs ${fmtShape(found.outputShape)}, not a 4-D feature map (batch, h, w, channels).${suggestion}`,
      'Choose a convolution, or an activation / BatchNorm / Add after one, or omit layer to pick the last one automatically.');
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// checks before running

/** Refuses graphs the synchronous executor cannot run on the way to the scores. */
function checkRunnable(graph: GGraph, nodes: ReadonlySet<string>, inputName: string): void {
  for (const name of nodes) {
    const n = graph.nodes[name];
    if (!n) continue;
    if (isControlFlow(n)) {
      throw new TslabCamError('UNSUPPORTED',
        `Node '${n.name}' is a control-flow op (${n.op}) on the path from '${inputName}' to the scores: tfjs runs such graphs only asynchronously and records no gradient through them.`,
        'Export the classifier without loops or conditionals (e.g. a Keras model converted with --input_format keras or keras_saved_model, or the SavedModel of the classifier alone).');
    }
    if (n.category === undefined) {
      // tfjs maps ops lazily: one it has no executor for only fails when it runs.
      throw new TslabCamError('UNSUPPORTED', `Node '${n.name}' uses the op ${n.op}, which TensorFlow.js ${tf.version.tfjs} cannot run.`,
        'Re-convert the model with tensorflowjs_converter of the same version as tslab-cam\'s TensorFlow.js, register the op with tf.registerOp, or export the model without it.');
    }
    if (DYNAMIC.has(n.op)) {
      throw new TslabCamError('UNSUPPORTED', `Node '${n.name}' (${n.op}) has an output whose shape depends on the data, so the graph needs asynchronous execution.`,
        'Explain the classifier part of the model: export it without post-processing ops such as non-max suppression.');
    }
  }
}

/** The graph op whose kernel is `kernel`, for naming the node behind a tfjs gradient error. */
function opMatchesKernel(op: string, kernel: string): boolean {
  const norm = (s: string): string => s.replace(/^_/, '').replace(/(V\d|Native)$/g, '').replace(/^Fused/, '').toLowerCase();
  return op === kernel || norm(op) === norm(kernel) || norm(op).startsWith(norm(kernel)) || norm(kernel).startsWith(norm(op));
}

/** Turns tfjs's "gradient function not found for X" into an error naming the node. */
function gradientError(e: unknown, graph: GGraph, path: readonly GNode[]): unknown {
  const msg = e instanceof Error ? e.message : '';
  const m = /gradient function not found for (\w+)/.exec(msg);
  if (!m) return e;
  const kernel = m[1];
  const nodes = path.filter((n) => opMatchesKernel(n.op, kernel));
  const where = nodes.length > 0 ? `node${nodes.length > 1 ? 's' : ''} ${nodes.slice(0, 5).map((n) => `'${n.name}' (${n.op})`).join(', ')}` : 'a node on the gradient path';
  return new TslabCamError('UNSUPPORTED',
    `TensorFlow.js has no gradient for the op ${kernel}, used by ${where} between the target node and the scores.`,
    'Choose a target node after that op (listNodes(model) lists them in order), or, for guided backprop and input gradients, a model without it.', { cause: e });
}

// ---------------------------------------------------------------------------------------------
// the engine

/** Everything one explanation of a graph model needs to know about the graph, computed once. */
export interface GraphPlan {
  readonly input: string;
  readonly target: LayerInfo;
  readonly score: ScoreHead;
  /** Values computed before the target that nodes after it read (a skip connection around it). */
  readonly cut: readonly string[];
  /** The nodes the gradient flows through, target to scores, in order. */
  readonly path: readonly GNode[];
}

/** Resolves the target and score nodes and the cut for `images` (shape N, H, W, C). */
export function planGraph(model: tf.GraphModel, imageShape: readonly number[], options: EngineOptions = {}): GraphPlan {
  const graph = graphOf(model);
  const input = inputNode(model, graph).name;
  const scoreKind: ScoreKind = options.scores ?? 'logits';
  if (scoreKind !== 'logits' && scoreKind !== 'probabilities') {
    throw new TslabCamError('BAD_OPTION', `scores must be 'logits' or 'probabilities', got ${String(scoreKind)}.`, "Use scores: 'logits' (the article's S_c) or 'probabilities'.");
  }
  const score = scoreHead(model, graph, scoreKind, options.outputIndex ?? 0);
  const target = typeof options.layer === 'object' && options.layer !== null ? options.layer : resolveNode(model, options.layer, imageShape);
  const upstream = ancestors(graph, [parseName(score.name)[0]]);
  checkRunnable(graph, upstream, input);
  if (!upstream.has(target.name)) {
    throw new TslabCamError('UNKNOWN_LAYER', `Node '${target.name}' is not on the path from the input to the scores (${score.source}).`,
      'Choose a node that the prediction depends on.');
  }
  const after = descendants(graph, target.name, upstream);
  const cut = new Set<string>();
  for (const name of after) {
    if (name === target.name) continue;
    for (const i of graph.nodes[name].inputNames) {
      const [src, index] = parseName(i);
      if (after.has(src) || graph.weights.some((w) => w.name === src)) continue;
      if (index !== 0) {
        throw new TslabCamError('UNSUPPORTED', `Node '${name}' reads output ${index} of '${src}', which is computed before the target '${target.name}'.`,
          'Choose a target node before that op, or after the point where the branches join.');
      }
      cut.add(src);
    }
  }
  cut.delete(input);
  return { input, target, score, cut: [...cut], path: topological(graph, after) };
}

function asList(t: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(t) ? t : [t];
}

/**
 * The scores (N, classes) when the target node's value is `f` (same shape as the target's
 * output): the part of the graph after the target, fed with `f` and with the cut values `known`.
 * Runs inside the caller's tidy / gradient scope; for finite-difference checks.
 */
export function graphScoresFrom(model: tf.GraphModel, plan: GraphPlan, images: tf.Tensor4D, f: tf.Tensor, known: tf.NamedTensorMap = {}): tf.Tensor {
  const feeds: tf.NamedTensorMap = { [plan.input]: images, ...known };
  feeds[plan.target.name] = f;
  return asList(model.execute(feeds, [plan.score.name]))[0];
}

/** Runs input → target (and the cut) without recording gradients; target first. */
function runToTarget(model: tf.GraphModel, plan: GraphPlan, images: tf.Tensor4D): { f: tf.Tensor; known: tf.NamedTensorMap } {
  if (plan.target.name === plan.input) {
    const known: tf.NamedTensorMap = {};
    return { f: images, known };
  }
  const names = [plan.target.name, ...plan.cut];
  const values = asList(model.execute({ [plan.input]: images }, names));
  const known: tf.NamedTensorMap = {};
  plan.cut.forEach((n, i) => { known[n] = values[i + 1]; });
  return { f: values[0], known };
}

/**
 * runEngine for a tf.GraphModel: f = the target node's output (N, h, w, K), grads = ∂S_c/∂f
 * for each image's class c, scores S (before a final Softmax/Sigmoid when scoreKind is 'logits').
 * Same contract as runEngine (engine.ts): one forward and one backward pass, weight gradients
 * never computed, nothing left behind on errors. `options.layer` names a node.
 */
export function runGraphModelEngine(model: tf.GraphModel, images: tf.Tensor4D, options: EngineOptions = {}): EngineOutput {
  const plan = planGraph(model, images.shape, options);
  const scoreKind: ScoreKind = options.scores ?? 'logits';
  const early = runToTarget(model, plan, images);
  const releaseEarly = (keep: tf.Tensor | null): void => {
    for (const t of [early.f, ...Object.values(early.known)]) if (t !== images && t !== keep && !t.isDisposed) t.dispose();
  };
  let scores: tf.Tensor2D | null = null;
  let classIndices: number[] = [];
  try {
    if (early.f.rank !== 4) {
      throw new TslabCamError('NO_SPATIAL_LAYER', `Node '${plan.target.name}' gave a tensor of shape [${early.f.shape}], not (N, h, w, K).`,
        'Choose a node with a 4-D output.');
    }
    const { value, grads } = withActivationGradientsOnly(() => withLeanGradients(() => {
      try {
        // tfjs creates y outside any scope: the tidy disposes it when the backward pass throws.
        return tf.tidy(() => tf.engine().gradients(() => {
          const s = graphScoresFrom(model, plan, images, early.f, early.known);
          if (s.rank !== 2) {
            throw new TslabCamError('UNSUPPORTED', `The graph's scores (${plan.score.source}) have shape [${s.shape}], expected (N, classes).`,
              'Explain a classifier whose output is (batch, classes), or pick the output with outputIndex.');
          }
          scores = tf.keep(s as tf.Tensor2D);
          classIndices = chooseClasses(options.classIndex, s as tf.Tensor2D);
          const mask = tf.oneHot(tf.tensor1d(classIndices, 'int32'), s.shape[1] as number);
          return tf.sum(tf.mul(s, mask)) as tf.Scalar;
        }, [early.f]));
      } catch (e) {
        throw gradientError(e, graphOf(model), plan.path);
      }
    }));
    value.dispose();
    const g = grads[0] as tf.Tensor4D;
    const f = (early.f === images ? images.clone() : early.f) as tf.Tensor4D;
    releaseEarly(f);
    const s = scores as unknown as tf.Tensor2D;
    return {
      f, grads: g, scores: s, classIndices, layer: plan.target, scoreKind, scoreSource: plan.score.source,
      dispose: () => tf.dispose([f, g, s]),
    };
  } catch (e) {
    if (scores) (scores as tf.Tensor).dispose();
    releaseEarly(null);
    clearTape();
    throw e;
  }
}

/** What a forward pass alone gives: f at the target node and the scores, no gradient. */
export interface GraphForward {
  /** f_k(x,y) at the target node: (N, h, w, K). */
  readonly f: tf.Tensor4D;
  /** S: (N, classes), before a final Softmax/Sigmoid when scoreKind is 'logits'. */
  readonly scores: tf.Tensor2D;
  readonly classIndices: number[];
  readonly layer: LayerInfo;
  readonly scoreKind: ScoreKind;
  readonly scoreSource: string;
  dispose(): void;
}

/**
 * The forward half of runGraphModelEngine, for methods that need no gradient (CAM-style maps,
 * perturbation methods): f at the target node and the scores, with the same node and class
 * choice; no tape is recorded. The caller disposes the result.
 */
export function forwardGraphModel(model: tf.GraphModel, images: tf.Tensor4D, options: EngineOptions = {}): GraphForward {
  const plan = planGraph(model, images.shape, options);
  const early = runToTarget(model, plan, images);
  const others = Object.values(early.known);
  try {
    if (early.f.rank !== 4) {
      throw new TslabCamError('NO_SPATIAL_LAYER', `Node '${plan.target.name}' gave a tensor of shape [${early.f.shape}], not (N, h, w, K).`,
        'Choose a node with a 4-D output.');
    }
    const scores = graphScoresFrom(model, plan, images, early.f, early.known) as tf.Tensor2D;
    let classIndices: number[];
    try {
      if (scores.rank !== 2) {
        throw new TslabCamError('UNSUPPORTED', `The graph's scores (${plan.score.source}) have shape [${scores.shape}], expected (N, classes).`,
          'Explain a classifier whose output is (batch, classes), or pick the output with outputIndex.');
      }
      // chooseClasses leaves its argMax to the enclosing scope (the engine's tape has one).
      classIndices = tf.tidy(() => chooseClasses(options.classIndex, scores));
    } catch (e) {
      scores.dispose();
      throw e;
    }
    const f = (early.f === images ? images.clone() : early.f) as tf.Tensor4D;
    return {
      f, scores, classIndices, layer: plan.target, scoreKind: options.scores ?? 'logits', scoreSource: plan.score.source,
      dispose: () => tf.dispose([f, scores]),
    };
  } catch (e) {
    if (early.f !== images) early.f.dispose();
    throw e;
  } finally {
    tf.dispose(others);
  }
}
