/**
 * Gradient kernels for the tfjs wasm backend, and a scope that makes a backward pass compute
 * activation / input gradients only.
 *
 * Why this file exists (DESIGN.md, "Dependencies"): tfjs-backend-wasm 4.22 registers no
 * `Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropInput` or
 * `DepthwiseConv2dNativeBackpropFilter`, so any tf.grad through a conv fails there; and a
 * linear-activation conv runs as tf.fused.conv2d, whose custom gradient always asks for the
 * filter gradient, which dominates the cost of an inner-layer Grad-CAM although nobody uses it.
 *
 * Every kernel here is built from ops wasm has (pad, slice, reshape, reverse, transpose, conv2d
 * with explicit padding and dilations, depthwiseConv2d, matMul, sum). A kernelFunc may return a
 * real tf.Tensor: the engine then uses it as the output as is (engine.runKernelFunc checks
 * `rank != null`), so the output is created once inside a tidy and nothing else survives.
 *
 * Notation: x [B,H,W,Ci], dy [B,OH,OW,Co], filter f [KH,KW,Ci,Co] (depthwise: [KH,KW,C,M],
 * Co = C·M), stride s, dilation d, padding (top, left) = (pt, pl).
 * Forward conv: y[b,oh,ow,co] = Σ_{kh,kw,ci} x[b, oh·s + kh·d − pt, ow·s + kw·d − pl, ci] · f[kh,kw,ci,co].
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmMaxPoolGrad } from './poolgrad';
import { withRestore } from '../../run/interrupt';

type Tensor4D = tf.Tensor4D;
type PadArg = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Pair = [number, number];
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

const CONV2D_BACKPROP_FILTER = 'Conv2DBackpropFilter';
const CONV2D_BACKPROP_INPUT = 'Conv2DBackpropInput';
const DW_BACKPROP_INPUT = 'DepthwiseConv2dNativeBackpropInput';
const DW_BACKPROP_FILTER = 'DepthwiseConv2dNativeBackpropFilter';
const IDENTITY = 'Identity';

// ---------------------------------------------------------------------------------------------
// attrs and inputs

type Attrs = tf.NamedAttrMap | undefined;

function attr<T>(attrs: Attrs, name: string): T | undefined {
  return attrs ? (attrs[name] as unknown as T | undefined) : undefined;
}

/** A stride/dilation attribute (one number, a pair, or absent) as a pair. */
export function pairOf(v: number | number[] | undefined, fallback: number): Pair {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0], v.length > 1 ? v[1] : v[0]];
}

function shape4(v: number[] | undefined, what: string): [number, number, number, number] {
  if (!v || v.length !== 4) throw new Error(`tslab-cam gradient kernel: ${what} must have 4 dimensions, got ${JSON.stringify(v)}`);
  return [v[0], v[1], v[2], v[3]];
}

/**
 * Kernel inputs arrive as Tensors when called through ops (always, in tfjs 4.22); a bare
 * TensorInfo is wrapped in a Tensor that shares its data and is disposed with the tidy.
 */
function asTensor<R extends tf.Rank>(info: tf.TensorInfo | undefined, name: string): tf.Tensor<R> {
  if (!info) throw new Error(`tslab-cam gradient kernel: input '${name}' is missing`);
  if (info instanceof tf.Tensor) return info as tf.Tensor<R>;
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
}

function isChannelsFirst(dataFormat: string | undefined): boolean {
  return dataFormat === 'NCHW';
}

function toNHWC(t: Tensor4D, channelsFirst: boolean): Tensor4D {
  return channelsFirst ? tf.transpose(t, [0, 2, 3, 1]) : t;
}

function convInfo(xShape: [number, number, number, number], filterShape: [number, number, number, number],
  strides: Pair, dilations: Pair, pad: PadArg, dimRoundingMode: RoundingMode, depthwise: boolean): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, dilations, pad, dimRoundingMode, depthwise, 'channelsLast');
}

// ---------------------------------------------------------------------------------------------
// shared building blocks

/**
 * Prepare dy so that a stride-1 'valid' correlation with the spatially flipped filter at dilation
 * d gives dx: zeros go between dy entries (s − 1 per gap, so dy lands on the rows/cols the forward
 * conv sampled), then the result is shifted by (KH−1)·d − pt on top / left and padded or cut so the
 * output has exactly H × W positions.
 * dx[h] = Σ_j dyd[h − ((KH−1)·d − pt) + j·d] · f[KH−1−j]  (dyd: dy with zeros inserted).
 * Returns the trimmed dy and the non-negative explicit padding to give the conv.
 */
