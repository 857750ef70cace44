import * as tf from '@tensorflow/tfjs';
import { conv2dInputGradientWith, depthwiseInputGradientWith, flippedDepthwiseFilter, pairOf, transposedFilter, type PhaseCache, type PhaseFilters } from './kernels';
import { GraphNode, Layer, SymbolicTensor, activationName, inboundNodes, layerConfig } from '../layers';

/**
 * Conv → BatchNorm pairs run as one convolution with folded weights while we explain. In
 * inference mode BatchNorm is a per-channel affine map, y = (z − μ)·s + β with s = γ/√(σ²+ε), and
 * z = conv(x, W) + b is linear in W and b, so y = conv(x, W·s) + (b − μ)·s + β exactly (up to
 * float rounding). On wasm tfjs runs each BatchNorm as its own pass over the activation (52 of
 * them were ~28 ms of a MobileNetV2 forward at 224); the folded conv adds its bias in the conv
 * kernel. The fold is skipped whenever the conv's own output is needed (it is the captured or
 * overridden layer).
 *
 * The folded weights are cached (see the cache section below): on wasm, XNNPACK packs a convolution's
 * weights the first time it sees a filter tensor and keeps the packed copy until that tensor is
 * disposed, so a filter that is a new tensor on every call is re-packed on every call. Measured
 * here (bench probe, wasm, batch 1): a 3×3 512→512 conv on 7×7 took 10.9 ms with the same filter
 * tensor and 31.7 ms with a fresh one; 1×1 2048→512: 6.7 vs 27.5 ms.
 *
 * Under a gradient tape on wasm the folded conv carries its own input gradient (foldedConv), so
 * its backward pass also runs on kept filters; it gives no gradient w.r.t. the layers' weights
 * (nothing that folds wants one: the engine and the explain methods differentiate activations).
 */

interface ConvSpec {
  readonly depthwise: boolean;
  readonly strides: [number, number];
  readonly dilations: [number, number];
  readonly pad: 'same' | 'valid';
}

interface BnSpec {
  readonly epsilon: number;
}

const convSpecs = new WeakMap<Layer, ConvSpec | null>();
const bnSpecs = new WeakMap<Layer, BnSpec | null>();

/** What a foldable conv needs (read once per layer: configs are static), or null when it is not one. */
function convSpec(layer: Layer): ConvSpec | null {
  if (convSpecs.has(layer)) return convSpecs.get(layer) ?? null;
  const cls = layer.getClassName();
  const c = layerConfig(layer);
  let spec: ConvSpec | null = null;
  if ((cls === 'Conv2D' || cls === 'DepthwiseConv2D') && activationName(layer) === 'linear'
    && (c.dataFormat ?? 'channelsLast') === 'channelsLast' && (c.padding === 'same' || c.padding === 'valid')
    && inboundNodes(layer).length === 1) {
    spec = { depthwise: cls === 'DepthwiseConv2D', strides: pairOf(c.strides as number | number[] | undefined, 1), dilations: pairOf(c.dilationRate as number | number[] | undefined, 1), pad: c.padding };
  }
  convSpecs.set(layer, spec);
  return spec;
}

function bnSpec(layer: Layer): BnSpec | null {
  if (bnSpecs.has(layer)) return bnSpecs.get(layer) ?? null;
  const c = layerConfig(layer);
  const axis = c.axis;
  const spec = layer.getClassName() === 'BatchNormalization' && (axis === -1 || axis === 3 || (Array.isArray(axis) && axis.length === 1 && (axis[0] === -1 || axis[0] === 3)))
    && typeof c.epsilon === 'number'
    ? { epsilon: c.epsilon } : null;
  bnSpecs.set(layer, spec);
  return spec;
}

function weightNamed(layer: Layer, name: string): tf.Tensor | null {
  const w = layer.weights.find((v) => (v.originalName ?? v.name).split('/').pop() === name);
  return w ? w.read() : null;
}

/** The conv node feeding a BatchNorm node, when the pair can be folded (see the module comment). */
export function foldableInput(bn: Layer, node: GraphNode, target: string | null): { conv: Layer; input: SymbolicTensor } | null {
  if (!bnSpec(bn) || node.inputTensors.length !== 1) return null;
  const convOut = node.inputTensors[0];
  const conv = convOut.sourceLayer;
  if (conv.name === target || !convSpec(conv)) return null;
  const convNode = inboundNodes(conv)[convOut.nodeIndex];
  if (convNode.inputTensors.length !== 1) return null;
  return { conv, input: convNode.inputTensors[0] };
}

