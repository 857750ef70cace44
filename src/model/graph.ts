import * as tf from '@tensorflow/tfjs';
import { TslabCamError } from '../errors';
import { foldableInput, foldedConvBatchNorm } from './patches/fold';
import { GraphNode, Layer, SymbolicTensor, activationName, inboundNodes, isContainer, layerConfig, nodeOf } from './layers';

/** Which number is explained: the article's S_c before softmax/sigmoid, or the probability. */
export type ScoreKind = 'logits' | 'probabilities';

export interface GraphRunOptions {
  /** Path (outer → inner names) of the layer whose output to capture; [] captures nothing. */
  readonly capture: readonly string[];
  readonly scoreKind: ScoreKind;
  /** Which model output holds the class scores (default 0). */
  readonly outputIndex?: number;
  /**
   * Use this tensor in place of the captured layer's output downstream (same shape): lets
   * finite-difference checks perturb f and read S_c(f + δ).
   */
  readonly override?: tf.Tensor;
  /**
   * Values already computed for this model's symbolic tensors (by id), e.g. by runUntil outside
   * a gradient tape: they are used as they are and their subgraph is not run again.
   */
  readonly known?: ReadonlyMap<number, tf.Tensor>;
  /**
   * Sees every layer's output as it is computed (nested models' layers included), e.g. to take
   * gradients at many layers in one pass (FullGrad). conv → BatchNorm pairs are not folded then,
   * so every layer's own output exists.
   */
  readonly tap?: Tap;
}

/** An observer of layer outputs (see GraphRunOptions.tap). */
export type Tap = (layer: Layer, output: tf.Tensor) => void;

export interface GraphRun {
  /** (N, classes) */
  readonly scores: tf.Tensor;
  /** The captured layer output, or null when nothing was asked. */
  readonly captured: tf.Tensor | null;
}

const SQUASHING = new Set(['softmax', 'sigmoid']);

/**
 * How scores are read from a model: which squashing activation (if any) ends it and so is
 * skipped for 'logits'. A description for results and error messages.
 */
export function describeScoreHead(model: tf.LayersModel, outputIndex = 0): string {
  let sym = model.outputs[outputIndex];
  let layer = sym.sourceLayer;
  while (isContainer(layer)) {
    sym = layer.outputs[sym.tensorIndex];
    layer = sym.sourceLayer;
  }
  const act = activationName(layer);
  return SQUASHING.has(act) ? `the input of the ${act} in layer '${layer.name}'` : `the output of layer '${layer.name}' (no softmax/sigmoid to skip)`;
}

function asList(t: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(t) ? t : [t];
}

/** Dense's affine part, y = x·W + b, from the layer's own variables (no copy, no new layer). */
function denseLinear(layer: Layer, x: tf.Tensor): tf.Tensor {
  const weights = layer.weights;
  const kernel = weights.find((w) => /kernel/.test(w.originalName ?? w.name)) ?? weights[0];
  const bias = weights.find((w) => /bias/.test(w.originalName ?? w.name));
  const k = kernel.read() as tf.Tensor2D;
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : x.reshape([-1, x.shape[x.shape.length - 1]]) as tf.Tensor2D;
  let y: tf.Tensor = tf.matMul(flat, k);
  if (bias) y = tf.add(y, bias.read());
  return x.rank === 2 ? y : y.reshape([...x.shape.slice(0, -1), k.shape[1]]);
}

/**
 * Runs a functional (or sequential, or nested) LayersModel on concrete tensors, node by node, in
 * inference mode, so that any inner activation can be captured and the final softmax/sigmoid can
 * be skipped without changing the user's model. Must run inside a tidy/gradient scope: the
 * intermediate tensors it creates are left to that scope.
 */
export function runGraph(model: tf.LayersModel, input: tf.Tensor | tf.Tensor[], opts: GraphRunOptions): GraphRun {
  const outputIndex = opts.outputIndex ?? 0;
  if (!Number.isInteger(outputIndex) || outputIndex < 0 || outputIndex >= model.outputs.length) {
    throw new TslabCamError('BAD_OPTION', `outputIndex ${outputIndex} is out of range: the model has ${model.outputs.length} output(s).`,
      `Use an integer from 0 to ${model.outputs.length - 1}.`);
  }
  const r = runContainer(model, asList(input), opts.capture, opts.scoreKind === 'logits', outputIndex, opts.override ?? null, opts.known, opts.tap ?? null);
  return { scores: r.output, captured: r.captured };
}