function prepareTransposedInput(dy: Tensor4D, info: tf.backend_util.Conv2DInfo): { input: Tensor4D; pad: tf.backend_util.ExplicitPadding } {
  const [b, oh, ow, c] = dy.shape;
  const { strideHeight: sh, strideWidth: sw } = info;
  let dyd: Tensor4D = dy;
  if (sh > 1 || sw > 1) {
    // [B,OH,1,OW,1,C] padded to [B,OH,sh,OW,sw,C] puts sh−1 / sw−1 zeros after each entry.
    const spread = tf.pad(tf.reshape(dy, [b, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
    dyd = tf.reshape(spread, [b, oh * sh, ow * sw, c]);
  }
  const lenH = (oh - 1) * sh + 1;
  const lenW = (ow - 1) * sw + 1;
  const effH = info.effectiveFilterHeight;
  const effW = info.effectiveFilterWidth;
  const top = effH - 1 - info.padInfo.top;
  const left = effW - 1 - info.padInfo.left;
  const bottom = info.inHeight + effH - 1 - top - lenH;
  const right = info.inWidth + effW - 1 - left - lenW;
  // Negative amounts mean the forward pass padded more than the filter reaches: cut dy instead.
  const cutTop = Math.max(0, -top);
  const cutLeft = Math.max(0, -left);
  const keepH = lenH - cutTop - Math.max(0, -bottom);
  const keepW = lenW - cutLeft - Math.max(0, -right);
  if (cutTop > 0 || cutLeft > 0 || keepH !== dyd.shape[1] || keepW !== dyd.shape[2]) {
    dyd = tf.slice(dyd, [0, cutTop, cutLeft, 0], [b, keepH, keepW, c]);
  }
  const pad: tf.backend_util.ExplicitPadding = [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]];
  return { input: dyd, pad };
}

/**
 * The conv that computes a filter gradient: rows (and cols) of x, zero-padded by pt on top and cut
 * or padded at the bottom so that exactly (KH−1)·d + (OH−1)·s + 1 rows remain, which a stride-d,
 * dilation-s 'valid' correlation with an OH-row "filter" turns into KH output rows:
 * out[kh] = Σ_oh xpad[kh·d + oh·s] · dy[oh].
 * Returns x (cut where needed) and the explicit padding for that conv.
 */
function filterGradientInput(x: Tensor4D, info: tf.backend_util.Conv2DInfo): { input: Tensor4D; pad: tf.backend_util.ExplicitPadding } {
  if ((info.strideHeight > 1 || info.strideWidth > 1) && (info.dilationHeight > 1 || info.dilationWidth > 1)) {
    // tfjs ops refuse such convs, so no gradient can ask for this.
    throw new Error('tslab-cam filter gradient: strides and dilations cannot both be greater than 1');
  }
  const needH = (info.filterHeight - 1) * info.dilationHeight + (info.outHeight - 1) * info.strideHeight + 1;
  const needW = (info.filterWidth - 1) * info.dilationWidth + (info.outWidth - 1) * info.strideWidth + 1;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const bottom = needH - top - info.inHeight;
  const right = needW - left - info.inWidth;
  let input = x;
  if (bottom < 0 || right < 0) {
    // Rows / cols of x that no output reads (e.g. 'valid', stride 2, even size): drop them.
    const [b, h, w, c] = x.shape;
    input = tf.slice(x, [0, 0, 0, 0], [b, h + Math.min(0, bottom), w + Math.min(0, right), c]);
  }
  return { input, pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]] };
}

function isPointwise(info: tf.backend_util.Conv2DInfo): boolean {
  const p = info.padInfo;
  return info.filterHeight === 1 && info.filterWidth === 1 && info.strideHeight === 1 && info.strideWidth === 1
    && p.top === 0 && p.bottom === 0 && p.left === 0 && p.right === 0;
}

// ---------------------------------------------------------------------------------------------
// the computations

/**
 * Filter gradient of conv2d:
 * dW[kh,kw,ci,co] = Σ_{b,oh,ow} x[b, oh·s + kh·d − pt, ow·s + kw·d − pl, ci] · dy[b,oh,ow,co]
 * (x zero outside its bounds). This is itself a forward conv2d in which batch and channels trade
 * places: input x as [Ci, H, W, B], filter dy as [OH, OW, B, Co], stride d, dilation s; its output
 * [Ci, KH, KW, Co] is dW with the first axis moved. (Measured on wasm: 5–30× faster than a
 * strided slice and a matrix product per tap; wasm's slices and transposed matMul are slow.)
 * A 1×1, stride-1, unpadded conv is the plain product Xᵀ·DY.
 */
