// The spectrum diagnostics against answers known in closed form: eigenvalues of Q Λ Qᵀ for random orthogonal Q
// (repeated, zero and negative eigenvalues included), effective rank of flat, rank-1 and hand-computed spectra, and
// the effective rank and mean std of rows whose covariance is known exactly, through both the D×D covariance and
// the n×n Gram matrix.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { covarianceSpectrum, effectiveRank, spreadStats, symmetricEigenvalues } from '../../src/eval/spectrum.ts';
import { Rng } from '../../src/rng.ts';

/** Q Λ Qᵀ, Q a product of random Householder reflections (orthogonal), row-major. */
function withSpectrum(lambda: number[], seed = 0): Float64Array {
  const n = lambda.length;
  const rng = Rng.fromSeed(seed, 'spectrum');
  let q = Float64Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0));
  for (let r = 0; r < 3; r++) {
    const v = Float64Array.from({ length: n }, () => rng.normal());
    const vv = v.reduce((s, x) => s + x * x, 0);
    // Q ← Q (I − 2 v vᵀ / vᵀv)
    const next = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      let qv = 0;
      for (let k = 0; k < n; k++) qv += q[i * n + k]! * v[k]!;
      for (let j = 0; j < n; j++) next[i * n + j] = q[i * n + j]! - (2 * qv * v[j]!) / vv;
    }
    q = next;
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j]! += q[i * n + k]! * lambda[k]! * q[j * n + k]!;
  return a;
}

const close = (got: ArrayLike<number>, want: number[], tol: number, what: string) => {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
};

describe('symmetric eigenvalues', () => {
  test('1×1, 2×2 and diagonal matrices', () => {
    close(symmetricEigenvalues([3], 1), [3], 0, '1×1');
    // [[2, 1], [1, 2]]: 3 and 1
    close(symmetricEigenvalues([2, 1, 1, 2], 2), [3, 1], 1e-14, '2×2');
    close(symmetricEigenvalues([1, 0, 0, 0, 5, 0, 0, 0, -2], 3), [5, 1, -2], 0, 'diagonal');
    close(symmetricEigenvalues(new Float64Array(16), 4), [0, 0, 0, 0], 0, 'zero');
  });

  test('Q Λ Qᵀ gives back Λ, sorted descending: distinct, repeated, zero and negative eigenvalues', () => {
    const cases: number[][] = [
      [5, 4, 3, 2, 1],
      [1, 1, 1, 1, 1, 1, 1, 1],
      [7, 0, 0, 0, 0, 0],
      [3, -1, 2, 2, 0.5, -4, 1e-3, 10],
      Array.from({ length: 40 }, (_, i) => Math.exp(-i / 4)),
    ];
    for (const [k, lambda] of cases.entries()) {
      const a = withSpectrum(lambda, k);
      const copy = Float64Array.from(a);
      close(symmetricEigenvalues(a, lambda.length), [...lambda].sort((x, y) => y - x), 1e-12 * Math.max(...lambda.map(Math.abs)) * lambda.length, `case ${k}`);
      assert.deepEqual(a, copy, 'the input is left as it was');
    }
  });

  test('a wrong size is an error naming both sizes', () => {
    assert.throws(() => symmetricEigenvalues([1, 2, 3], 2), /expected 2×2 = 4 values, got 3/);
  });
});

describe('effective rank', () => {
  test('flat spectrum → its length; rank 1 → 1; (4, 2, 1, 1) → 2^1.75; zero → 0; round-off negatives ignored', () => {
    assert.ok(Math.abs(effectiveRank(new Float64Array(64).fill(0.3)) - 64) < 1e-12);
    assert.equal(effectiveRank([5, 0, 0, 0]), 1);
    // p = (1/2, 1/4, 1/8, 1/8): H = (1/2 + 1/2 + 3/4) ln 2
    assert.ok(Math.abs(effectiveRank([4, 2, 1, 1]) - 2 ** 1.75) < 1e-12);
    assert.equal(effectiveRank([0, 0, 0]), 0);
    assert.equal(effectiveRank([]), 0);
    assert.equal(effectiveRank([2, 2, -1e-17]), effectiveRank([2, 2]));
  });
});

