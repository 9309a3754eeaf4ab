// 2-D PCA for the page's map of the sample's embeddings: the top two principal directions of the mean-centred rows by
// power iteration on XᵀX (never forming the dim × dim covariance), the second deflated against the first. The start
// vector is a seeded normal draw (the report's PCA uses the same stream), and each direction's sign is fixed (its
// largest |coordinate| positive), so the same rows always give the same map and a redraw does not mirror it.
import { Rng } from '../../rng.ts';

export interface Pca2 {
  /** (dim) the rows' mean */
  mean: Float64Array;
  /** two unit, orthogonal (dim) directions; a direction the rows do not vary along is all zeros */
  components: [Float64Array, Float64Array];
  /** the rows' variance along each direction (covariance eigenvalues, divided by n) */
  variance: [number, number];
  /** the rows' total variance (trace of the covariance): variance[k] / total is the share a direction explains */
  total: number;
  /** (n, 2) row-major: each row's coordinates */
  points: Float64Array;
  /** a new (dim) row's coordinates on the same map */
  project(row: ArrayLike<number>): [number, number];
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>, n: number): number => {
  let s = 0;
  for (let d = 0; d < n; d++) s += a[d]! * b[d]!;
  return s;
};

/** v ← v / |v|; returns |v|. */
function normalise(v: Float64Array): number {
  const norm = Math.sqrt(dot(v, v, v.length));
  if (norm > 0) for (let d = 0; d < v.length; d++) v[d]! /= norm;
  return norm;
}

/** v ← v − Σ (u·v) u over the directions found so far. */
function deflate(v: Float64Array, found: Float64Array[]): void {
  for (const u of found) {
    const p = dot(u, v, v.length);
    for (let d = 0; d < v.length; d++) v[d]! -= p * u[d]!;
  }
}

/** Xcᵀ (Xc v): one multiplication by n × the covariance. xc (n, dim). */
function covTimes(xc: Float64Array, n: number, dim: number, v: Float64Array): Float64Array {
  const out = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    const row = xc.subarray(i * dim, (i + 1) * dim);
    const s = dot(row, v, dim);
    for (let d = 0; d < dim; d++) out[d]! += s * row[d]!;
  }
  return out;
}

/** x (n, dim) row-major → its two principal directions and every row's coordinates along them. */
export function pca2(x: ArrayLike<number>, n: number, dim: number, o: { iterations?: number; seed?: number } = {}): Pca2 {
  if (!(Number.isInteger(n) && n >= 1 && Number.isInteger(dim) && dim >= 1)) throw new RangeError(`pca2: expected n ≥ 1 rows of dim ≥ 1, got n = ${n}, dim = ${dim}`);
  if (x.length !== n * dim) throw new RangeError(`pca2: expected ${n} × ${dim} = ${n * dim} values, got ${x.length}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d]! += x[i * dim + d]!;
  for (let d = 0; d < dim; d++) mean[d]! /= n;
  const xc = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) xc[i * dim + d] = x[i * dim + d]! - mean[d]!;

  // trace(XcᵀXc): a direction with less than 1e-12 of it is rounding noise, not variation.
  const total = dot(xc, xc, xc.length);
  const rng = Rng.fromSeed(o.seed ?? 0, 'pca');
  const found: Float64Array[] = [];
  const variance: number[] = [];
  for (let c = 0; c < 2; c++) {
    let v: Float64Array = Float64Array.from({ length: dim }, () => rng.normal());
    deflate(v, found);
    let lambda = 0;
    if (normalise(v) > 0) {
      for (let it = 0; it < (o.iterations ?? 300); it++) {
        const next = covTimes(xc, n, dim, v);
        deflate(next, found);
        lambda = normalise(next);
        if (lambda === 0) break;
        let delta = 0;
        for (let d = 0; d < dim; d++) delta = Math.max(delta, Math.abs(next[d]! - v[d]!));
        v = next;
        if (delta < 1e-10) break;
      }
    }
    // λ = |XcᵀXc v| for the last unit v: n × the variance along v.
    if (!(lambda > 1e-12 * total)) {
      v = new Float64Array(dim);
      lambda = 0;
    }
    let big = 0;
    for (let d = 1; d < dim; d++) if (Math.abs(v[d]!) > Math.abs(v[big]!)) big = d;
    if (v[big]! < 0) for (let d = 0; d < dim; d++) v[d] = -v[d]!;
    found.push(v);
    variance.push(lambda / n);
  }
  const [a, b] = found as [Float64Array, Float64Array];

  const points = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    const row = xc.subarray(i * dim, (i + 1) * dim);
    points[2 * i] = dot(row, a, dim);
    points[2 * i + 1] = dot(row, b, dim);
  }
  const project = (row: ArrayLike<number>): [number, number] => {
    if (row.length !== dim) throw new RangeError(`pca2.project: expected a row of ${dim} values, got ${row.length}`);
    let p = 0;
    let q = 0;
    for (let d = 0; d < dim; d++) {
      const centred = row[d]! - mean[d]!;
      p += centred * a[d]!;
      q += centred * b[d]!;
    }
    return [p, q];
  };
  return { mean, components: [a, b], variance: [variance[0]!, variance[1]!], total: total / n, points, project };
}
