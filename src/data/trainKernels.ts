import * as tf from '@tensorflow/tfjs';
import { conv2dInputGradient, registerWasmGradientKernels } from '../model/kernels';

/**
 * Faster conv gradient kernels for training on the wasm backend, swapped in only while the
 * built-in models train. Measured on digits-gap (batch 32): the general Conv2DBackpropFilter
 * (nine matMuls, one per tap) and wasm's own Conv2DBackpropInput took ~85% of a step, while a
 * forward conv of the same size is 10× cheaper on wasm. Both gradients are rewritten as forward
 * convs here; the values equal the general kernels' up to float rounding.
 */

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Quad = [number, number, number, number];

function tensorOf(info: tf.TensorInfo | undefined): tf.Tensor4D {
  if (!info) throw new Error('tslab-cam training kernel: missing input');
  return (info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info)) as tf.Tensor4D;
}

function isUnitStride(s: unknown): boolean {
  return s === 1 || (Array.isArray(s) && s.every((v) => v === 1));
}

/**
 * dW[kh,kw,ci,co] = Σ_{b,oh,ow} xpad[b, oh+kh, ow+kw, ci] · dy[b,oh,ow,co] for stride 1: a
 * 'valid' conv of xpad with batch and channels swapped ([ci, Hp, Wp, B]) by dy as the filter
 * ([OH, OW, B, co]); its output [ci, KH, KW, co] is dW transposed.
 */
export function filterGradientAsConv(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: Quad, pad: 'same' | 'valid'): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw] = filterShape;
    const [, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    // 'same' at stride 1 pads (k-1)/2 before (rounded down) and the rest after, as tfjs does.
    const padH = pad === 'same' ? Math.max(0, oh + kh - 1 - h) : 0;
    const padW = pad === 'same' ? Math.max(0, ow + kw - 1 - w) : 0;
    const top = Math.floor(padH / 2), left = Math.floor(padW / 2);
    const xp = padH || padW ? tf.pad(x, [[0, 0], [top, padH - top], [left, padW - left], [0, 0]]) : x;
    const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyT = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const g = tf.conv2d(xT, dyT, 1, 'valid');
    return tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

function fastFilterKernel(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { inputs, attrs } = args;
    const a = attrs ?? {};
    const pad = a.pad;
    const simple = isUnitStride(a.strides) && (pad === 'same' || pad === 'valid') && (a.dataFormat ?? 'NHWC') === 'NHWC'
      && (a.dimRoundingMode === undefined || a.dimRoundingMode === null);
    if (!simple) return fallback(args) as tf.TensorInfo;
    return filterGradientAsConv(tensorOf(inputs.x), tensorOf(inputs.dy), a.filterShape as unknown as Quad, pad as 'same' | 'valid');
  };
}

function fastInputKernel(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const { inputs, attrs } = args;
    const a = attrs ?? {};
    const pad = a.pad;
    if ((a.dataFormat ?? 'NHWC') !== 'NHWC' || !(pad === 'same' || pad === 'valid')) return fallback(args) as tf.TensorInfo;
    return conv2dInputGradient(a.inputShape as unknown as Quad, tensorOf(inputs.dy), tensorOf(inputs.filter),
      a.strides as unknown as number | [number, number], pad as 'same' | 'valid');
  };
}

/**
 * Tile where every repeated axis has size 1 is a broadcast: batch-norm gradients tile a
 * per-channel vector over the whole activation, and wasm's Tile took the largest share of a
 * training step doing that. A broadcasting add onto zeros gives the same values much faster.
 */
function fastTileKernel(fallback: tf.KernelFunc): tf.KernelFunc {
  return (args: KernelArgs) => {
    const x = tensorOf(args.inputs.x as tf.TensorInfo);
    const reps = (args.attrs?.reps ?? []) as number[];
    const broadcast = reps.length === x.shape.length && reps.every((r, i) => r === 1 || x.shape[i] === 1);
    if (!broadcast || x.dtype !== 'float32') return fallback(args) as tf.TensorInfo;
    const shape = x.shape.map((d, i) => d * reps[i]);
    return tf.tidy(() => tf.add(x, tf.zeros(shape)));
  };
}

/**
 * Run `fn` with the fast training kernels registered for the wasm backend; the previous kernels
 * come back afterwards, also when `fn` throws. On other backends `fn` runs unchanged.
 */
export async function withTrainingKernels<T>(fn: () => Promise<T>): Promise<T> {
  if (tf.getBackend() !== 'wasm') return fn();
  registerWasmGradientKernels();
  const names = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Tile'];
  const originals = names.map((n) => tf.getKernel(n, 'wasm'));
  const makers = [fastFilterKernel, fastInputKernel, fastTileKernel];
  names.forEach((kernelName, i) => {
    const original = originals[i];
    if (!original) return;
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: makers[i](original.kernelFunc) });
  });
  try {
    return await fn();
  } finally {
    names.forEach((kernelName, i) => {
      const original = originals[i];
      if (!original) return;
      tf.unregisterKernel(kernelName, 'wasm');
      tf.registerKernel(original);
    });
  }
}
