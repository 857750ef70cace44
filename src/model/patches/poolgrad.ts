import * as tf from '@tensorflow/tfjs';

/**
 * A correct MaxPoolGrad for the wasm backend. tfjs-backend-wasm 4.22's own kernel drops the
 * gradient of every window whose maximum is negative (found here: x = [[-2.3, -1.2], [-3.6, -4.6]]
 * gets no gradient at all, where the cpu backend routes it to -1.2), which made Grad-CAM's α wrong
 * by 25% on a model with max-pooling. This kernel follows the cpu backend's rule exactly: each
 * window's gradient goes to its first maximum (row-major, strict >), dx[argmax] += dy.
 */
type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The two wasm-backend methods used here: an output buffer on the heap, and views of heap buffers (no copy). */
interface WasmHeap {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/**
 * Reads and writes the wasm heap in place (a copy of x alone is 25 MB for ResNet-50's stem pool
 * at batch 8), and keeps the channel loop innermost, over contiguous memory: the running maximum
 * and its index are kept per channel of one output position. Visiting each window's cells in
 * row-major order with a strict > keeps the first maximum.
 */
export function maxPoolGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: [number, number] | number; strides: [number, number] | number; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const xShape = input.shape as [number, number, number, number];
  const info = tf.backend_util.computePool2DInfo(xShape, filterSize, strides, 1, pad, dimRoundingMode);
  const heap = backend as unknown as WasmHeap;
  // The output first: allocating may grow the heap, which would detach views taken before it.
  const out = heap.makeOutput(xShape, 'float32');
  const dx = heap.typedArrayFromHeap(out);
  const x = heap.typedArrayFromHeap(input);
  const g = heap.typedArrayFromHeap(dy);
  dx.fill(0);
  const [n, h, w, c] = xShape;
  const { outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        best.fill(-Infinity);
        at.fill(-1);
        for (let fy = 0; fy < filterHeight; fy++) {
          const yy = y0 + fy;
          if (yy < 0 || yy >= h) continue;
          for (let fx = 0; fx < filterWidth; fx++) {
            const xx = x0 + fx;
            if (xx < 0 || xx >= w) continue;
            const base = ((b * h + yy) * w + xx) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                at[ch] = base + ch;
              }
            }
          }
        }
        const gb = ((b * outHeight + oy) * outWidth + ox) * c;
        for (let ch = 0; ch < c; ch++) if (at[ch] >= 0) dx[at[ch]] += g[gb + ch];
      }
    }
  }
  return out;
}

/** Replaces wasm's MaxPoolGrad with the correct one (idempotent). */
export function registerWasmMaxPoolGrad(): void {
  const current = tf.getKernel('MaxPoolGrad', 'wasm');
  if (current && current.kernelFunc === (maxPoolGradKernel as unknown as tf.KernelFunc)) return;
  if (current) tf.unregisterKernel('MaxPoolGrad', 'wasm');
  tf.registerKernel({ kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGradKernel as unknown as tf.KernelFunc });
}