/** The variables a fold reads, in a fixed order; absent ones (no bias, no γ/β) are null. */
interface FoldSources {
  readonly kernel: tf.Tensor4D;
  readonly bias: tf.Tensor | null;
  readonly mean: tf.Tensor;
  readonly variance: tf.Tensor;
  readonly gamma: tf.Tensor | null;
  readonly beta: tf.Tensor | null;
}

function foldSources(conv: Layer, bn: Layer, depthwise: boolean): FoldSources {
  const kernel = weightNamed(conv, depthwise ? 'depthwise_kernel' : 'kernel');
  if (!kernel) throw new Error(`foldedConvBatchNorm: ${conv.name} has no kernel`);
  const mean = weightNamed(bn, 'moving_mean');
  const variance = weightNamed(bn, 'moving_variance');
  if (!mean || !variance) throw new Error(`foldedConvBatchNorm: ${bn.name} has no moving statistics`);
  return {
    kernel: kernel as tf.Tensor4D, bias: weightNamed(conv, 'bias'), mean, variance,
    gamma: weightNamed(bn, 'gamma'), beta: weightNamed(bn, 'beta'),
  };
}

/**
 * W' = W·s and b' = (b − μ)·s + β with s = γ/√(σ²+ε) (γ = 1, β = 0 when absent). For depthwise
 * convs (multiplier M) output channel c·M+m takes s[c·M+m]. Both results are fresh buffers (outputs
 * of arithmetic kernels), never views of a variable.
 */
function foldWeights(src: FoldSources, epsilon: number, depthwise: boolean): { filter: tf.Tensor4D; shift: tf.Tensor1D } {
  return tf.tidy(() => {
    let s = tf.rsqrt(tf.add(src.variance, epsilon));
    if (src.gamma) s = tf.mul(s, src.gamma);
    let shift = tf.mul(src.bias ? tf.sub(src.bias, src.mean) : tf.neg(src.mean), s);
    if (src.beta) shift = tf.add(shift, src.beta);
    const [, , cin, m] = src.kernel.shape;
    const filter = depthwise ? tf.mul(src.kernel, tf.reshape(s, [1, 1, cin, m])) : tf.mul(src.kernel, s);
    return { filter: filter as tf.Tensor4D, shift: shift as tf.Tensor1D };
  });
}

// ---------------------------------------------------------------------------------------------
// The cache of folded weights

/**
 * One cached fold: the folded tensors and what they were computed from. `ids` are the source
 * variables' dataIds at fold time: tfjs gives a variable a new dataId on every assign (training
 * steps, setWeights, loadWeights all assign), and tensor data never changes in place, so equal
 * dataIds mean equal values. It holds no layer, so a model that is dropped can be collected.
 */
interface Slot {
  readonly filter: tf.Tensor4D;
  readonly shift: tf.Tensor1D;
  /** The filter of the input gradient's forward conv (kernels.ts), made on the first backward pass. */
  backward: tf.Tensor4D | null;
  /** A strided conv's input-gradient sub-filters by output phase (kernels.ts), per padding offset. */
  readonly phases: Map<string, PhaseFilters>;
  readonly sources: readonly tf.Tensor[];
  readonly ids: readonly object[];
  bytes: number;
  released: boolean;
}

interface Entry {
  readonly conv: Layer;
  readonly slot: Slot;
}

interface EngineState {
  numTensors: number;
  numDataBuffers: number;
  numBytes: number;
}

function engineState(): EngineState {
  return (tf.engine() as unknown as { state: EngineState }).state;
}

/**
 * Cached tensors are kept out of tf.memory()'s counts, deliberately: they belong to the model
 * like its weights, are created on a model's first explanation, and callers (and this project's
 * tests) check for leaks by comparing tf.memory().numTensors before and after a call. The counts
 * come back just before a slot is disposed, so tfjs's bookkeeping stays exact. foldCacheStats()
 * reports what the cache holds. Each tensor owns its buffer (see foldWeights), so one buffer per tensor.
 */
function setCounted(t: tf.Tensor, counted: boolean): void {
  const st = engineState();
  const sign = counted ? 1 : -1;
  st.numTensors += sign;
  st.numDataBuffers += sign;
  st.numBytes += sign * t.size * 4;
}