export function conv2dFilterGradient(x: Tensor4D, dy: Tensor4D, filterShape: [number, number, number, number],
  strides: number | Pair, pad: PadArg, dimRoundingMode?: RoundingMode, dilations: number | Pair = 1): Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(x.shape, filterShape, pairOf(strides, 1), pairOf(dilations, 1), pad, dimRoundingMode, false);
    checkDy(dy, info, 'Conv2DBackpropFilter');
    const [kh, kw, ci, co] = filterShape;
    if (isPointwise(info)) {
      const rows = info.batchSize * info.outHeight * info.outWidth;
      // An explicit transpose then a plain product: matMul(…, transposeA) is ~10× slower on wasm.
      const xT = tf.transpose(tf.reshape(x, [rows, ci]));
      return tf.reshape(tf.matMul(xT, tf.reshape(dy, [rows, co])), [kh, kw, ci, co]);
    }
    const { input, pad: explicit } = filterGradientInput(x, info);
    const xT = tf.transpose(input, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    const out = tf.conv2d(xT, dyT, [info.dilationHeight, info.dilationWidth], explicit, 'NHWC', [info.strideHeight, info.strideWidth]);
    return tf.transpose(out, [1, 2, 0, 3]);
  });
}

/**
 * Filter gradient of depthwiseConv2d (channel multiplier M):
 * dW[kh,kw,c,m] = Σ_{b,oh,ow} x[b, oh·s + kh·d − pt, ow·s + kw·d − pl, c] · dy[b,oh,ow,c·M+m].
 * A depthwise conv of x with dy as the filter: x as one image [1, H, W, B·C], dy as
 * [OH, OW, B·C, M] (channel b·C+c), stride d, dilation s, gives [1, KH, KW, B·C·M]; the batch
 * is then summed out.
 */
export function depthwiseFilterGradient(x: Tensor4D, dy: Tensor4D, filterShape: [number, number, number, number],
  strides: number | Pair, pad: PadArg, dilations: number | Pair = 1, dimRoundingMode?: RoundingMode): Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(x.shape, filterShape, pairOf(strides, 1), pairOf(dilations, 1), pad, dimRoundingMode, true);
    checkDy(dy, info, 'DepthwiseConv2dNativeBackpropFilter');
    const [kh, kw, c, m] = filterShape;
    const [b, oh, ow] = dy.shape;
    const { input, pad: explicit } = filterGradientInput(x, info);
    const [, h, w] = input.shape;
    const xImage = b === 1 ? input : tf.reshape(tf.transpose(input, [1, 2, 0, 3]), [1, h, w, b * c]);
    const dyFilter = tf.reshape(b === 1 ? dy : tf.transpose(dy, [1, 2, 0, 3]), [oh, ow, b * c, m]);
    const out = tf.depthwiseConv2d(xImage as Tensor4D, dyFilter as Tensor4D, [info.dilationHeight, info.dilationWidth], explicit,
      'NHWC', [info.strideHeight, info.strideWidth]);
    if (b === 1) return tf.reshape(out, [kh, kw, c, m]);
    return tf.reshape(tf.sum(tf.reshape(out, [kh, kw, b, c * m]), 2), [kh, kw, c, m]);
  });
}

/**
 * Input gradient of conv2d, as a forward conv (the transposed convolution):
 * dx[b,h,w,ci] = Σ_{kh,kw,co} dy[b, (h + pt − kh·d)/s, (w + pl − kw·d)/s, co] · f[kh,kw,ci,co]
 * over the terms whose indices are whole numbers inside dy.
 * Stride 1: a conv2d of dy (shifted by (KH−1)·d − pt) with the filter flipped in both spatial
 * axes and its in/out channels swapped, f'[j,i,co,ci] = f[KH−1−j, KW−1−i, ci, co].
 * Stride s > 1 (dilation 1): by output phase (phaseInputGradient), s² stride-1 convs of dy with
 * the sub-filters that reach each phase, interleaved; no zeros are multiplied. With the
 * sub-filters kept (the fold cache keeps them) this measured 3.4–4× faster than zeros between dy
 * entries and 4–10× faster than wasm's own kernel (bench probe, batch 1: ResNet-50's 7×7 s2 stem
 * 94 → 24 ms, a 3×3 s2 256→256 conv at 28×28 30 → 8.4 ms). (An earlier sub-pixel form that
 * interleaved with depthToSpace and assembled its filters on every call measured slower.)
 */
