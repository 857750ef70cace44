/** The explain layer: the article's quantities as plain data. */
export * from './types';
export { gap, cam, gapBatch, camBatch, requireGapHead } from './cam';
export { gradCam, gradCamBatch, alphaOf } from './gradcam';
export { guidedBackprop, guidedBackpropBatch, guidedGradCam, guidedGradCamBatch, withGuidedRelu, displayGradient } from './guided';
export { explain, METHODS, type ExplainOptions } from './explain';
export { verify, type VerifyContext } from './verify';
export { normalizeMap, upsampleMaps } from './maps';
export type { MethodOptions } from './context';
export { walkthrough, type Walkthrough, type WalkthroughStep, type StepKey } from './walkthrough';