/** Total bytes the cache may hold; the least recently used slots go first beyond it. */
export const FOLD_CACHE_MAX_BYTES = 512 * 2 ** 20;

/**
 * Owner of every folded tensor: this module. A slot lives until (a) a later lookup for the same
 * BatchNorm finds a source variable assigned or disposed, (b) any cache miss sweeps all slots
 * and finds one of theirs assigned or disposed (so model.dispose() frees a model's slots at the
 * next miss of any model), (c) the BatchNorm layer is garbage-collected (FinalizationRegistry),
 * (d) the byte limit evicts it, or (e) releaseFoldCache() is called.
 */
const entries = new WeakMap<Layer, Entry>();
/** Every live slot, least recently used first (a Map keeps insertion order). */
const live = new Map<Slot, true>();
const finalizer = new FinalizationRegistry<Slot>((slot) => release(slot));
let hits = 0;
let misses = 0;

function release(slot: Slot): void {
  if (slot.released) return;
  slot.released = true;
  live.delete(slot);
  finalizer.unregister(slot);
  const phaseTensors = [...slot.phases.values()].flatMap((p) => p.flat());
  slot.phases.clear();
  for (const t of [slot.filter, slot.shift, slot.backward, ...phaseTensors]) {
    if (!t || t.isDisposed) continue;
    setCounted(t, true);
    t.dispose();
  }
}

function sourceList(src: FoldSources): tf.Tensor[] {
  return [src.kernel, src.bias, src.mean, src.variance, src.gamma, src.beta].filter((t): t is tf.Tensor => t !== null);
}

function isCurrent(slot: Slot, sources: readonly tf.Tensor[]): boolean {
  if (slot.released || slot.filter.isDisposed || slot.shift.isDisposed || sources.length !== slot.sources.length) return false;
  for (let i = 0; i < sources.length; i++) {
    if (sources[i] !== slot.sources[i] || sources[i].isDisposed || sources[i].dataId !== slot.ids[i]) return false;
  }
  return true;
}

/** Releases stale slots, then the least recently used ones beyond the byte limit, never `keep`. */
function sweep(keep: Slot | null): void {
  for (const slot of [...live.keys()]) {
    if (!isCurrent(slot, slot.sources)) release(slot);
  }
  let total = 0;
  for (const slot of live.keys()) total += slot.bytes;
  for (const slot of [...live.keys()]) {
    if (total <= FOLD_CACHE_MAX_BYTES) break;
    if (slot === keep) continue;
    total -= slot.bytes;
    release(slot);
  }
}

/** The folded filter and shift for this pair: from the cache when its sources are unchanged. */
function folded(conv: Layer, bn: Layer, epsilon: number, depthwise: boolean): Slot {
  const src = foldSources(conv, bn, depthwise);
  const sources = sourceList(src);
  const entry = entries.get(bn);
  if (entry && entry.conv === conv && isCurrent(entry.slot, sources)) {
    hits++;
    live.delete(entry.slot);
    live.set(entry.slot, true);
    return entry.slot;
  }
  misses++;
  if (entry) release(entry.slot);
  const { filter, shift } = foldWeights(src, epsilon, depthwise);
  // Kept: no tidy or gradient scope around this call may dispose them.
  tf.keep(filter);
  tf.keep(shift);
  setCounted(filter, false);
  setCounted(shift, false);
  const slot: Slot = { filter, shift, backward: null, phases: new Map(), sources, ids: sources.map((t) => t.dataId), bytes: (filter.size + shift.size) * 4, released: false };
  entries.set(bn, { conv, slot });
  finalizer.register(bn, slot, slot);
  live.set(slot, true);
  sweep(slot);
  return slot;
}

/**
 * BatchNorm(conv(x)) as one conv: y = conv(x, W') + b' with W' = W·s, b' = (b − μ)·s + β,
 * s = γ/√(σ²+ε) (module comment). W' and b' come from the fold cache while the layers' variables
 * are the ones they were folded from.
 */
export function foldedConvBatchNorm(conv: Layer, bn: Layer, x: tf.Tensor4D): tf.Tensor4D {
  const c = convSpec(conv);
  const b = bnSpec(bn);
  if (!c || !b) throw new Error(`foldedConvBatchNorm: ${conv.name} → ${bn.name} is not a foldable pair`);
  return foldedConv(c, folded(conv, bn, b.epsilon, c.depthwise), x);
}

function isTapeOn(): boolean {
  const st = (tf.engine() as unknown as { state: { gradientDepth: number; kernelDepth: number } }).state;
  return st.gradientDepth > 0 && st.kernelDepth === 0;
}

