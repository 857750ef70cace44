/**
 * The first principal component of a layer's (h, w, K) values, as Eigen-CAM, Eigen-Grad-CAM and
 * eigen smoothing use it. Pure math, no tfjs.
 *
 * Rows are the Z = h·w positions, columns the K channels. Each channel is centred over the
 * positions (pytorch-grad-cam's get_2d_projection does the same; without it the map comes out
 * mostly negative), and the centred matrix A is projected on its first right singular vector v:
 * p = A v, an (h, w) map whose variance is the largest of any unit projection.
 *
 * v is the top eigenvector of the smaller Gram matrix (AᵀA, K×K, or AAᵀ, Z×Z), found in float64
 * by power iteration from a fixed start vector (after repeated squaring when the matrix is small),
 * so the result is the same on every run and backend.
 *
 * The sign of a principal component is arbitrary (SVD may return −v). We fix it so that the
 * projection correlates positively with the channel mean m(x,y) = (1/K) Σ_k a_k(x,y) of the
 * uncentred values: where the layer is on average more active, the map is higher. If that
 * correlation is zero, the sign makes the largest |p| positive (pytorch-grad-cam's newer sign
 * correction, Seg-Eigen-CAM Eq. 13).
 */
import type { NDArray } from './types';

/** Power-iteration settings: stop when the unit vector moves less than TOL, at most ITERS steps. */
const ITERS = 2000;
const TOL = 1e-10;

/** A fixed, well-spread start vector (not all-ones: the centred AAᵀ has 1 in its null space). */
function startVector(n: number): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = 1 + 0.5 * Math.sin(1.7 * i + 0.3);
  return v;
}

/** Gram matrices up to this size are first squared repeatedly (n³ each) before the power iteration. */
const SQUARE_MAX_N = 160;
const SQUARINGS = 10;

/** G·G scaled to unit Frobenius norm (G symmetric): one squaring is two power steps at once. */
function squared(G: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  let norm = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += G[i * n + k] * G[k * n + j];
      out[i * n + j] = s;
      out[j * n + i] = s;
      norm += i === j ? s * s : 2 * s * s;
    }
  }
  norm = Math.sqrt(norm);
  return norm > 0 ? out.map((x) => x / norm) : out;
}

/** G v for an n×n row-major G. */
function times(G: Float64Array, n: number, v: Float64Array): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += G[i * n + j] * v[j];
    out[i] = s;
  }
  return out;
}

/** v / |v|, or null for the zero vector. */
function unit(v: Float64Array): Float64Array | null {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return norm > 0 ? v.map((x) => x / norm) : null;
}

/**
 * The top eigenvector of a symmetric positive semi-definite n×n matrix G (row-major). At a small
 * eigengap plain power iteration needs thousands of steps (error ∝ (λ₂/λ₁)^steps); for small G,
 * SQUARINGS squarings (n³ each) stand in for 1,024 of them, then power steps polish v until it
 * moves less than TOL.
 */
function topEigenvector(G: Float64Array, n: number): Float64Array {
  let v = unit(startVector(n))!;
  if (n <= SQUARE_MAX_N) {
    let P = G;
    for (let s = 0; s < SQUARINGS; s++) P = squared(P, n);
    v = unit(times(P, n, v)) ?? v;
  }
  for (let it = 0; it < ITERS; it++) {
    const next = unit(times(G, n, v));
    if (!next) return new Float64Array(n);
    let change = 0;
    for (let i = 0; i < n; i++) change = Math.max(change, Math.abs(next[i] - v[i]));
    v = next;
    if (change < TOL) break;
  }
  return v;
}

