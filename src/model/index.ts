/** The model layer: load, inspect, execute, gradients. */
export { initBackend, backendInfo, type BackendInfo, type BackendName, type BackendOptions } from './backend';
export { listLayers, findTargetLayer, resolveLayer, type LayerInfo } from './inspect';
export { findGapHead, denseWeights, type GapHead } from './head';
export { loadModel, saveModel, modelFileIOHandler, weightSpecBytes, DEFAULT_MAX_WEIGHT_BYTES, DEFAULT_SHARD_BYTES,
  type ModelSource, type LoadModelOptions, type SaveModelOptions, type SavedModelFiles } from './load';
export { builtinNames, builtinSamples, modelMetaOf, readModelMeta, type ModelMeta, type BuiltinSample } from './builtin';
export { loadImage, type ImageSource, type LoadImageOptions } from './image';
export { runEngine, chooseClasses, type EngineOptions, type EngineOutput, type ClassChoice } from './engine';
export { runGraph, runUntil, describeScoreHead, type ScoreKind, type GraphRunOptions, type GraphRun } from './graph';