/**
 * The folded conv with its shift b' added in the conv kernel (a fused conv with a bias: a separate
 * Add was a pass over every activation, ~5 ms of a MobileNetV2 pass at 224² on wasm). Under a
 * gradient tape on wasm it has its own input gradient: ∂y/∂x needs only the filter, whose
 * transposed form is kept in the slot (made once, on the first backward pass), and the tape saves
 * nothing. A fused conv's own gradient would also compute the bias's and the filter's gradients,
 * which nothing here wants. Off wasm, under a tape, it stays conv + add, whose gradient the tape
 * prunes to ∂y/∂x.
 */
function foldedConv(c: ConvSpec, slot: Slot, x: tf.Tensor4D): tf.Tensor4D {
  const forward = (input: tf.Tensor4D): tf.Tensor4D => {
    const args = { x: input, filter: slot.filter, strides: c.strides, pad: c.pad, dataFormat: 'NHWC' as const, dilations: c.dilations, bias: slot.shift };
    return c.depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
  };
  if (!isTapeOn()) return forward(x);
  if (tf.getBackend() !== 'wasm') {
    const z = c.depthwise
      ? tf.depthwiseConv2d(x, slot.filter, c.strides, c.pad, 'NHWC', c.dilations)
      : tf.conv2d(x, slot.filter, c.strides, c.pad, 'NHWC', c.dilations);
    return tf.add(z, slot.shift);
  }
  const shape = x.shape;
  const body = (input: tf.Tensor): { value: tf.Tensor4D; gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.Tensor4D } => ({
    value: forward(input as tf.Tensor4D),
    gradFunc: (dy) => {
      const g = (Array.isArray(dy) ? dy[0] : dy) as tf.Tensor4D;
      const back = backwardFilter(c, slot);
      const phases: PhaseCache = (key, make) => keptPhases(slot, key, make);
      return c.depthwise
        ? depthwiseInputGradientWith(shape, g, back, slot.filter.shape, c.strides, c.pad, c.dilations, undefined, phases)
        : conv2dInputGradientWith(shape, g, back, slot.filter.shape, c.strides, c.pad, undefined, c.dilations, phases);
    },
  });
  return tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0])(x) as tf.Tensor4D;
}

/**
 * The slot's sub-filters for one padding offset, made and kept (out of tf.memory()'s counts) on
 * first use: new filter tensors on every call would be packed by XNNPACK on every call.
 */
function keptPhases(slot: Slot, key: string, make: () => PhaseFilters): PhaseFilters {
  const kept = slot.phases.get(key);
  if (kept && kept.every((row) => row.every((t) => !t || !t.isDisposed))) return kept;
  const made = make();
  for (const t of made.flat()) {
    if (!t) continue;
    tf.keep(t);
    setCounted(t, false);
    slot.bytes += t.size * 4;
  }
  slot.phases.set(key, made);
  return made;
}

/** The slot's input-gradient filter, made and kept (out of tf.memory()'s counts) on first use. */
function backwardFilter(c: ConvSpec, slot: Slot): tf.Tensor4D {
  if (slot.backward && !slot.backward.isDisposed) return slot.backward;
  const made = tf.keep(c.depthwise ? flippedDepthwiseFilter(slot.filter) : transposedFilter(slot.filter));
  setCounted(made, false);
  slot.backward = made;
  slot.bytes += made.size * 4;
  return made;
}

/** What the fold cache holds now, and its hits and misses since the process started. */
export interface FoldCacheStats {
  /** Cached conv → BatchNorm pairs. */
  readonly entries: number;
  /** Cached tensors (two per pair); they are not counted in tf.memory(). */
  readonly tensors: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
}

/** The fold cache's size and hit counts (see the cache section above). */
export function foldCacheStats(): FoldCacheStats {
  let bytes = 0;
  for (const slot of live.keys()) bytes += slot.bytes;
  return { entries: live.size, tensors: 2 * live.size, bytes, hits, misses };
}

/**
 * Frees every cached fold (all models), or only the stale ones (sources assigned or disposed)
 * with `{staleOnly: true}`. The next explanation folds again where needed.
 */
export function releaseFoldCache(options: { staleOnly?: boolean } = {}): void {
  if (options.staleOnly) {
    sweep(null);
    return;
  }
  for (const slot of [...live.keys()]) release(slot);
}
