/** Figures and images from plain data: plotly specs, colour maps, PNG fallbacks, escaping. */
export * from './colormap';
export * from './escape';
export * from './spec';
export * from './figures';
export { encodePng, imageDataUri, imagePixels, mapPixels, overlayPixels, renderScenePng, sceneSize, type PngOptions } from './png';
export { encodePng8, encodeIndexedPng } from './png8';
export { overlayPng, saveOverlayPng, type ArrayWithShape, type OverlayPngOptions } from './overlay';
export { syntheticExample, type SyntheticExample, type SyntheticOptions } from './synthetic';
