// The page's 2-D PCA against answers known by construction: rows spread along two known orthogonal directions of a
// rotated 5-D space by a full grid of coordinates (uncorrelated, variances 18 and 2) plus a constant offset, so the
// mean, the directions, their variances and every row's coordinates are known; a new row's projection; determinism
// and the sign convention; degenerate rows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pca2 } from '../../src/web/page/pca.ts';
import { Rng } from '../../src/rng.ts';

const dim = 5;
const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
// Two orthonormal directions (Gram–Schmidt by hand) and an offset.
const e1 = unit([1, 2, 0, -1, 3]);
const e2raw = [2, -1, 1, 0, 0];
const e2 = unit(e2raw.map((x, d) => x - e1[d]! * e2raw.reduce((s, y, k) => s + y * e1[k]!, 0)));
const offset = [5, -2, 0.5, 7, 1];

/** Rows offset + a·e1 + b·e2 for a ∈ 3·{−2, …, 2} and b ∈ {−2, …, 2}, every pair once (so Σ a·b = 0), shuffled. */
function rows(): { x: Float64Array; a: number[]; b: number[]; n: number } {
  const grid = [-2, -1, 0, 1, 2];
  const ordered = grid.flatMap((u) => grid.map((v) => [3 * u, v] as const));
  const pairs = [...Rng.fromSeed(7, 'pca-test').permutation(ordered.length)].map((k) => ordered[k]!);
  const a = pairs.map(([p]) => p);
  const b = pairs.map(([, q]) => q);
  const x = Float64Array.from(pairs.flatMap(([p, q]) => offset.map((o, d) => o + p * e1[d]! + q * e2[d]!)));
  return { x, a, b, n: pairs.length };
}

const close = (got: number, want: number, tol: number, what: string) => assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, expected ${want} ± ${tol}`);

describe('pca2', () => {
  const { x, a, b, n } = rows();
  const p = pca2(x, n, dim);

  test('the mean is the offset, the directions are ±e1 and ±e2, the variances are those of a and b', () => {
    for (let d = 0; d < dim; d++) close(p.mean[d]!, offset[d]!, 1e-12, `mean[${d}]`);
    const [c1, c2] = p.components;
    const s1 = Math.sign(c1.reduce((s, v, d) => s + v * e1[d]!, 0));
    const s2 = Math.sign(c2.reduce((s, v, d) => s + v * e2[d]!, 0));
    for (let d = 0; d < dim; d++) {
      close(c1[d]!, s1 * e1[d]!, 1e-9, `component 0 [${d}]`);
      close(c2[d]!, s2 * e2[d]!, 1e-9, `component 1 [${d}]`);
    }
    close(p.variance[0], 18, 1e-9, 'variance 0');
    close(p.variance[1], 2, 1e-9, 'variance 1');
    close(p.total, 20, 1e-9, 'total variance');
    // Each row's coordinates are its a and b (up to each direction's sign).
    for (let i = 0; i < n; i++) {
      close(p.points[2 * i]!, s1 * a[i]!, 1e-9, `row ${i} x`);
      close(p.points[2 * i + 1]!, s2 * b[i]!, 1e-9, `row ${i} y`);
    }
  });

  test('directions are unit, orthogonal and signed so their largest coordinate is positive', () => {
    const [c1, c2] = p.components;
    close(Math.hypot(...c1), 1, 1e-9, '|c1|');
    close(Math.hypot(...c2), 1, 1e-9, '|c2|');
    close(c1.reduce((s, v, d) => s + v * c2[d]!, 0), 0, 1e-9, 'c1·c2');
    for (const c of [c1, c2]) {
      const big = c.reduce((k, v, d) => (Math.abs(v) > Math.abs(c[k]!) ? d : k), 0);
      assert.ok(c[big]! > 0, `largest coordinate ${c[big]} is positive`);
    }
  });

  test('project places a row where points has it, and a new row by its offset from the mean', () => {
    for (const i of [0, 17, n - 1]) {
      const [u, v] = p.project(x.subarray(i * dim, (i + 1) * dim));
      close(u, p.points[2 * i]!, 1e-9, `project(row ${i}) x`);
      close(v, p.points[2 * i + 1]!, 1e-9, `project(row ${i}) y`);
    }
    const [c1, c2] = p.components;
    const fresh = offset.map((o, d) => o + 2 * c1[d]! - 0.5 * c2[d]!);
    const [u, v] = p.project(fresh);
    close(u, 2, 1e-9, 'new row x');
    close(v, -0.5, 1e-9, 'new row y');
    assert.throws(() => p.project([1, 2, 3]), /expected a row of 5 values, got 3/);
  });

  test('the same rows give the same map, bit for bit', () => {
    const q = pca2(x, n, dim);
    assert.deepEqual(q.points, p.points);
    assert.deepEqual(q.components, p.components);
  });

  test('rows along one line: the second direction is zeros with variance 0; equal rows: both are', () => {
    const line = Float32Array.from({ length: 4 * dim }, (_, k) => (Math.floor(k / dim) - 1.5) * e1[k % dim]!);
    const l = pca2(line, 4, dim);
    close(l.variance[0], 1.25, 1e-6, 'variance along the line');
    assert.equal(l.variance[1], 0);
    assert.ok(l.components[1].every((v) => v === 0), `second direction ${l.components[1]}`);
    assert.ok(l.points.every(Number.isFinite));

    const same = pca2(Float32Array.from({ length: 3 * dim }, (_, k) => k % dim), 3, dim);
    assert.deepEqual(same.variance, [0, 0]);
    assert.deepEqual([...same.points], [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(same.project([0, 1, 2, 3, 4]), [0, 0]);
  });

  test('bad shapes name what was expected and what was given', () => {
    assert.throws(() => pca2(new Float32Array(9), 2, 5), /pca2: expected 2 × 5 = 10 values, got 9/);
    assert.throws(() => pca2(new Float32Array(0), 0, 5), /expected n ≥ 1 rows of dim ≥ 1, got n = 0, dim = 5/);
  });
});
