/** Small statistics for the eval layer: means with confidence intervals, ranks, Spearman, SSIM. */
import type { Estimate } from './types';

/**
 * Mean and 95% confidence interval by the normal approximation, mean ± 1.96·s/√n (s the sample
 * standard deviation). NaN values (a metric undefined on an image) are left out and not counted.
 */
export function estimate(values: readonly number[]): Estimate {
  const v = values.filter((x) => !Number.isNaN(x));
  const n = v.length;
  if (!n) return { mean: NaN, low: NaN, high: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const s = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const h = 1.96 * s / Math.sqrt(n);
  return { mean, low: mean - h, high: mean + h, n };
}

/** Ranks 1…n with ties given their average rank (as Spearman's ρ needs). */
export function ranks(x: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(x.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Pearson correlation; 0 when either side is constant (no ordering to agree with). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

/**
 * Spearman's rank correlation ρ = Pearson correlation of the ranks (Adebayo et al. 2018 compare
 * saliency maps by it). A constant map has no ranking: ρ = 0.
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return pearson(ranks(a), ranks(b));
}

/**
 * Structural similarity (Wang et al. 2004) of two maps in [0, 1], over 7×7 windows with uniform
 * weights, C1 = (0.01)², C2 = (0.03)², averaged over every window position.
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, window = 7): number {
  const height = a.length / width;
  const w = Math.min(window, width, height);
  const c1 = 0.01 ** 2, c2 = 0.03 ** 2, n = w * w;
  let total = 0, count = 0;
  for (let y = 0; y + w <= height; y++) {
    for (let x = 0; x + w <= width; x++) {
      let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (let dy = 0; dy < w; dy++) {
        for (let dx = 0; dx < w; dx++) {
          const i = (y + dy) * width + x + dx, p = a[i], q = b[i];
          sa += p; sb += q; saa += p * p; sbb += q * q; sab += p * q;
        }
      }
      const ma = sa / n, mb = sb / n;
      const va = saa / n - ma * ma, vb = sbb / n - mb * mb, cov = sab / n - ma * mb;
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      count++;
    }
  }
  return total / count;
}
