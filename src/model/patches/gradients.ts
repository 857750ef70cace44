import * as tf from '@tensorflow/tfjs';
import { withRestore } from '../../run/interrupt';

type GradConfig = NonNullable<ReturnType<typeof tf.getGradient>>;

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

/** [x ≥ lo] as 0/1 floats. One step kernel: wasm's comparison kernels are ~25× slower than step. */
export function atLeast(x: tf.Tensor, lo: number): tf.Tensor {
  return tf.sub(1, tf.step(tf.sub(lo, x)));
}

/** [x ≤ hi] as 0/1 floats (see atLeast). */
export function atMost(x: tf.Tensor, hi: number): tf.Tensor {
  return tf.sub(1, tf.step(tf.sub(x, hi)));
}

/**
 * [0 < x ≤ hi] as 0/1 floats: step(x) − step(x − hi), four fast kernels. It is Relu6's gradient
 * mask (tfjs builds it with LessEqual, a slow comparison kernel on wasm, and a cast).
 */
export function positiveAtMost(x: tf.Tensor, hi: number): tf.Tensor {
  return tf.sub(tf.step(x), tf.step(tf.sub(x, hi)));
}

/** Relu6: dx = dy·[0 < x ≤ 6], tfjs's own mask in four fast kernels (positiveAtMost). */
function leanRelu6(orig: GradConfig): GradConfig {
  return {
    kernelName: orig.kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      return { x: () => tf.mul(dy as tf.Tensor, positiveAtMost(x, 6)) };
    },
  };
}

/**
 * ClipByValue (how Keras's ReLU(maxValue) layers cap at 6) passes dy where min ≤ x ≤ max, the
 * same mask as tfjs's own gradient. tfjs builds them with
 * GreaterEqual, LessEqual, LogicalAnd and Select; on wasm those four were ~30% of a MobileNetV2
 * backward pass (each ~6 ms on a 112×112×96 map where a step or a multiply takes ~0.25 ms).
 */
function leanClipByValue(orig: GradConfig): GradConfig {
  return {
    kernelName: orig.kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { clipValueMin, clipValueMax } = attrs as { clipValueMin: number; clipValueMax: number };
      return { x: () => tf.mul(dy as tf.Tensor, tf.mul(atLeast(x, clipValueMin), atMost(x, clipValueMax))) };
    },
  };
}

const LEAN: Record<string, (orig: GradConfig) => GradConfig> = {
  FusedBatchNorm: leanBatchNorm, ClipByValue: leanClipByValue, Relu6: leanRelu6,
};

/** Every config a gradientScope has registered: the lean swap leaves these alone (see withLeanGradients). */
const scoped = new WeakSet<GradConfig>();

/**
 * A scope that registers the gradient configs `build` returns while a (synchronous) function
 * runs and puts the previous ones back afterwards, also when it throws. Re-entrant: only the
 * outermost call registers and restores. `build` runs first, so it can read the originals.
 */
export function gradientScope(build: () => GradConfig[]): <T>(fn: () => T) => T {
  let depth = 0;
  let saved: GradConfig[] = [];
  return <T>(fn: () => T): T => {
    if (depth === 0) {
      const configs = build();
      saved = configs.flatMap((c) => tf.getGradient(c.kernelName) ?? []);
      for (const c of configs) {
        scoped.add(c);
        tf.registerGradient(c);
      }
    }
    depth++;
    // withRestore, not finally: a kernel interrupt terminates synchronous code without running
    // finally blocks; the swapped gradients would otherwise stay registered for good.
    return withRestore(() => {
      depth--;
      if (depth === 0) {
        for (const orig of saved) tf.registerGradient(orig);
        saved = [];
      }
    }, fn);
  };
}

/**
 * Runs fn (synchronous) with the lean FusedBatchNorm, ClipByValue and Relu6 gradients (see
 * gradientScope). A gradient another scope has put in place is kept: guided backprop's Relu6
 * rule, registered around the engine's pass, must not be swapped for the plain one inside it.
 */
export const withLeanGradients = gradientScope(() => Object.entries(LEAN).flatMap(([name, make]) => {
  const orig = tf.getGradient(name);
  return orig && !scoped.has(orig) ? [make(orig)] : [];
}));
