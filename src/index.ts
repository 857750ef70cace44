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
export { builtinNames, builtinSamples, modelMetaOf, readModelMeta, type ModelMeta, type BuiltinSample } from './model/builtin';
export { loadImage, type ImageSource, type LoadImageOptions } from './model/image';
export { runEngine, type EngineOptions, type EngineOutput, type ClassChoice } from './model/engine';
export { describeScoreHead, type ScoreKind } from './model/graph';
export * from './explain';
export { tf } from './model/backend';
