/** The explain layer: the article's quantities as plain data, one file per method, all in one registry. */
export * from './types';
export { registerMethod, METHODS, methodNames, methodOf, methodLabel, methodInfo, type MethodInfo, type MethodNeeds, type MethodOptions, type RegisteredMethod, type MethodResults } from './registry';
export { defineLayerMethod, runLayerMethods, tidyData, type LayerMethod, type LayerMethodDef, type LayerPass, type BatchContext, type CheckContext, type CallContext } from './runner';
export { defineMapMethod, defineWeightsMethod, type MapMethodDef, type WeightsMethodDef, type WeightParts } from './mapmethod';
export { isExplainResult, hasMapForms, hasInputImage, isLayerAverages } from './shapes';
export { GAP, gap, gapBatch } from './gap';
export { CAM, cam, camBatch, requireGapHead } from './cam';
export { GRAD_CAM, gradCam, gradCamBatch, alphaOf } from './gradcam';
export { GUIDED_BACKPROP, GUIDED_GRAD_CAM, guidedBackprop, guidedBackpropBatch, guidedGradCam, guidedGradCamBatch, withGuidedRelu, displayGradient, combineGuidedGradCam } from './guided';
export { SCORE_CAM, scoreCam, scoreCamBatch, scoreMasks, type ScoreCamOptions, type ScoreCamResult, type ScoreCamParts } from './scorecam';
export { ABLATION_CAM, ablationCam, ablationCamBatch, ablationValue, ablationWeights, type AblationCamOptions, type AblationCamResult, type AblationCamParts } from './ablationcam';
export { RANDOM_CAM, randomCam, randomCamBatch, randomWeights, type RandomCamOptions, type RandomCamResult } from './randomcam';
export { FULL_GRAD, fullGrad, fullGradBatch, biasOf, type FullGradResult, type FullGradParts, type FullGradCompleteness } from './fullgrad';
export { type LongRunOptions, type ChunkProgress } from './chunks';
export { explain, type ExplainOptions, type ResultOf } from './explain';
export { verify, type VerifyContext } from './verify';
export { normalizeMap, upsampleMaps, resizeBilinear, mapForms, weightedSum, gapOf, reluMap, guidedProduct, maxOf } from './maps';
export { walkthrough, type Walkthrough, type WalkthroughStep, type StepKey } from './walkthrough';
