/** Display in tslab notebooks: bundles, the renderer registry, show(), figures, progress bars. */
export {
  PLOTLY_MIME, figureBundle, figureHtml, htmlBundle, isDisplayBundle, type BundleOptions, type DisplayBundle,
} from './bundle';
export {
  displayBundle, displayable, findRenderer, loadPlotly, pageHtml, registerRenderer, rendererNames, saveHtml, savePng, setDisplayOptions, show, toBundle,
  type Rendered, type RendererEntry, type RendererOptions, type SessionDisplayOptions, type ShowOptions, type SummaryFn,
} from './display';
export { inTslab, kernelWriter, sendDisplay, useDisplayWriter, type Delivery, type DisplayContent, type WriteDisplayData } from './kernel';
export { PLOTLY_PACKAGE, PLOTLY_READY_EVENT, plotlyEmbedded, plotlySource, markPlotlyEmbedded } from './plotly-embed';
export {
  createProgress, progressBarSink, progressHtml, progressText, type Progress, type ProgressBarSinkOptions, type ProgressOptions, type ProgressState,
  type TextSink,
} from './progress';
export {
  arrayFigure, bars, classDropdown, comparison, displayableResult, displayableResults, featureMaps, gallery, guidedImage, heatmap,
  identityChecksBundle, image, isIdentityCheck, isNDArray, isTensorLike, layerSlider, overlay,
  makeDisplayable, registerDefaultRenderers, resultFigure, resultListFigure, resultListSummary, resultSummary, summaryOf,
  tensorToNDArray, withDisplay,
} from './renderers';
export {
  displayableWalkthrough, isWalkthrough, isWalkthroughStep, registerWalkthroughRenderers, stepBundle, stepFigure, stepSummary,
  walkthroughBundle, type StepLike, type WalkthroughLike,
} from './walkthrough';
export {
  evalBars, evalCurves, evalTableBundle, evalTableHtml, evalTableSummary, isEvalTable, isSanityReport, registerEvalRenderers, sanityCurves,
  sanityVerdictsHtml, evaluate, sanityCheck,
} from './evaluation';
