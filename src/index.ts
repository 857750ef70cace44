/**
 * tslab-cam: GAP → CAM → Grad-CAM → Guided Backprop → Guided Grad-CAM for TensorFlow.js models,
 * checked equation by equation and shown inline in tslab notebooks.
 *
 * Layers: model (load, inspect, engine) → explain (methods, plain data) → render (figures)
 * → notebook (display bundles for tslab). The root holds what a notebook user calls; the rest
 * sits in namespaces: `model`, `math`, `methods`, `render`, `display`.
 */
import * as explainLayer from './explain';
import { withDisplay } from './notebook';

export { CancelledError, TslabCamError, type CancelledProgress, type ErrorCode } from './errors';
/** Long work: AbortSignal and kernel-interrupt cancellation, chunking, progress events, memory bounds. */
export * as run from './run';
export { setInterruptHandling, type LongRunOptions } from './run';
export { tf, initBackend, backendInfo, type BackendInfo, type BackendName, type BackendOptions } from './model/backend';
export { loadModel, loadLayersModel, loadGraphModel, saveModel, type ExplainableModel, type ModelSource, type LoadModelOptions, type SaveModelOptions, type SavedModelFiles } from './model/load';
export { loadImage, type ImageSource, type LoadImageOptions } from './model/image';
export { builtinNames, builtinSamples, type BuiltinSample, type ModelMeta } from './model/builtin';
export { listLayers, findTargetLayer, type LayerInfo } from './model/inspect';

// Results and options of the methods.
export type {
  NDArray, ResultMeta, MapForms, MapResult, ExplainResult, GapResult, CamResult, GradCamResult, GuidedBackpropResult,
  GuidedGradCamResult, IdentityCheck, MethodOptions, ExplainOptions, Walkthrough, WalkthroughStep,
} from './explain';
export type { ScoreCamResult, ScoreCamOptions, AblationCamResult, AblationCamOptions, RandomCamResult, RandomCamOptions, FullGradResult, SmoothGradResult, SmoothGradOptions, CompareOptions, MethodComparison, ChunkProgress } from './explain';

/** Targets other than a class score: binary, regression, multi-output, segmentation region, similarity. */
export * as targets from './model/targets';
export type { Target } from './model/targets';

// Adding a method (see README "Adding a method").
export {
  registerMethod, defineWeightsMethod, defineMapMethod, defineLayerMethod, methodNames, methodOf,
  type LayerPass, type MethodInfo, type RegisteredMethod, type WeightsMethodDef, type MapMethodDef, type LayerMethodDef,
} from './explain';

// Figures and display: every figure displays itself as a cell's last expression.
export {
  show, toBundle, savePng, saveHtml, setDisplayOptions, loadPlotly, registerRenderer, displayable, makeDisplayable,
  displayableResult, displayableResults, createProgress,
  heatmap, overlay, classDropdown, layerSlider, featureMaps, comparison, guidedImage, image, bars, gallery,
} from './notebook';

/** The model layer: engine, graph execution, heads, metadata, file IO. */
export * as model from './model';
/** The article's quantities as pure functions on plain arrays (no tfjs). */
export * as math from './explain/maps';
/** Every method's registered object (its equation, paper, def) and the identity checks. */
export * as methods from './explain';
/** Pure figure specs, colour maps and PNG encoding. */
export * as render from './render';
/** Display internals for tslab: bundles, the renderer registry, the kernel writer, progress bars. */
export * as display from './notebook';
export { syntheticExample } from './render/synthetic';

// Measuring explanations: evaluate() at the root, the metric registry and the rest in `eval`.
export { evaluate } from './notebook/evaluation';
export type { EvalSample, EvalTable, EvalCell } from './eval';
/** The eval layer: metrics (a registry like the methods'), evaluate, the sanity check, their figures. */
export * as eval from './eval-api';

// The explain layer returns plain data; these wrappers make what it returns display itself as a
// cell's last expression in tslab (and print one line elsewhere). Same signatures.
export const gap = withDisplay(explainLayer.gap);
export const cam = withDisplay(explainLayer.cam);
export const gradCam = withDisplay(explainLayer.gradCam);
export const guidedBackprop = withDisplay(explainLayer.guidedBackprop);
export const guidedGradCam = withDisplay(explainLayer.guidedGradCam);
export const gapBatch = withDisplay(explainLayer.gapBatch);
export const camBatch = withDisplay(explainLayer.camBatch);
export const gradCamBatch = withDisplay(explainLayer.gradCamBatch);
export const guidedBackpropBatch = withDisplay(explainLayer.guidedBackpropBatch);
export const guidedGradCamBatch = withDisplay(explainLayer.guidedGradCamBatch);
export const gradCamPlusPlus = withDisplay(explainLayer.gradCamPlusPlus);
export const xGradCam = withDisplay(explainLayer.xGradCam);
export const hiResCam = withDisplay(explainLayer.hiResCam);
export const gradCamElementWise = withDisplay(explainLayer.gradCamElementWise);
export const layerCam = withDisplay(explainLayer.layerCam);
export const eigenCam = withDisplay(explainLayer.eigenCam);
export const eigenGradCam = withDisplay(explainLayer.eigenGradCam);
export const gradCamPlusPlusBatch = withDisplay(explainLayer.gradCamPlusPlusBatch);
export const xGradCamBatch = withDisplay(explainLayer.xGradCamBatch);
export const hiResCamBatch = withDisplay(explainLayer.hiResCamBatch);
export const gradCamElementWiseBatch = withDisplay(explainLayer.gradCamElementWiseBatch);
export const layerCamBatch = withDisplay(explainLayer.layerCamBatch);
export const eigenCamBatch = withDisplay(explainLayer.eigenCamBatch);
export const eigenGradCamBatch = withDisplay(explainLayer.eigenGradCamBatch);
export const scoreCam = withDisplay(explainLayer.scoreCam);
export const scoreCamBatch = withDisplay(explainLayer.scoreCamBatch);
export const ablationCam = withDisplay(explainLayer.ablationCam);
export const ablationCamBatch = withDisplay(explainLayer.ablationCamBatch);
export const randomCam = withDisplay(explainLayer.randomCam);
export const randomCamBatch = withDisplay(explainLayer.randomCamBatch);
export const fullGrad = withDisplay(explainLayer.fullGrad);
export const fullGradBatch = withDisplay(explainLayer.fullGradBatch);
export const smoothGrad = withDisplay(explainLayer.smoothGrad);
export const smoothGradBatch = withDisplay(explainLayer.smoothGradBatch);
export const compareMethods = withDisplay(explainLayer.compareMethods);
export const explain = withDisplay(explainLayer.explain);
export const verify = withDisplay(explainLayer.verify);
export const walkthrough = withDisplay(explainLayer.walkthrough);