/** The centred (Z, K) matrix in float64: a_k(x,y) − mean_{x,y} a_k. */
function centred(a: NDArray): { A: Float64Array; Z: number; K: number } {
  const [h, w, K] = a.shape;
  const Z = h * w;
  const mean = new Float64Array(K);
  for (let p = 0; p < Z; p++) for (let k = 0; k < K; k++) mean[k] += a.data[p * K + k];
  for (let k = 0; k < K; k++) mean[k] /= Z;
  const A = new Float64Array(Z * K);
  for (let p = 0; p < Z; p++) for (let k = 0; k < K; k++) A[p * K + k] = a.data[p * K + k] - mean[k];
  return { A, Z, K };
}

/** v, the first right singular vector of the centred matrix (unit length, K values). */
function firstComponent(A: Float64Array, Z: number, K: number): Float64Array {
  if (K <= Z) {
    const G = new Float64Array(K * K);
    for (let p = 0; p < Z; p++) {
      for (let i = 0; i < K; i++) {
        const ai = A[p * K + i];
        if (ai === 0) continue;
        for (let j = 0; j < K; j++) G[i * K + j] += ai * A[p * K + j];
      }
    }
    return topEigenvector(G, K);
  }
  const G = new Float64Array(Z * Z);
  for (let p = 0; p < Z; p++) {
    for (let q = p; q < Z; q++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += A[p * K + k] * A[q * K + k];
      G[p * Z + q] = s;
      G[q * Z + p] = s;
    }
  }
  const u = topEigenvector(G, Z);
  // v ∝ Aᵀu
  const v = new Float64Array(K);
  for (let p = 0; p < Z; p++) for (let k = 0; k < K; k++) v[k] += A[p * K + k] * u[p];
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return norm > 0 ? v.map((x) => x / norm) : v;
}

/**
 * p(x,y) = Σ_k (a_k(x,y) − ā_k) v_k: the projection of the centred values on their first principal
 * component, with the sign fixed as the module doc says. (h, w) values; all zeros when a is constant.
 */
export function firstPrincipalProjection(a: NDArray): Float32Array {
  const { A, Z, K } = centred(a);
  const v = firstComponent(A, Z, K);
  const p = new Float64Array(Z);
  for (let i = 0; i < Z; i++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += A[i * K + k] * v[k];
    p[i] = s;
  }
  const sign = signOf(p, a);
  return Float32Array.from(p, (x) => x * sign);
}

/** +1 or −1: the sign that makes p correlate positively with the channel mean (see the module doc). */
function signOf(p: Float64Array, a: NDArray): number {
  const K = a.shape[2];
  const Z = p.length;
  const m = new Float64Array(Z);
  let mMean = 0;
  for (let i = 0; i < Z; i++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += a.data[i * K + k];
    m[i] = s / K;
    mMean += m[i] / Z;
  }
  let corr = 0;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < Z; i++) {
    corr += p[i] * (m[i] - mMean);
    lo = Math.min(lo, p[i]);
    hi = Math.max(hi, p[i]);
  }
  const scale = Math.max(hi, -lo, 1e-300);
  if (Math.abs(corr) > 1e-9 * scale) return corr > 0 ? 1 : -1;
  return -lo > hi ? -1 : 1;
}

/** The (h, w, K) element-wise product x_k(x,y)·y_k(x,y) of two same-shape arrays (e.g. ∂S_c/∂f ⊙ f). */
export function hadamard(x: NDArray, y: NDArray): NDArray {
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = x.data[i] * y.data[i];
  return { data: out, shape: x.shape };
}

/** Σ_k e_k(x,y) over channels of an (h, w, K) array: an (h, w) map. */
export function channelSum(e: NDArray): Float32Array {
  const [h, w, K] = e.shape;
  const out = new Float32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += e.data[p * K + k];
    out[p] = s;
  }
  return out;
}

/** α_k f_k(x,y) for every channel: the weighted activations eigen smoothing projects. */
export function weightedActivations(f: NDArray, alpha: ArrayLike<number>): NDArray {
  const K = f.shape[2];
  const out = new Float32Array(f.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f.data[i] * alpha[i % K];
  return { data: out, shape: f.shape };
}
