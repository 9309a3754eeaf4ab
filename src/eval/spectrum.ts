// The spectrum of a set of features, for collapse diagnostics: the eigenvalues of their covariance (Householder
// tridiagonalisation, then implicit QL; eigenvalues only, O(D³)), the effective rank of that spectrum (Roy & Vetterli
// 2007) and the mean per-dimension standard deviation.

/** x (n, D) row-major minus its column means, in float64. */
export function centred(x: Float32Array, n: number, D: number): Float64Array {
  const mean = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) mean[d]! += x[i * D + d]!;
  for (let d = 0; d < D; d++) mean[d]! /= n;
  const out = new Float64Array(n * D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) out[i * D + d] = x[i * D + d]! - mean[d]!;
  return out;
}

/**
 * The eigenvalues of the symmetric n×n matrix `a` (row-major; only its lower triangle is read), descending. `a` is
 * left as it was.
 */
export function symmetricEigenvalues(a: ArrayLike<number>, n: number): Float64Array {
  if (a.length !== n * n) throw new Error(`symmetricEigenvalues: expected ${n}×${n} = ${n * n} values, got ${a.length}`);
  const { d, e } = tridiagonal(Float64Array.from(a), n);
  tridiagonalEigenvalues(d, e);
  return d.sort().reverse();
}

/**
 * Householder reduction of symmetric `a` (overwritten) to tridiagonal T = QᵀAQ with the same eigenvalues: diagonal
 * `d` (n), subdiagonal `e` (e[i] = T[i+1][i], e[n-1] = 0). Step k zeroes column k below its subdiagonal with
 * H = I − β v vᵀ applied to the trailing block A₂₂ ((n−k−1)²) as A₂₂ − v wᵀ − w vᵀ, w = p − (β pᵀv / 2) v, p = β A₂₂ v.
 */
function tridiagonal(a: Float64Array, n: number): { d: Float64Array; e: Float64Array } {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const lo = k + 1;
    let norm2 = 0;
    for (let i = lo; i < n; i++) norm2 += a[i * n + k]! * a[i * n + k]!;
    const x0 = a[lo * n + k]!;
    const alpha = x0 > 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    d[k] = a[k * n + k]!;
    e[k] = alpha;
    // v = x − α e₁; vᵀv = 2(‖x‖² − α x₀)
    const vv = 2 * (norm2 - alpha * x0);
    if (vv === 0) {
      e[k] = x0;
      continue;
    }
    for (let i = lo; i < n; i++) v[i] = a[i * n + k]!;
    v[lo]! -= alpha;
    const beta = 2 / vv;
    // p = β A₂₂ v (lower triangle of A₂₂ only), then pᵀv
    let pv = 0;
    for (let i = lo; i < n; i++) {
      let s = 0;
      for (let j = lo; j <= i; j++) s += a[i * n + j]! * v[j]!;
      for (let j = i + 1; j < n; j++) s += a[j * n + i]! * v[j]!;
      p[i] = beta * s;
      pv += p[i]! * v[i]!;
    }
    const K = (beta * pv) / 2;
    for (let i = lo; i < n; i++) p[i]! -= K * v[i]!;
    for (let i = lo; i < n; i++) {
      const [vi, wi] = [v[i]!, p[i]!];
      for (let j = lo; j <= i; j++) a[i * n + j]! -= vi * p[j]! + wi * v[j]!;
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2]!;
    e[n - 2] = a[(n - 1) * n + n - 2]!;
  }
  if (n >= 1) d[n - 1] = a[(n - 1) * n + n - 1]!;
  return { d, e };
}

/**
 * The eigenvalues of the symmetric tridiagonal matrix (diagonal `d`, subdiagonal `e`, e[n-1] = 0) into `d`, unsorted,
 * by the QL algorithm with implicit Wilkinson shifts; `e` is destroyed.
 */
