import * as tf from '@tensorflow/tfjs';

/**
 * A correct MaxPoolGrad for the wasm backend. tfjs-backend-wasm 4.22's own kernel drops the
 * gradient of every window whose maximum is negative (found here: x = [[-2.3, -1.2], [-3.6, -4.6]]
 * gets no gradient at all, where the cpu backend routes it to -1.2), which made Grad-CAM's α wrong
 * by 25% on a model with max-pooling. This kernel follows the cpu backend's rule exactly: each
 * window's gradient goes to its first maximum (row-major, strict >), dx[argmax] += dy.
 */
type KernelArgs = Parameters<tf.KernelFunc>[0];

function readValues(info: tf.TensorInfo, backend: KernelArgs['backend']): Float32Array {
  return (backend as unknown as { readSync(id: object): Float32Array }).readSync(info.dataId);
}

export function maxPoolGradKernel({ inputs, backend, attrs }: KernelArgs): tf.Tensor {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
    filterSize: [number, number] | number; strides: [number, number] | number; pad: 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const xShape = input.shape as [number, number, number, number];
  const info = tf.backend_util.computePool2DInfo(xShape, filterSize, strides, 1, pad, dimRoundingMode);
  const x = readValues(input, backend);
  const g = readValues(dy, backend);
  const [n, h, w, c] = xShape;
  const { outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dx = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - left;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let fy = 0; fy < filterHeight; fy++) {
            const yy = y0 + fy;
            if (yy < 0 || yy >= h) continue;
            for (let fx = 0; fx < filterWidth; fx++) {
              const xx = x0 + fx;
              if (xx < 0 || xx >= w) continue;
              const i = ((b * h + yy) * w + xx) * c + ch;
              if (x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] += g[((b * outHeight + oy) * outWidth + ox) * c + ch];
        }
      }
    }
  }
  return tf.tensor4d(dx, xShape);
}

/** Replaces wasm's MaxPoolGrad with the correct one (idempotent). */
export function registerWasmMaxPoolGrad(): void {
  const current = tf.getKernel('MaxPoolGrad', 'wasm');
  if (current && current.kernelFunc === (maxPoolGradKernel as unknown as tf.KernelFunc)) return;
  if (current) tf.unregisterKernel('MaxPoolGrad', 'wasm');
  tf.registerKernel({ kernelName: 'MaxPoolGrad', backendName: 'wasm', kernelFunc: maxPoolGradKernel as unknown as tf.KernelFunc });
}
