// Features → 2-D points for pictures: PCA (the top two principal directions by power iteration on XᵀX, never forming
// the D×D covariance), t-SNE (@keckelt/tsne) and UMAP (umap-js), all seeded by the project's Rng.
import { TSNE } from '@keckelt/tsne';
import { UMAP } from 'umap-js';
import { Rng } from '../rng.ts';
import { centred } from './spectrum.ts';

export type Method = 'pca' | 'tsne' | 'umap';
export const METHODS: readonly Method[] = ['pca', 'tsne', 'umap'];

/** (n, 2) points, row-major. */
export type Points = Float64Array;

/** v ← Xᵀ(X v): one multiplication by the (unnormalised) covariance. */
function covTimes(xc: Float64Array, n: number, D: number, v: Float64Array): Float64Array {
  const out = new Float64Array(D);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += xc[i * D + d]! * v[d]!;
    for (let d = 0; d < D; d++) out[d]! += s * xc[i * D + d]!;
  }
  return out;
}

function normalise(v: Float64Array): number {
  let sq = 0;
  for (let d = 0; d < v.length; d++) sq += v[d]! * v[d]!;
  const norm = Math.sqrt(sq);
  if (norm > 0) for (let d = 0; d < v.length; d++) v[d]! /= norm;
  return norm;
}

/** The top-`k` principal directions (unit, orthogonal), by power iteration with deflation. */
export function principalDirections(x: Float32Array, n: number, D: number, k = 2, o: { iterations?: number; seed?: number } = {}): Float64Array[] {
  const xc = centred(x, n, D);
  const rng = Rng.fromSeed(o.seed ?? 0, 'pca');
  const dirs: Float64Array[] = [];
  for (let c = 0; c < Math.min(k, D); c++) {
    let v: Float64Array = Float64Array.from({ length: D }, () => rng.normal());
    for (let it = 0; it < (o.iterations ?? 200); it++) {
      for (const u of dirs) {
        let p = 0;
        for (let d = 0; d < D; d++) p += u[d]! * v[d]!;
        for (let d = 0; d < D; d++) v[d]! -= p * u[d]!;
      }
      if (normalise(v) === 0) break;
      const next = covTimes(xc, n, D, v);
      for (const u of dirs) {
        let p = 0;
        for (let d = 0; d < D; d++) p += u[d]! * next[d]!;
        for (let d = 0; d < D; d++) next[d]! -= p * u[d]!;
      }
      normalise(next);
      let delta = 0;
      for (let d = 0; d < D; d++) delta = Math.max(delta, Math.abs(next[d]! - v[d]!));
      v = next;
      if (delta < 1e-10) break;
    }
    dirs.push(v);
  }
  return dirs;
}

export function pca2(x: Float32Array, n: number, D: number, seed = 0): Points {
  const [a, b] = principalDirections(x, n, D, 2, { seed });
  const xc = centred(x, n, D);
  const out = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    let p = 0;
    let q = 0;
    for (let d = 0; d < D; d++) {
      p += xc[i * D + d]! * a![d]!;
      q += xc[i * D + d]! * (b ? b[d]! : 0);
    }
    out[2 * i] = p;
    out[2 * i + 1] = q;
  }
  return out;
}

const rows = (x: Float32Array, n: number, D: number): number[][] => Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * D, (i + 1) * D)));

export function tsne2(x: Float32Array, n: number, D: number, o: { perplexity?: number; iterations?: number; seed?: number } = {}): Points {
  const rng = Rng.fromSeed(o.seed ?? 0, 'tsne');
  const t = new TSNE({ dim: 2, perplexity: Math.min(o.perplexity ?? 30, Math.max(2, (n - 1) / 3)), epsilon: 10 });
  // The library draws its initial solution from Math.random; this draws it from the run's seeded stream instead.
  t.gaussRandom = () => rng.normal();
  t.initDataRaw(rows(x, n, D));
  for (let i = 0; i < (o.iterations ?? 500); i++) t.step();
  return Float64Array.from((t.getSolution() as number[][]).flat());
}

export function umap2(x: Float32Array, n: number, D: number, o: { neighbours?: number; seed?: number } = {}): Points {
  const rng = Rng.fromSeed(o.seed ?? 0, 'umap');
  const u = new UMAP({ nComponents: 2, nNeighbors: Math.max(2, Math.min(o.neighbours ?? 15, n - 1)), random: () => rng.uniform() });
  return Float64Array.from(u.fit(rows(x, n, D)).flat());
}

export function embed2d(method: Method, x: Float32Array, n: number, D: number, seed = 0): Points {
  if (method === 'pca') return pca2(x, n, D, seed);
  if (method === 'tsne') return tsne2(x, n, D, { seed });
  return umap2(x, n, D, { seed });
}

/** At most `max` row indices, an even seeded sample when there are more (t-SNE and UMAP grow as n²/n log n). */
export function subsample(n: number, max: number, seed = 0): Int32Array {
  if (n <= max) return Int32Array.from({ length: n }, (_, i) => i);
  return Rng.fromSeed(seed, 'subsample').permutation(n).subarray(0, max).sort();
}