function tridiagonalEigenvalues(d: Float64Array, e: Float64Array): void {
  const n = d.length;
  for (let l = 0; l < n; l++) {
    for (let iter = 0; ; iter++) {
      // the first negligible subdiagonal at or after l splits off the block [l, m]
      let m = l;
      for (; m < n - 1; m++) if (Math.abs(e[m]!) <= Number.EPSILON * (Math.abs(d[m]!) + Math.abs(d[m + 1]!))) break;
      if (m === l) break;
      if (iter === 60) throw new Error(`symmetricEigenvalues: no convergence after 60 QL iterations at eigenvalue ${l} of ${n}`);
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? r : -r));
      let [s, c, p] = [1, 1, 0];
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // underflow: the block splits at i + 1
          d[i + 1]! -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (r === 0 && i >= l) continue;
      d[l]! -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/**
 * exp(H(p)), p_i = λ_i / Σλ: the effective rank of a spectrum (Roy & Vetterli 2007), between 1 (one direction) and
 * the number of eigenvalues (all equal). Negative eigenvalues (round-off of a positive semi-definite matrix) count as
 * 0; an all-zero spectrum has effective rank 0.
 */
export function effectiveRank(eigenvalues: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < eigenvalues.length; i++) sum += Math.max(eigenvalues[i]!, 0);
  if (!(sum > 0)) return 0;
  let h = 0;
  for (let i = 0; i < eigenvalues.length; i++) {
    const p = Math.max(eigenvalues[i]!, 0) / sum;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/**
 * The nonzero spectrum of the covariance XcᵀXc / (n−1) of x (n, D): from the D×D covariance, or from the n×n Gram
 * matrix XcXcᵀ / (n−1) (the same nonzero eigenvalues) when there are fewer rows than dimensions; descending.
 */
export function covarianceSpectrum(x: Float32Array, n: number, D: number): Float64Array {
  return n < 2 ? new Float64Array(Math.min(n, D)) : centredSpectrum(centred(x, n, D), n, D);
}

function centredSpectrum(xc: Float64Array, n: number, D: number): Float64Array {
  // lower triangle of the m×m dot products of the m rows of `r` (each `len` long): XcᵀXc from the columns of Xc
  // (D ≤ n), XcXcᵀ from its rows
  const [r, m, len] = D <= n ? [transpose(xc, n, D), D, n] : [xc, n, D];
  const c = new Float64Array(m * m);
  for (let a = 0; a < m; a++) {
    const ra = r.subarray(a * len, (a + 1) * len);
    for (let b = 0; b <= a; b++) {
      const rb = r.subarray(b * len, (b + 1) * len);
      let s = 0;
      for (let k = 0; k < len; k++) s += ra[k]! * rb[k]!;
      c[a * m + b] = s / (n - 1);
    }
  }
  return symmetricEigenvalues(c, m);
}

/** (n, D) → (D, n), row-major. */
function transpose(x: Float64Array, n: number, D: number): Float64Array {
  const t = new Float64Array(n * D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) t[d * n + i] = x[i * D + d]!;
  return t;
}

export interface SpreadStats {
  /** effective rank of the covariance spectrum: 1 = every row on one line, `dim` = isotropic */
  erank: number;
  /** mean over dimensions of the per-dimension (sample) standard deviation: 0 = every row the same */
  std: number;
  dim: number;
}

/**
 * How the rows of x (n, D) spread: effective rank of their covariance, mean per-dimension std, D. Fewer than 2 rows:
 * 0 and 0. Cost O(n·min(n, D)² + min(n, D)³): a few seconds for 10⁴ rows of 512 values, under one at 256.
 */
export function spreadStats(x: Float32Array, n: number, D: number): SpreadStats {
  if (n < 2) return { erank: 0, std: 0, dim: D };
  const xc = centred(x, n, D);
  const variance = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) variance[d]! += xc[i * D + d]! * xc[i * D + d]!;
  let std = 0;
  for (let d = 0; d < D; d++) std += Math.sqrt(variance[d]! / (n - 1));
  return { erank: effectiveRank(centredSpectrum(xc, n, D)), std: std / D, dim: D };
}
