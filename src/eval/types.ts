/**
 * Plain data of the eval layer: samples with optional ground truth, what a metric reads, and
 * the table evaluate() returns. No tensors: the only link to a model is `Forward`, a function
 * from images to the target class's scores, so metrics stay pure and testable on hand-made maps.
 */
import type { Box } from '../data/scenes';

export type { Box };

/** One image to explain, with optional ground truth for the localisation metrics. */
export interface EvalSample {
  /** (height, width, channels) row-major pixels, as the model takes them. */
  readonly pixels: Float32Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  /** The target object's box in pixels (columns x … x+width-1, rows y … y+height-1). */
  readonly box?: Box;
  /** height×width, non-zero on the target object. */
  readonly mask?: Uint8Array;
  /** The class to explain; evaluate()'s classIndex option, then the model's top-1, otherwise. */
  readonly classIndex?: number;
  /** For tables and error messages. */
  readonly name?: string;
}

/**
 * The target class's score for each of `count` images stacked in `images` (count·H·W·C values):
 * softmax probabilities by default (as Grad-CAM++ and RISE use them), or logits.
 */
export type Forward = (images: Float32Array, count: number) => Float32Array;

/** What a metric may need beyond the map. */
export type MetricNeed = 'box' | 'mask' | 'forward' | 'randomised';

/** Options every metric takes (each reads the ones it knows). */
export interface MetricOptions {
  /** Deletion / insertion: number of steps of the curve (default 64). */
  readonly steps?: number;
  /** Deletion / insertion: what removed pixels become (default: deletion 'zero', insertion 'blur', as RISE). */
  readonly baseline?: Baseline;
  /** Mask IoU: the map is thresholded at this fraction of its maximum (default 0.5). */
  readonly iouThreshold?: number;
  /** ROAD: fraction of pixels imputed (default 0.2, pytorch-grad-cam's percentile 80 / 20). */
  readonly roadFraction?: number;
}

/** The value removed pixels take in deletion / insertion. */
export type Baseline = 'blur' | 'zero' | 'mean';

/** Everything a metric reads for one image and one method. */
export interface MetricInput {
  /** (height, width) map over the input, non-negative (the method's normalised upsampled map). */
  readonly map: Float32Array;
  readonly sample: EvalSample;
  /** The class explained. */
  readonly classIndex: number;
  /** Scores of the class on perturbed images (metrics that need 'forward'). */
  readonly forward?: Forward;
  /** The same method's map on a copy of the model with every layer randomised ('randomised'). */
  readonly randomisedMap?: Float32Array;
}

/** A metric's value on one image, with the curve it came from when it has one. */
export interface MetricValue {
  readonly value: number;
  /** y values at x = 0, 1/steps, …, 1 (deletion, insertion). */
  readonly curve?: readonly number[];
}

/** A mean with its 95% confidence interval (normal approximation, mean ± 1.96·s/√n). */
export interface Estimate {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  readonly n: number;
}

/** One cell of the table: a method on a metric over the samples. */
export interface EvalCell extends Estimate {
  readonly method: string;
  readonly metric: string;
  /** Mean curve over the samples, for curve metrics. */
  readonly curve?: readonly number[];
}

/** evaluate()'s result: methods × metrics, plain data. */
export interface EvalTable {
  readonly methods: readonly string[];
  readonly metrics: readonly string[];
  /** cells[i][j]: methods[i] on metrics[j]. */
  readonly cells: readonly (readonly EvalCell[])[];
  /** Per-sample values: values[i][j][s]. */
  readonly values: readonly (readonly (readonly number[])[])[];
  /** Samples measured (fewer than asked when partial). */
  readonly samples: number;
  readonly samplesAsked: number;
  /** True when the evaluation was cancelled and this is what had finished. */
  readonly partial: boolean;
  /** Milliseconds per image to compute each method's maps (explain only, not the metrics). */
  readonly msPerImage: Readonly<Record<string, number>>;
}
