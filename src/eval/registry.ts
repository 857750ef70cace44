/**
 * The list of metrics, built like the method registry (src/explain/registry.ts): each metric file
 * registers itself when it loads, and evaluate(), the tables and the README read this list, so a
 * new metric is one file and one import line in src/eval/metrics/index.ts. No tfjs here.
 */
import { TslabCamError } from '../errors';
import type { MetricInput, MetricNeed, MetricOptions, MetricValue } from './types';

/** What a metric says about itself. */
export interface MetricInfo {
  /** The key evaluate() takes in {metrics}. */
  readonly name: string;
  /** Human label, e.g. "Average Drop %". */
  readonly label: string;
  /** Ground truth and model access it needs. */
  readonly needs: readonly MetricNeed[];
  /** Which way is better. */
  readonly direction: 'higher' | 'lower';
  /** Where it comes from. */
  readonly paper: string;
  /** One line on what it measures, for tables and tutorials. */
  readonly description: string;
  /** Unit shown after the number: '%' for values already in percent, '' otherwise. */
  readonly unit: '%' | '';
}

/** A metric as the registry holds it. */
export interface RegisteredMetric extends MetricInfo {
  /** The metric on one image's map. */
  score(input: MetricInput, options: MetricOptions): MetricValue;
}

const metrics = new Map<string, RegisteredMetric>();

/** Adds a metric (a later registration under the same name replaces the earlier one). */
export function registerMetric(metric: RegisteredMetric): RegisteredMetric {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(metric.name)) {
    throw new TslabCamError('BAD_OPTION', `A metric name must be a word of letters, digits, '_' or '-', got '${metric.name}'.`,
      "Name it like 'energyPointing' or 'my-metric'.");
  }
  metrics.set(metric.name, metric);
  return metric;
}

/** Every registered metric's name, in registration order. */
export function metricNames(): string[] {
  return [...metrics.keys()];
}

/** The registered metric called `name`, or a BAD_OPTION error listing the known names. */
export function metricOf(name: unknown): RegisteredMetric {
  const m = typeof name === 'string' ? metrics.get(name) : undefined;
  if (!m) {
    const shown = typeof name === 'string' ? `'${name}'` : String(name);
    throw new TslabCamError('BAD_OPTION', `Unknown metric ${shown}.`, `Use one of ${metricNames().join(', ')}, or register it with registerMetric().`);
  }
  return m;
}

/** The metric's label, or its name when it is not registered. */
export function metricLabel(name: string): string {
  return metrics.get(name)?.label ?? name;
}
