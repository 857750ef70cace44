/**
 * The `eval` namespace of the package root: the eval layer (metrics registry, evaluate, the sanity
 * check, the metric functions on plain data) with the notebook's displaying versions of evaluate()
 * and sanityCheck() and the evaluation figures.
 */
export * from './eval';
export { evaluate, sanityCheck, evalBars, evalCurves, sanityCurves, evalTableHtml, sanityVerdictsHtml } from './notebook/evaluation';
export { evalBarsFigure, perturbationCurvesFigure, sanityFigure, curvesFigure, type Curve } from './render/evalfigures';