interface Activation { apply(x: tf.Tensor): tf.Tensor }

/**
 * Dense as matMul + bias + its activation. tfjs's own Dense runs one fused matMul, whose custom
 * gradient computes the kernel's and the bias's gradients on every backward pass, wanted or not:
 * 6 ms of a 1280→1000 classifier's 9 ms backward on wasm. Unfused, the tape skips them.
 */
function denseLayer(layer: Layer, x: tf.Tensor, activation: Activation | null): tf.Tensor {
  const y = denseLinear(layer, x);
  return activation ? activation.apply(y) : y;
}

/** How applyLayer runs a layer: as Dense (with its activation, null when linear), as Relu6, or by layer.apply. */
type Route = { readonly kind: 'dense'; readonly activation: Activation | null } | { readonly kind: 'relu6' } | null;

const routes = new WeakMap<Layer, Route>();

/** The layer's route, read from its config once (configs are static; getConfig builds a new object per call). */
function routeOf(layer: Layer): Route {
  if (routes.has(layer)) return routes.get(layer) ?? null;
  const cls = layer.getClassName();
  let route: Route = null;
  if (cls === 'Dense') {
    const activation = (layer as unknown as { activation?: Activation }).activation;
    route = { kind: 'dense', activation: activation && activationName(layer) !== 'linear' ? activation : null };
  } else if (cls === 'ReLU' && layerConfig(layer).maxValue === 6) {
    route = { kind: 'relu6' };
  }
  routes.set(layer, route);
  return route;
}

/**
 * One (non-container) layer on concrete inputs, with the node's call arguments, in inference
 * mode. Two layers run as other ops with the same values: Dense (see denseLayer), and Keras's
 * ReLU(max_value=6), which tfjs runs as relu then clipByValue, as the single Relu6 op: half the
 * ops forward, and one gradient (lean: 5 ops, see patches/gradients.ts) instead of 10.
 */
function applyLayer(layer: Layer, node: GraphNode, ins: tf.Tensor[]): tf.Tensor[] {
  const route = ins.length === 1 ? routeOf(layer) : null;
  if (route?.kind === 'dense') return [denseLayer(layer, ins[0], route.activation)];
  if (route?.kind === 'relu6') return [tf.relu6(ins[0])];
  return asList(layer.apply(ins.length === 1 ? ins[0] : ins, { ...(node.callArgs ?? {}), training: false }) as tf.Tensor | tf.Tensor[]);
}

/**
 * Runs only what the top-level layer `name` depends on and returns every value computed on the
 * way (by symbolic tensor id), its output included: the `known` of a later runGraph. Null when the layer is not a top-level one
 * with a single output (a layer inside a nested sub-model, a shared layer): callers then run the
 * whole graph instead.
 */
export function runUntil(model: tf.LayersModel, input: tf.Tensor | tf.Tensor[], name: string): Map<number, tf.Tensor> | null {
  const layer = model.layers.find((l) => l.name === name);
  if (!layer || isContainer(layer) || inboundNodes(layer).length !== 1 || inboundNodes(layer)[0].outputTensors.length !== 1) return null;
  const inputs = asList(input);
  if (inputs.length !== model.inputs.length) return null;
  const known = new Map<number, tf.Tensor>();
  model.inputs.forEach((s, i) => known.set(s.id, inputs[i]));
  evaluate(inboundNodes(layer)[0].outputTensors[0], known, null, applyLayer);
  return known;
}

/**
 * The value of `sym`, computing what it needs first and recording every output in `memo`. A
 * conv → BatchNorm pair whose conv output is not yet known runs as one folded conv (fold.ts),
 * unless the conv is `target`.
 */
function evaluate(sym: SymbolicTensor, memo: Map<number, tf.Tensor>, target: string | null,
  run: (layer: Layer, node: GraphNode, ins: tf.Tensor[]) => tf.Tensor[], hooks: EvaluateHooks = {}): tf.Tensor {
  const hit = memo.get(sym.id);
  if (hit) {
    hooks.hit?.(sym, hit);
    return hit;
  }
  const layer = sym.sourceLayer;
  const node = nodeOf(sym);
  const fold = hooks.noFold ? null : foldableInput(layer, node, target);
  const next = (t: SymbolicTensor): tf.Tensor => evaluate(t, memo, target, run, hooks);
  const outs = fold && !memo.has(node.inputTensors[0].id)
    ? [foldedConvBatchNorm(fold.conv, layer, next(fold.input) as tf.Tensor4D)]
    : run(layer, node, node.inputTensors.map(next));
  hooks.after?.(layer, outs);
  node.outputTensors.forEach((s, i) => memo.set(s.id, outs[i]));
  return outs[sym.tensorIndex];
}

