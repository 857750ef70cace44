import * as tf from '@tensorflow/tfjs';
import { conv2dInputGradient, registerWasmGradientKernels } from '../model/patches/kernels';

/**
 * Faster kernels for training on the wasm backend, swapped in only while the built-in models
 * train. wasm's own Conv2DBackpropInput is far slower than a forward conv of the same size, so
 * the input gradient runs as one (src/model/kernels.ts's conv2dInputGradient, the same the
 * explanations use); the filter gradient is src/model/kernels.ts's conv-based fill. Tile is
 * replaced by a broadcast where it is one (batch-norm gradients).
 */

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Quad = [number, number, number, number];

function tensorOf(info: tf.TensorInfo | undefined): tf.Tensor4D {
  if (!info) throw new Error('tslab-cam training kernel: missing input');
  return (info instanceof tf.Tensor ? info : tf.engine().makeTensorFromTensorInfo(info)) as tf.Tensor4D;
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
  // Conv2DBackpropFilter needs no swap: registerWasmGradientKernels fills it with the
  // conv-based filter gradient of src/model/kernels.ts.
  const names = ['Conv2DBackpropInput', 'Tile'];
  const originals = names.map((n) => tf.getKernel(n, 'wasm'));
  const makers = [fastInputKernel, fastTileKernel];
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
