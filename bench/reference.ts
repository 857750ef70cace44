/**
 * The benchmark's reference column: the real pytorch-grad-cam (bench/reference/pgc_bench.py in
 * .venv-gradcam), one persistent Python process per thread count, because OpenBLAS/OpenMP size
 * their pools once, when torch loads.
 *
 *   const ref = await startReference(1);          // null + a printed reason when unavailable
 *   const r = await ref.time({ model: 'mobilenet_v2', batch: 1, row: 'gradcam_last' });
 *   await ref.close();
 *
 * Target layers on the torch side (match them on the tfjs side): REFERENCE_LAYERS below.
 */
import * as path from 'path';
import { ensureGradcam, GRADCAM_PYTHON, gradcamUnavailable, JsonLineProcess, ROOT } from '../scripts/python/venv';

export type ReferenceModel = 'mobilenet_v2' | 'resnet50';
export type ReferenceRow = 'forward' | 'gradcam_last' | 'gradcam_inner' | 'guided';

/**
 * torchvision module name → the Keras/tfjs layer with the same output (shape and position).
 * MobileNetV2: features.18 = 1×1 conv 320→1280 + BN + ReLU6 (Keras `out_relu`); features.6 = the
 * third block of the 32-channel stage after its residual add (Keras `block_5_add`, 28×28×32).
 * ResNet-50: layer4.2 = last bottleneck (`conv5_block3_out`, 7×7×2048); layer2.3 = last bottleneck
 * of stage 2 (`conv3_block4_out`, 28×28×512).
 */
export const REFERENCE_LAYERS: Readonly<Record<ReferenceModel, { last: ReferenceLayer; inner: ReferenceLayer }>> = {
  mobilenet_v2: { last: { torch: 'features.18', keras: 'out_relu' }, inner: { torch: 'features.6', keras: 'block_5_add' } },
  resnet50: { last: { torch: 'layer4.2', keras: 'conv5_block3_out' }, inner: { torch: 'layer2.3', keras: 'conv3_block4_out' } },
};

export interface ReferenceLayer {
  readonly torch: string;
  readonly keras: string;
}

export interface ReferenceRequest {
  readonly model: ReferenceModel;
  readonly batch: 1 | 8;
  readonly row: ReferenceRow;
  /** Timed calls after the warm-up (default 5). */
  readonly repeats?: number;
  /** Untimed calls first (default 1). */
  readonly warmup?: number;
}

export interface ReferenceTiming {
  /** Median of `samples`, ms. */
  readonly ms: number;
  readonly samples: readonly number[];
  /** The torch module Grad-CAM targeted; null for forward and guided rows. */
  readonly layer: string | null;
  /** What exactly was timed (e.g. that pgc guides nn.ReLU only, so MobileNetV2's ReLU6 stays plain). */
  readonly note: string;
}

export interface Reference {
  readonly threads: number;
  readonly versions: { readonly torch: string; readonly gradCam: string };
  time(req: ReferenceRequest): Promise<ReferenceTiming>;
  close(): Promise<void>;
}

interface Ready {
  readonly ready: boolean;
  readonly threads: number;
  readonly torch: string;
  readonly grad_cam: string;
}

/**
 * Starts the reference process with `threads` threads (after making sure the venv exists), or
 * returns null and prints why it cannot run (no Debian torch, no network for PyPI, …).
 */
export async function startReference(threads: number, log: (line: string) => void = console.error): Promise<Reference | null> {
  const why = ensureGradcam() ?? gradcamUnavailable();
  if (why) {
    log(`pytorch-grad-cam reference skipped: ${why}`);
    return null;
  }
  const env = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
  const proc = new JsonLineProcess(GRADCAM_PYTHON, [path.join(ROOT, 'bench', 'reference', 'pgc_bench.py'), '--threads', String(threads)], env);
  const ready = await proc.next<Ready>();
  return {
    threads,
    versions: { torch: ready.torch, gradCam: ready.grad_cam },
    async time(req) {
      const answer = await proc.request<ReferenceTiming | { error: string }>({ ...req, threads });
      if ('error' in answer) throw new Error(`pytorch-grad-cam reference, ${req.model} b=${req.batch} ${req.row}: ${answer.error}`);
      return answer;
    },
    close: () => proc.close(),
  };
}