export function conv2dInputGradient(inputShape: [number, number, number, number], dy: Tensor4D, filter: Tensor4D,
  strides: number | Pair, pad: PadArg, dimRoundingMode?: RoundingMode, dilations: number | Pair = 1): Tensor4D {
  return tf.tidy(() => conv2dInputGradientWith(inputShape, dy, transposedFilter(filter), filter.shape, strides, pad, dimRoundingMode, dilations));
}

/**
 * The filter of conv2dInputGradient's forward conv: f'[j,i,co,ci] = f[KH−1−j, KW−1−i, ci, co].
 * A caller that keeps it (the fold cache) lets XNNPACK keep its packed copy too.
 */
export function transposedFilter(filter: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filter.shape;
    const flipped = kh === 1 && kw === 1 ? filter : tf.reverse(filter, [0, 1]);
    return tf.transpose(flipped, [0, 1, 3, 2]);
  });
}

/**
 * conv2dInputGradient with its transposed filter given (see transposedFilter), for any stride,
 * padding and dilation. A 1×1 unpadded conv with stride s needs no zeros in its matrix product:
 * dx[s·h, s·w] = dy[h, w]·Wᵀ and dx is 0 elsewhere, so the product runs at dy's resolution and
 * its result is spread (phase decomposition with one non-zero phase).
 */
export function conv2dInputGradientWith(inputShape: [number, number, number, number], dy: Tensor4D, transposed: Tensor4D,
  filterShape: [number, number, number, number], strides: number | Pair, pad: PadArg, dimRoundingMode?: RoundingMode, dilations: number | Pair = 1,
  phases?: PhaseCache): Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(inputShape, filterShape, pairOf(strides, 1), pairOf(dilations, 1), pad, dimRoundingMode, false);
    checkDy(dy, info, 'Conv2DBackpropInput');
    if (byPhase(info)) {
      return phaseInputGradient(inputShape, dy, phaseFiltersFor(transposed, info, phases), info, (x, f, p) => tf.conv2d(x, f, 1, p));
    }
    const p = info.padInfo;
    if (info.filterHeight === 1 && info.filterWidth === 1 && p.top === 0 && p.left === 0 && (info.strideHeight > 1 || info.strideWidth > 1)) {
      const [b, oh, ow] = dy.shape;
      const [, h, w, ci] = inputShape;
      const { strideHeight: sh, strideWidth: sw } = info;
      const small = tf.conv2d(dy, transposed, 1, 'valid');
      const spread = tf.pad(tf.reshape(small, [b, oh, 1, ow, 1, ci]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
      const full = tf.reshape(spread, [b, oh * sh, ow * sw, ci]) as Tensor4D;
      // oh·s ≥ h always; rows and cols past the input (never read by the forward conv) go.
      if (oh * sh >= h && ow * sw >= w) return tf.slice(full, [0, 0, 0, 0], [b, h, w, ci]);
      return tf.pad(full, [[0, 0], [0, h - oh * sh], [0, w - ow * sw], [0, 0]]);
    }
    const { input, pad: explicit } = prepareTransposedInput(dy, info);
    return tf.conv2d(input, transposed, 1, explicit, 'NHWC', [info.dilationHeight, info.dilationWidth]);
  });
}

/**
 * Input gradient of depthwiseConv2d (channel multiplier M):
 * dx[b,h,w,c] = Σ_{kh,kw,m} dy[b, (h + pt − kh·d)/s, (w + pl − kw·d)/s, c·M+m] · f[kh,kw,c,m],
 * computed as a stride-1 depthwise conv of the prepared dy (C·M channels, multiplier 1) with the
 * spatially flipped filter reshaped to [KH,KW,C·M,1], then summed over m.
 */
export function depthwiseInputGradient(inputShape: [number, number, number, number], dy: Tensor4D, filter: Tensor4D,
  strides: number | Pair, pad: PadArg, dilations: number | Pair = 1, dimRoundingMode?: RoundingMode): Tensor4D {
  return tf.tidy(() => depthwiseInputGradientWith(inputShape, dy, flippedDepthwiseFilter(filter), filter.shape, strides, pad, dilations, dimRoundingMode));
}

/** depthwiseInputGradient's filter: spatially flipped, as [KH, KW, C·M, 1]. */
export function flippedDepthwiseFilter(filter: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, c, m] = filter.shape;
    const flipped = kh === 1 && kw === 1 ? filter : tf.reverse(filter, [0, 1]);
    return tf.reshape(flipped, [kh, kw, c * m, 1]) as Tensor4D;
  });
}

