/**
 * tslab-cam: GAP → CAM → Grad-CAM → Guided Backprop → Guided Grad-CAM for TensorFlow.js models,
 * checked equation by equation and shown inline in tslab notebooks.
 *
 * Layers: model (load, inspect, scores, engine) → explain (math, plain data) → render (figures)
 * → notebook (display bundles for tslab).
 */
export { TslabCamError, type ErrorCode } from './errors';
export { initBackend, backendInfo, type BackendInfo, type BackendName, type BackendOptions } from './model/backend';
export { listLayers, findTargetLayer, resolveLayer, type LayerInfo } from './model/inspect';
export { findGapHead, type GapHead } from './model/head';
export { loadModel, saveModel, modelFileIOHandler, weightSpecBytes, DEFAULT_MAX_WEIGHT_BYTES, DEFAULT_SHARD_BYTES,
  type ModelSource, type LoadModelOptions, type SaveModelOptions, type SavedModelFiles } from './model/load';
export { loadGraphModel, loadLayersModel, type ExplainableModel } from './model/load';
export { listNodes, findTargetNode, graphInputName, describeGraphScoreHead } from './model/graphmodel';
export { builtinNames, builtinSamples, modelMetaOf, readModelMeta, type ModelMeta, type BuiltinSample } from './model/builtin';
export { loadImage, type ImageSource, type LoadImageOptions } from './model/image';
export { runEngine, type EngineOptions, type EngineOutput, type ClassChoice } from './model/engine';
export { describeScoreHead, type ScoreKind } from './model/graph';
export * from './explain';
export * from './notebook';
/** Pure figure specs, colour maps and PNG encoding (a namespace: its Rgb differs from the scenes' Rgb). */
export * as render from './render';
export { syntheticExample } from './render/synthetic';
export { tf } from './model/backend';

// The explain layer returns plain data; these wrappers make what it returns display itself as a
// cell's last expression in tslab (and print one line elsewhere). Same signatures.
import * as explainLayer from './explain';
import { withDisplay } from './notebook';
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
export const explain = withDisplay(explainLayer.explain);
export const verify = withDisplay(explainLayer.verify);
export const walkthrough = withDisplay(explainLayer.walkthrough);
