import * as tf from '@tensorflow/tfjs';

type GradConfig = NonNullable<ReturnType<typeof tf.getGradient>>;

let depth = 0;
let original: GradConfig | null = null;

/**
 * tfjs's FusedBatchNorm gradient computes x − mean and dy·scale over the whole activation before
 * it knows which gradients are wanted, and its ∂/∂x tiles 1/√(var+ε) to the activation's full
 * shape: on wasm that Tile was half of a MobileNetV2 backward pass. In inference mode
 * y = (x − μ)·γ/√(σ²+ε) + β, so ∂y/∂x = γ/√(σ²+ε), a per-channel factor that broadcasts.
 * The other inputs' gradients are left to the original function, called only if asked for.
 */
function leanBatchNorm(orig: GradConfig): GradConfig {
  return {
    kernelName: orig.kernelName,
    inputsToSave: orig.inputsToSave,
    outputsToSave: orig.outputsToSave,
    gradFunc: (dy, saved, attrs) => {
      const [x, , variance, scale] = saved;
      const eps = (attrs as { varianceEpsilon: number }).varianceEpsilon;
      const rest = (): ReturnType<GradConfig['gradFunc']> => orig.gradFunc(dy, saved, attrs);
      return {
        x: () => {
          const factor = tf.rsqrt(tf.add(variance, eps));
          return tf.reshape(tf.mul(dy as tf.Tensor, scale ? tf.mul(factor, scale) : factor), x.shape);
        },
        mean: () => rest().mean(),
        variance: () => rest().variance(),
        scale: () => rest().scale(),
        offset: () => rest().offset(),
      };
    },
  };
}

/**
 * Runs fn (synchronous) with the lean FusedBatchNorm gradient; the original is restored afterwards,
 * also when fn throws. Re-entrant.
 */
export function withLeanGradients<T>(fn: () => T): T {
  if (depth === 0) {
    original = tf.getGradient('FusedBatchNorm') ?? null;
    if (original) tf.registerGradient(leanBatchNorm(original));
  }
  depth++;
  try {
    return fn();
  } finally {
    depth--;
    if (depth === 0 && original) {
      tf.registerGradient(original);
      original = null;
    }
  }
}