describe('spread of features', () => {
  test('identity-like rows (±√(n−1)/√2·eᵢ): erank D, std 1', () => {
    const D = 16;
    const n = 2 * D;
    const s = Math.sqrt((n - 1) / 2);
    const x = new Float32Array(n * D);
    for (let d = 0; d < D; d++) {
      x[2 * d * D + d] = s;
      x[(2 * d + 1) * D + d] = -s;
    }
    // covariance: each dimension has two rows ±s, Σ x² / (n−1) = 2s²/(n−1) = 1
    const r = spreadStats(x, n, D);
    assert.ok(Math.abs(r.erank - D) < 1e-6, `erank ${r.erank}`);
    assert.ok(Math.abs(r.std - 1) < 1e-6, `std ${r.std}`);
    assert.equal(r.dim, D);
  });

  test('rows on one line (rank 1) → erank 1; every row the same → 0 and 0; known diagonal covariance', () => {
    const rng = Rng.fromSeed(1, 'rows');
    const [n, D] = [50, 8];
    const u = Float32Array.from({ length: D }, () => rng.normal());
    const line = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      const t = rng.normal();
      for (let d = 0; d < D; d++) line[i * D + d] = 3 + t * u[d]!;
    }
    assert.ok(Math.abs(spreadStats(line, n, D).erank - 1) < 1e-6);
    const same = new Float32Array(n * D).fill(0.7);
    assert.deepEqual(spreadStats(same, n, D), { erank: 0, std: 0, dim: D });
    assert.deepEqual(spreadStats(same.subarray(0, D), 1, D), { erank: 0, std: 0, dim: D }, 'one row: no spread');
    // rows ±(a·e₀), ±(b·e₁), ±(c·e₂), ±(c·e₃) with a² : b² : c² = 4 : 2 : 1: covariance diag(4, 2, 1, 1)·k
    const [a, b, c] = [2, Math.SQRT2, 1];
    const rows = [[a, 0, 0, 0], [-a, 0, 0, 0], [0, b, 0, 0], [0, -b, 0, 0], [0, 0, c, 0], [0, 0, -c, 0], [0, 0, 0, c], [0, 0, 0, -c]];
    const r = spreadStats(Float32Array.from(rows.flat()), 8, 4);
    assert.ok(Math.abs(r.erank - 2 ** 1.75) < 1e-6, `erank ${r.erank}`);
    const k = 2 / 7;
    assert.ok(Math.abs(r.std - (Math.sqrt(4 * k) + Math.sqrt(2 * k) + 2 * Math.sqrt(k)) / 4) < 1e-6, `std ${r.std}`);
  });

  test('fewer rows than dimensions: the Gram matrix gives the covariance\'s nonzero spectrum', () => {
    const rng = Rng.fromSeed(2, 'gram');
    const [n, D] = [10, 30];
    const x = Float32Array.from({ length: n * D }, () => rng.normal());
    const mean = Array.from({ length: D }, (_, d) => Array.from({ length: n }, (_, i) => x[i * D + d]!).reduce((s, v) => s + v, 0) / n);
    const cov = new Float64Array(D * D);
    for (let i = 0; i < n; i++) for (let p = 0; p < D; p++) for (let q = 0; q < D; q++) cov[p * D + q]! += ((x[i * D + p]! - mean[p]!) * (x[i * D + q]! - mean[q]!)) / (n - 1);
    const full = symmetricEigenvalues(cov, D);
    const gram = covarianceSpectrum(x, n, D);
    assert.equal(gram.length, n);
    close(gram, [...full.subarray(0, n)], 1e-9, 'nonzero spectrum');
    for (const l of full.subarray(n - 1)) assert.ok(Math.abs(l) < 1e-9, 'centring leaves at most n − 1 nonzero eigenvalues');
    assert.ok(Math.abs(effectiveRank(gram) - effectiveRank(full)) < 1e-9);
    // More rows than dimensions: the D×D covariance itself.
    const tall = covarianceSpectrum(x, n, 5);
    assert.equal(tall.length, 5);
  });
});
