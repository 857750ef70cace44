/**
 * Plain-data results of the explain layer. Nothing here holds a tensor: every array is a
 * Float32Array in row-major order with its shape beside it, so renderers and notebooks can use
 * results without touching tfjs and nothing needs disposing.
 */

/** A dense row-major array with its shape. */
export interface NDArray {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** What every per-image result carries about how it was made. */
export interface ResultMeta {
  /** The method's registry name (e.g. 'gradCam'); its label and equation are in the registry. */
  readonly method: string;
  /** The target class c. */
  readonly classIndex: number;
  /** Human name of class c when the model has class names. */
  readonly className?: string;
  /** What was explained when it was not a class score (a target's label); classIndex is then -1. */
  readonly target?: string;
  /** The target layer (its name; nested layers as "outer/inner"). */
  readonly layer: string;
  /** tfjs backend that computed it. */
  readonly backend: string;
  /** Which score was explained: pre-activation logits (the article's S_c) or probabilities. */
  readonly scoreKind: 'logits' | 'probabilities';
  /** The input image (H, W, C) as the model saw it, for overlays. */
  readonly input: NDArray;
}

/** A spatial map in three forms: raw, normalised to [0,1] (never NaN), upsampled to the input. */
export interface MapForms {
  /** (h, w) at the target layer's resolution, before any normalisation. */
  readonly raw: NDArray;
  /** raw min-max scaled to [0,1]; an all-constant map becomes all zeros, never NaN. */
  readonly normalized: NDArray;
  /** normalized, resized bilinearly to (H, W) of the input. */
  readonly upsampled: NDArray;
}

/** Per-channel weights a map was built from, with the symbol the method's equation uses. */
export interface ChannelWeights {
  /** e.g. 'α' (Grad-CAM family) or 'w' (CAM). */
  readonly symbol: string;
  /** (K) */
  readonly values: Float32Array;
}

/**
 * The result of any CAM-style method: the map forms, the layer's f, the score, and the method's
 * own quantities in a typed per-method part (CamParts, GradCamParts, …). Figures use only these
 * common fields, so a new method displays with no display code of its own.
 */
export interface MapResult extends ResultMeta, MapForms {
  /** f: (h, w, K) feature maps of the target layer. */
  readonly f: NDArray;
  /** Z = h·w. */
  readonly Z: number;
  /** S_c from the model (pre-activation unless scoreKind says otherwise). */
  readonly S: number;
  /** All class scores of this image. */
  readonly scores: Float32Array;
  /** ∂S_c/∂f: (h, w, K), for methods that use gradients. */
  readonly grads?: NDArray;
  /** The channel weights the map was built from, when the method has them. */
  readonly channelWeights?: ChannelWeights;
  /** How the map forms were smoothed, when they were (the method's own parts are unsmoothed). */
  readonly smoothed?: 'eigen' | 'aug';
}

/** GAP: F_k = (1/Z) Σ_{x,y} f_k(x,y). */
export interface GapResult extends ResultMeta {
  readonly method: 'gap';
  /** f: (h, w, K) feature maps of the target layer. */
  readonly f: NDArray;
  /** F: (K) */
  readonly F: Float32Array;
  /** Z = h·w. */
  readonly Z: number;
  /** True when the model's head is GAP → Dense, so CAM applies. */
  readonly hasGapHead: boolean;
  /** The model's own GAP output when it has a GlobalAveragePooling2D layer. */
  readonly modelF?: Float32Array;
}

/** CAM's own quantities: M_c(x,y) = Σ_k w_k^c f_k(x,y); S_c = Σ_k w_k^c F_k + b_c. */
export interface CamParts {
  readonly F: Float32Array;
  /** w^c: (K) the Dense weights into class c. */
  readonly w: Float32Array;
  /** b_c */
  readonly b: number;
  /** M_c: (h, w) — same numbers as raw. */
  readonly M: NDArray;
  /** The model's own GAP output, for identity 1. */
  readonly modelF?: Float32Array;
}
export interface CamResult extends MapResult, CamParts {
  readonly method: 'cam';
}

/** Grad-CAM's own quantities: α_k^c = (1/Z) Σ ∂S_c/∂f_k(x,y); L_c = ReLU(Σ_k α_k^c f_k). */
export interface GradCamParts {
  /** α^c: (K) */
  readonly alpha: Float32Array;
  /** Σ_k α_k^c f_k before the ReLU: (h, w). */
  readonly weightedSum: NDArray;
  /** L_c: (h, w) — same numbers as raw. */
  readonly L: NDArray;
}
export interface GradCamResult extends MapResult, GradCamParts {
  readonly method: 'gradCam';
  /** ∂S_c/∂f: (h, w, K) */
  readonly grads: NDArray;
}

/** Guided backprop: ∂S_c/∂input with the guided ReLU rule. */
export interface GuidedBackpropResult extends ResultMeta {
  readonly method: 'guidedBackprop';
  /** (H, W, C) raw gradient at the input. */
  readonly gradient: NDArray;
  /** (H, W, C) scaled for display as the paper shows it (centred at 0.5), in [0,1]. */
  readonly image: NDArray;
  readonly S: number;
}

/** Guided Grad-CAM: guided backprop ⊙ L_c upsampled bilinearly to the input size. */
export interface GuidedGradCamResult extends ResultMeta {
  readonly method: 'guidedGradCam';
  /** (H, W, C) the raw product. */
  readonly product: NDArray;
  /** (H, W, C) scaled for display, in [0,1]. */
  readonly image: NDArray;
  readonly guided: GuidedBackpropResult;
  readonly gradCam: GradCamResult;
  readonly S: number;
}

/** Any per-image result of the explain layer. */
export type ExplainResult = GapResult | MapResult | GuidedBackpropResult | GuidedGradCamResult;

/** One identity of the article checked on real numbers. */
export interface IdentityCheck {
  readonly id: number;
  readonly name: string;
  /** LaTeX of the identity with the article's symbols. */
  readonly latex: string;
  readonly lhs: number;
  readonly rhs: number;
  /** max |lhs - rhs| over the compared elements (for vector identities, the worst element). */
  readonly diff: number;
  /** relative difference: diff / max(|rhs|, tiny) */
  readonly relDiff: number;
  readonly tolerance: number;
  readonly pass: boolean;
  /** Why the identity does not apply to this model, when it was skipped. */
  readonly skipped?: string;
}