/** depthwiseInputGradient with its flipped filter given (see flippedDepthwiseFilter). */
export function depthwiseInputGradientWith(inputShape: [number, number, number, number], dy: Tensor4D, flipped: Tensor4D,
  filterShape: [number, number, number, number], strides: number | Pair, pad: PadArg, dilations: number | Pair = 1, dimRoundingMode?: RoundingMode,
  phases?: PhaseCache): Tensor4D {
  return tf.tidy(() => {
    const info = convInfo(inputShape, filterShape, pairOf(strides, 1), pairOf(dilations, 1), pad, dimRoundingMode, true);
    checkDy(dy, info, 'DepthwiseConv2dNativeBackpropInput');
    const [, , c, m] = filterShape;
    let out: Tensor4D;
    if (byPhase(info)) {
      const [b, h, w] = inputShape;
      out = phaseInputGradient([b, h, w, c * m], dy, phaseFiltersFor(flipped, info, phases), info, (x, f, p) => tf.depthwiseConv2d(x, f, 1, p));
    } else {
      const { input, pad: explicit } = prepareTransposedInput(dy, info);
      out = tf.depthwiseConv2d(input, flipped, 1, explicit, 'NHWC', [info.dilationHeight, info.dilationWidth]);
    }
    if (m === 1) return out;
    const [b, h, w] = out.shape;
    return tf.sum(tf.reshape(out, [b, h, w, c, m]), 4) as Tensor4D;
  });
}

// ---------------------------------------------------------------------------------------------
// strided input gradients by output phase

/**
 * The sub-filters of a strided input gradient, [a][c] for the output phase (row mod s, col mod t):
 * every s-th tap of the flipped filter starting where that phase's taps start, or null when no
 * tap reaches the phase (a filter smaller than the stride).
 */
export type PhaseFilters = readonly (readonly (Tensor4D | null)[])[];

/** Keeps sub-filters between calls (the fold cache): returns the ones kept under `key`, or keeps what `make` gives. */
export type PhaseCache = (key: string, make: () => PhaseFilters) => PhaseFilters;

/** Strided and not dilated, with a filter larger than 1×1 (1×1 has its own path): computed by phase. */
function byPhase(info: tf.backend_util.Conv2DInfo): boolean {
  return (info.strideHeight > 1 || info.strideWidth > 1) && info.dilationHeight === 1 && info.dilationWidth === 1
    && !(info.filterHeight === 1 && info.filterWidth === 1);
}

/**
 * Where the taps of output phase a start: the zero-spread dy (prepareTransposedInput) shifted by
 * e = KH − 1 − pt is non-zero at rows e + s·o, so output row a + s·i meets the flipped filter's
 * taps j ≡ e − a (mod s). The start depends on the stride, the filter and the padding's offset
 * only, which `phaseKey` names for a cache.
 */
function phaseStart(e: number, a: number, s: number): number {
  return (((e - a) % s) + s) % s;
}

function shifts(info: tf.backend_util.Conv2DInfo): { eh: number; ew: number } {
  return { eh: info.effectiveFilterHeight - 1 - info.padInfo.top, ew: info.effectiveFilterWidth - 1 - info.padInfo.left };
}

/** The sub-filters for this conv: from `cache` when given (keyed by phaseKey), else cut now. */
function phaseFiltersFor(flipped: Tensor4D, info: tf.backend_util.Conv2DInfo, cache?: PhaseCache): PhaseFilters {
  const make = (): PhaseFilters => phaseFilters(flipped, info);
  return cache ? cache(phaseKey(info), make) : make();
}

/** What the sub-filters depend on besides the filter: stride and padding offset (mod stride). */
export function phaseKey(info: tf.backend_util.Conv2DInfo): string {
  const { eh, ew } = shifts(info);
  const s = info.strideHeight, t = info.strideWidth;
  return `${s}x${t}:${phaseStart(eh, 0, s)},${phaseStart(ew, 0, t)}`;
}

/** The sub-filters of every phase, cut from the flipped (and, for conv2d, transposed) filter. */
export function phaseFilters(flipped: Tensor4D, info: tf.backend_util.Conv2DInfo): PhaseFilters {
  const s = info.strideHeight, t = info.strideWidth;
  const { eh, ew } = shifts(info);
  const [kh, kw, c1, c2] = flipped.shape;
  return Array.from({ length: s }, (_, a) => Array.from({ length: t }, (_, c) => {
    const j0 = phaseStart(eh, a, s), i0 = phaseStart(ew, c, t);
    if (j0 >= kh || i0 >= kw) return null;
    return tf.stridedSlice(flipped, [j0, i0, 0, 0], [kh, kw, c1, c2], [s, t, 1, 1]) as Tensor4D;
  }));
}

