/** The eval layer: measures over the explain layer's results (plain data in, plain data out). */
export * from './pointing';
export * from './types';
export { registerMetric, metricNames, metricOf, metricLabel, type MetricInfo, type RegisteredMetric } from './registry';
export { evaluate, forwardFor, measurableMethods, type EvaluateOptions, type EvaluateProgress } from './evaluate';
export { sanityCheck, sanityVerdict, copyModel, cascadeLayers, randomiseLayer, SANITY_THRESHOLD, type SanityReport, type SanityCurve, type SanityStage, type SanityOptions } from './sanity';
export { saliencyOf } from './saliency';
export { samplesFromScenes, builtinEvalSamples, heldOutSamples } from './samples';
export { estimate, spearman, ssim, ranks, pearson } from './stats';
export { boxIoU, maskIoU, maskBox, thresholdMap, largestRegionBox, checkSample } from './geometry';
export { orderByMap, curveImages, baselineImage, blurImage, auc, imputeLinear } from './perturb';
export { pointingHit, pointingTolerance } from './metrics/pointing';
export { energyShare } from './metrics/energy';
export { localisationBox } from './metrics/localisation';
export { perturbationCurve, DEFAULT_STEPS } from './metrics/curves';
export { roadChange } from './metrics/road';
import './metrics';