interface EvaluateHooks {
  /** Called when a value is already in the memo. */
  readonly hit?: (sym: SymbolicTensor, value: tf.Tensor) => void;
  /** Called with a layer's fresh outputs before they are recorded; may replace them. */
  readonly after?: (layer: Layer, outs: tf.Tensor[]) => void;
  /** Run conv → BatchNorm pairs as two layers (a tap must see the conv's output). */
  readonly noFold?: boolean;
}

interface ContainerRun {
  output: tf.Tensor;
  captured: tf.Tensor | null;
}

function runContainer(model: tf.LayersModel, inputs: tf.Tensor[], capture: readonly string[], skipSquash: boolean, outputIndex: number,
  override: tf.Tensor | null, known?: ReadonlyMap<number, tf.Tensor>, tap: Tap | null = null): ContainerRun {
  if (inputs.length !== model.inputs.length) {
    throw new TslabCamError('BAD_IMAGE', `Model '${model.name}' takes ${model.inputs.length} inputs, got ${inputs.length}.`,
      'Pass one image batch per model input.');
  }
  const memo = new Map<number, tf.Tensor>(known ?? []);
  model.inputs.forEach((s, i) => memo.set(s.id, inputs[i]));
  let captured: tf.Tensor | null = null;
  const target = capture.length > 0 ? capture[0] : null;
  model.inputs.forEach((s, i) => {
    if (s.sourceLayer.name === target && capture.length === 1) {
      if (override) memo.set(s.id, override);
      captured = override ?? inputs[i];
    }
  });

  const runNode = (layer: Layer, node: GraphNode, ins: tf.Tensor[], squash: boolean): tf.Tensor[] => {
    if (isContainer(layer)) {
      const inner = layer.name === target && capture.length > 1 ? capture.slice(1) : [];
      const sub = runContainer(layer, ins, inner, squash, 0, inner.length > 0 ? override : null, undefined, tap);
      if (sub.captured) captured = sub.captured;
      return [sub.output];
    }
    return applyLayer(layer, node, ins);
  };

  const isTarget = (layer: Layer): boolean => layer.name === target && capture.length === 1 && captured === null;
  const value = (sym: SymbolicTensor): tf.Tensor => evaluate(sym, memo, target, (layer, node, ins) => runNode(layer, node, ins, false), {
    // The target's output may come in `known` (computed before the tape): it is the capture.
    hit: (s, t) => { if (isTarget(s.sourceLayer)) captured = t; },
    noFold: tap !== null,
    after: (layer, outs) => {
      if (tap && !isContainer(layer)) tap(layer, outs[0]);
      if (!isTarget(layer)) return;
      if (override) outs[0] = override;
      captured = outs[0];
    },
  });

  const outSym = model.outputs[outputIndex];
  let output: tf.Tensor;
  const last = outSym.sourceLayer;
  const act = activationName(last);
  if (skipSquash && isContainer(last)) {
    const node = nodeOf(outSym);
    const ins = node.inputTensors.map(value);
    output = runNode(last, node, ins, true)[0];
    if (last.name === target && capture.length === 1) captured = output;
  } else if (skipSquash && SQUASHING.has(act)) {
    const node = nodeOf(outSym);
    const cls = last.getClassName();
    const x = value(node.inputTensors[0]);
    if (cls === 'Activation' || cls === 'Softmax') output = x;
    else if (cls === 'Dense') output = denseLinear(last, x);
    else {
      throw new TslabCamError('UNSUPPORTED',
        `The last layer '${last.name}' (${cls}) applies ${act} inside itself, and only Dense or a separate activation layer can be undone here.`,
        "Pass {scores: 'probabilities'} to explain the probabilities, or end the model with a separate Activation layer.");
    }
    if (last.name === target && capture.length === 1) captured = output;
  } else {
    output = value(outSym);
  }
  return { output, captured };
}