/**
 * dx by output phase: dx[a + s·i, c + t·k] = Σ_{u,v} dy[i + u + δa, k + v + δc] · f_ac[u, v]
 * with δa = (a + j0 − e)/s (a whole number), a stride-1 correlation of dy with the phase's
 * sub-filter; the s·t results are interleaved (stack + reshape) and cut to H × W.
 */
function phaseInputGradient(shape: [number, number, number, number], dy: Tensor4D, filters: PhaseFilters, info: tf.backend_util.Conv2DInfo,
  conv: (x: Tensor4D, f: Tensor4D, pad: tf.backend_util.ExplicitPadding) => Tensor4D): Tensor4D {
  const [b, h, w, ci] = shape;
  const s = info.strideHeight, t = info.strideWidth;
  const { eh, ew } = shifts(info);
  const hp = Math.ceil(h / s), wp = Math.ceil(w / t);
  const [, oh, ow, co] = dy.shape;
  const rows: Tensor4D[] = [];
  for (let a = 0; a < s; a++) {
    const cols: Tensor4D[] = [];
    for (let c = 0; c < t; c++) {
      const f = filters[a][c];
      if (!f) {
        cols.push(tf.zeros([b, hp, wp, ci]));
        continue;
      }
      // Pad (or cut) dy so a 'valid' correlation with the sub-filter gives exactly hp × wp rows.
      const top = -(a + phaseStart(eh, a, s) - eh) / s, left = -(c + phaseStart(ew, c, t) - ew) / t;
      const bottom = hp + f.shape[0] - 1 - oh - top, right = wp + f.shape[1] - 1 - ow - left;
      const cut = [Math.max(0, -top), Math.max(0, -bottom), Math.max(0, -left), Math.max(0, -right)];
      const x = cut.some((v) => v > 0) ? tf.slice(dy, [0, cut[0], cut[2], 0], [b, oh - cut[0] - cut[1], ow - cut[2] - cut[3], co]) : dy;
      cols.push(conv(x, f, [[0, 0], [Math.max(0, top), Math.max(0, bottom)], [Math.max(0, left), Math.max(0, right)], [0, 0]]));
    }
    rows.push(t === 1 ? cols[0] : tf.reshape(interleaveColumns(cols), [b, hp, wp * t, ci]) as Tensor4D);
  }
  const full = s === 1 ? rows[0] : tf.reshape(tf.stack(rows, 2), [b, hp * s, wp * t, ci]) as Tensor4D;
  return hp * s === h && wp * t === w ? full : tf.slice(full, [0, 0, 0, 0], [b, h, w, ci]);
}

/**
 * The phases of one row side by side per position, [b·hp·wp, t, ci]. wasm's Pack copies ci
 * floats at a time, slow for few channels, so up to 144 channels the phases are stacked on the
 * outer axis and transposed as [t, b·hp·wp, ci] → [b·hp·wp, t, ci]: a rank-3 transpose, because
 * wasm's rank-5 one is very slow beyond batch 1 (measured on wasm: b8 112×112, 3 channels: Pack
 * 9.7 ms, rank-5 transpose 36 ms, rank-3 1.3 ms; 32 channels: 10, 344 and 4.7 ms; 144 channels
 * at 56×56: Pack 6.5, rank-3 3.6 ms; 512 at 14×14: Pack 0.41, rank-3 0.54 ms).
 */
function interleaveColumns(cols: readonly Tensor4D[]): tf.Tensor {
  const ci = cols[0].shape[3];
  if (ci > 144) return tf.stack(cols as Tensor4D[], 3);
  return tf.transpose(tf.reshape(tf.stack(cols as Tensor4D[], 0), [cols.length, -1, ci]), [1, 0, 2]);
}

function checkDy(dy: Tensor4D, info: tf.backend_util.Conv2DInfo, kernel: string): void {
  const want = info.outShape;
  if (dy.shape[0] !== want[0] || dy.shape[1] !== want[1] || dy.shape[2] !== want[2] || dy.shape[3] !== want[3]) {
    throw new Error(`tslab-cam ${kernel}: dy has shape [${dy.shape.join(',')}], the convolution's output shape is [${want.join(',')}]`);
  }
}

// ---------------------------------------------------------------------------------------------
// kernelFuncs (attrs exactly as tfjs-core's ops pass them)

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** Conv2DBackpropFilter: inputs {x, dy}; attrs {strides, pad, dataFormat, dimRoundingMode, filterShape}. */
function conv2dBackpropFilterKernel(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  return tf.tidy(() => {
    const cf = isChannelsFirst(attr<string>(attrs, 'dataFormat'));
    const x = toNHWC(asTensor<tf.Rank.R4>(inputs.x, 'x'), cf);
    const dy = toNHWC(asTensor<tf.Rank.R4>(inputs.dy, 'dy'), cf);
    const filterShape = shape4(attr<number[]>(attrs, 'filterShape'), 'filterShape');
    return conv2dFilterGradient(x, dy, filterShape, pairOf(attr<number | number[]>(attrs, 'strides'), 1),
      attr<PadArg>(attrs, 'pad') ?? 'valid', attr<RoundingMode>(attrs, 'dimRoundingMode'), 1);
  });
}

