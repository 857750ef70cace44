/**
 * Progress callback used by training and evaluation. The data layer must not import the
 * notebook layer, so callers pass whatever display they have (terminal bar, notebook bar).
 */
export type ProgressFn = (done: number, total: number, info?: string) => void;