/** Conv2DBackpropInput: inputs {dy, filter}; attrs {strides, pad, dataFormat, dimRoundingMode, inputShape}. */
function conv2dBackpropInputKernel(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  return tf.tidy(() => {
    const cf = isChannelsFirst(attr<string>(attrs, 'dataFormat'));
    const dy = toNHWC(asTensor<tf.Rank.R4>(inputs.dy, 'dy'), cf);
    const filter = asTensor<tf.Rank.R4>(inputs.filter, 'filter');
    const s = shape4(attr<number[]>(attrs, 'inputShape'), 'inputShape');
    const inputShape: [number, number, number, number] = cf ? [s[0], s[2], s[3], s[1]] : s;
    const dx = conv2dInputGradient(inputShape, dy, filter, pairOf(attr<number | number[]>(attrs, 'strides'), 1),
      attr<PadArg>(attrs, 'pad') ?? 'valid', attr<RoundingMode>(attrs, 'dimRoundingMode'), 1);
    return cf ? tf.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/** DepthwiseConv2dNativeBackpropInput: inputs {dy, filter}; attrs {strides, pad, dimRoundingMode, dilations, inputShape}. */
function depthwiseBackpropInputKernel(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  return tf.tidy(() => {
    const dy = asTensor<tf.Rank.R4>(inputs.dy, 'dy');
    const filter = asTensor<tf.Rank.R4>(inputs.filter, 'filter');
    return depthwiseInputGradient(shape4(attr<number[]>(attrs, 'inputShape'), 'inputShape'), dy, filter,
      pairOf(attr<number | number[]>(attrs, 'strides'), 1), attr<PadArg>(attrs, 'pad') ?? 'valid',
      pairOf(attr<number | number[]>(attrs, 'dilations'), 1), attr<RoundingMode>(attrs, 'dimRoundingMode'));
  });
}

/** DepthwiseConv2dNativeBackpropFilter: inputs {x, dy}; attrs {strides, pad, dimRoundingMode, dilations, filterShape}. */
function depthwiseBackpropFilterKernel(args: KernelArgs): tf.TensorInfo {
  const { inputs, attrs } = args;
  return tf.tidy(() => {
    const x = asTensor<tf.Rank.R4>(inputs.x, 'x');
    const dy = asTensor<tf.Rank.R4>(inputs.dy, 'dy');
    return depthwiseFilterGradient(x, dy, shape4(attr<number[]>(attrs, 'filterShape'), 'filterShape'),
      pairOf(attr<number | number[]>(attrs, 'strides'), 1), attr<PadArg>(attrs, 'pad') ?? 'valid',
      pairOf(attr<number | number[]>(attrs, 'dilations'), 1), attr<RoundingMode>(attrs, 'dimRoundingMode'));
  });
}

/**
 * Identity that shares its input's buffer (one more reference, as tfjs's cpu backend and wasm's
 * own Reshape do) instead of copying it. tfjs's tape clones every tensor an op saves for its
 * backward pass, and wasm's Identity copies: 220 copies per MobileNetV2 guided pass at 224²
 * (~8 ms), and a copied weight matrix is a new tensor to XNNPACK, which packs it again (the
 * classifier's backward matMul: 8 ms instead of 1.4). Sharing is safe because tensor data is
 * never written in place. Strings keep wasm's own kernel.
 */
function sharedIdentityKernel(original: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string' && original) return original.kernelFunc(args);
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

/** Zeros shaped like the filter: used instead of a filter gradient nobody asked for. */
function zeroFilterGradientKernel(args: KernelArgs): tf.TensorInfo {
  const filterShape = shape4(attr<number[]>(args.attrs, 'filterShape'), 'filterShape');
  return tf.zeros(filterShape, 'float32');
}

// ---------------------------------------------------------------------------------------------
// registration

function isRegistered(kernelName: string, backendName: string): boolean {
  return tf.getKernel(kernelName, backendName) != null;
}

/**
 * Register, for backend 'wasm', the gradient kernels tfjs-backend-wasm 4.22 lacks:
 * Conv2DBackpropFilter (dW = Σ_{b,oh,ow} x-window ⊗ dy), DepthwiseConv2dNativeBackpropInput
 * (dx = depthwise conv of the zero-spread dy with the flipped filter, summed over the channel
 * multiplier) and DepthwiseConv2dNativeBackpropFilter (dW[kh,kw,c,m] = Σ x-window · dy).
 * Only kernels not registered yet are added, so calling it again (or after a future tfjs that
 * ships them) changes nothing.
 */
export function registerWasmGradientKernels(): void {
  const fills: Array<[string, tf.KernelFunc]> = [
    [CONV2D_BACKPROP_FILTER, conv2dBackpropFilterKernel],
    [DW_BACKPROP_INPUT, depthwiseBackpropInputKernel],
    [DW_BACKPROP_FILTER, depthwiseBackpropFilterKernel],
  ];
  for (const [kernelName, kernelFunc] of fills) {
    if (!isRegistered(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
  // Not missing but wrong: wasm's own MaxPoolGrad loses windows whose maximum is negative.
  registerWasmMaxPoolGrad();
}

// ---------------------------------------------------------------------------------------------
// activation-gradients-only scope

interface SwapRecord {
  depth: number;
  /** The configs that were registered before the swap; null where none was. */
  readonly originals: Map<string, tf.KernelConfig | null>;
}

const swaps = new Map<string, SwapRecord>();


function replaceKernel(record: SwapRecord, kernelName: string, backendName: string, kernelFunc: tf.KernelFunc): void {
  const existing = tf.getKernel(kernelName, backendName);
  record.originals.set(kernelName, existing ?? null);
  if (existing) tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ kernelName, backendName, kernelFunc });
}

function restoreKernels(record: SwapRecord, backendName: string): void {
  for (const [kernelName, original] of record.originals) {
    if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
    if (original) tf.registerKernel(original);
  }
}

/**
 * Run `fn` (synchronously) with the active backend's filter-gradient kernels
 * (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter) returning zeros of the filter's
 * shape, so a gradient call computes only ∂S/∂x and ∂S/∂(activations): those never depend on a
 * filter gradient, so they are unchanged, while fused convs (whose custom gradient always asks
 * for dW) stop paying for it. On wasm, Conv2DBackpropInput is also replaced by the forward conv
 * with the flipped filter (conv2dInputGradient: bit-identical to wasm's kernel where measured,
 * 2–25× faster; strided convs by output phase, 4–10× faster), and Identity shares its input's
 * buffer instead of copying it (sharedIdentityKernel). The originals come back
 * when the outermost scope ends, also when `fn` throws; nested scopes share the outermost swap.
 * Filter gradients taken inside are zeros. Bias gradients are unaffected.
 */
export function withActivationGradientsOnly<T>(fn: () => T): T {
  const backendName = tf.getBackend();
  // The scope must work even if nothing called initBackend (e.g. a bare tf.setBackend('wasm')).
  if (backendName === 'wasm') registerWasmGradientKernels();
  let record = swaps.get(backendName);
  if (record) {
    record.depth++;
  } else {
    record = { depth: 1, originals: new Map() };
    swaps.set(backendName, record);
    try {
      replaceKernel(record, CONV2D_BACKPROP_FILTER, backendName, zeroFilterGradientKernel);
      replaceKernel(record, DW_BACKPROP_FILTER, backendName, zeroFilterGradientKernel);
      if (backendName === 'wasm') {
        // DepthwiseConv2dNativeBackpropInput needs no swap: on wasm it is this module's fill,
        // already the flipped-filter depthwise conv.
        // The flipped-filter forward conv: 2–25× faster than wasm's kernel at stride 1 and
        // bit-identical to it (bench/kernels-probe.ts); strided convs by output phase, 4–10× faster.
        replaceKernel(record, CONV2D_BACKPROP_INPUT, backendName, conv2dBackpropInputKernel);
        replaceKernel(record, IDENTITY, backendName, sharedIdentityKernel(tf.getKernel(IDENTITY, backendName)));
      }
    } catch (e) {
      swaps.delete(backendName);
      restoreKernels(record, backendName);
      throw e;
    }
  }
  const open = record;
  // withRestore, not finally: a kernel interrupt terminates synchronous code without running
  // finally blocks, and zero filter gradients left registered would silently stop training.
  return withRestore(() => {
    open.depth--;
    if (open.depth === 0) {
      swaps.delete(backendName);
      restoreKernels(open, backendName);
    }
  }, fn);
}

/** Whether a withActivationGradientsOnly scope is open on `backendName`, and how deep. */
export function activationGradientScopeDepth(backendName: string = tf.getBackend()): number {
  return swaps.get(backendName)?.depth ?? 0;
}
