// Weighted k-NN's arithmetic, with no file, process or ONNX Runtime access (browsers use it too): labelled-feature
// checks, L2 normalisation, a running top-k per row, and the votes and accuracies from neighbours (knn.ts: the
// protocol, chunked and in onnxruntime).
import { UserError } from '../errors.ts';

export interface LabeledFeatures {
  /** (N, dim) row-major */
  features: Float32Array;
  dim: number;
  labels: Int32Array;
  /** video of each row (views of a video share it); default: every row its own video */
  videos?: Int32Array;
}

export interface Accuracy {
  /** percent */
  top1: number;
  top5: number;
  count: number;
}

export interface KnnAccuracy {
  k: number;
  clip: Accuracy;
  video: Accuracy;
}

export interface Neighbours {
  k: number;
  /** (rows, k) similarities, descending per row; ties keep the lower train index first */
  sims: Float32Array;
  /** (rows, k) train row indices */
  index: Int32Array;
}

/** Checks one labelled set; `what` names it in the message (`train features`, `test features`). */
export function checkLabeled(what: string, f: LabeledFeatures): number {
  if (!(f.dim >= 1) || !Number.isInteger(f.dim)) throw new UserError(what, `feature dimension must be a positive integer, got ${f.dim}`);
  if (f.features.length % f.dim !== 0) throw new UserError(what, `${f.features.length} values are not a whole number of ${f.dim}-dimensional rows`);
  const n = f.features.length / f.dim;
  if (n !== f.labels.length) throw new UserError(what, `${n} feature rows but ${f.labels.length} labels`, 'features and labels must come from the same clips');
  if (f.videos && f.videos.length !== n) throw new UserError(what, `${n} feature rows but ${f.videos.length} video indices`);
  if (n === 0) throw new UserError(what, 'no rows');
  return n;
}

export function checkLabels(what: string, labels: Int32Array, numClasses: number): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!(y >= 0 && y < numClasses)) throw new UserError(what, `label ${y} of row ${i} is outside [0, ${numClasses})`, y < 0 ? 'this split has no labels' : undefined);
  }
}

/** Rows scaled to unit L2 norm (a zero row stays zero). */
export function l2Normalize(x: Float32Array, dim: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let r = 0; r < x.length; r += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[r + d]! * x[r + d]!;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < dim; d++) y[r + d] = x[r + d]! * inv;
  }
  return y;
}

/** Similarity of R query rows with N bank rows: (R, dim) · (N, dim)ᵀ → (R, N). */
export type SimFn = (queries: Float32Array, rows: number) => Promise<Float32Array>;

/** Plain typed-array loops. */
export function jsSims(bank: Float32Array, n: number, dim: number): SimFn {
  return async (q, rows) => {
    const out = new Float32Array(rows * n);
    for (let r = 0; r < rows; r++) {
      const qo = r * dim;
      for (let j = 0; j < n; j++) {
        const bo = j * dim;
        let s = 0;
        for (let d = 0; d < dim; d++) s += q[qo + d]! * bank[bo + d]!;
        out[r * n + j] = s;
      }
    }
    return out;
  };
}

/**
 * The k largest of s[off .. off+n) into (vals, idx)[at .. at+k), descending; a later index never displaces an equal
 * earlier one. Insertion into a sorted list: after the first rows fill it, almost every value fails the one compare.
 */
export function topK(s: Float32Array, off: number, n: number, k: number, vals: Float32Array, idx: Int32Array, at: number): void {
  let filled = 0;
  let floor = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = s[off + j]!;
    if (filled === k && !(v > floor)) continue;
    let p = filled < k ? filled++ : k - 1;
    while (p > 0 && v > vals[at + p - 1]!) {
      vals[at + p] = vals[at + p - 1]!;
      idx[at + p] = idx[at + p - 1]!;
      p--;
    }
    vals[at + p] = v;
    idx[at + p] = j;
    if (filled === k) floor = vals[at + k - 1]!;
  }
}

/** Rank of class y in `scores` (0 = best): classes with a higher score, or an equal score and a lower index, come first. */
function rankOf(scores: Float64Array, off: number, K: number, y: number): number {
  const sy = scores[off + y]!;
  let rank = 0;
  for (let c = 0; c < K; c++) {
    const sc = scores[off + c]!;
    if (sc > sy || (sc === sy && c < y)) rank++;
  }
  return rank;
}

/**
 * Votes and accuracies from neighbours, for every k ≤ neighbours.k. A clip's class scores are Σ exp((sim − sim₁)/T)
 * over its first k neighbours (subtracting the best similarity sim₁ changes no ranking and never overflows); a video's
 * are the mean over its clips of their scores normalised to sum 1, so each view has an equal say.
 */
export function knnVotes(nb: Neighbours, trainLabels: Int32Array, test: { labels: Int32Array; videos?: Int32Array }, ks: readonly number[], temperature: number, numClasses: number): KnnAccuracy[] {
  const rows = test.labels.length;
  const K = numClasses;
  const videos = test.videos ?? Int32Array.from({ length: rows }, (_, i) => i);
  // Dense video ids in order of first appearance.
  const videoId = new Map<number, number>();
  for (let i = 0; i < rows; i++) if (!videoId.has(videos[i]!)) videoId.set(videos[i]!, videoId.size);
  const V = videoId.size;
  const videoLabel = new Int32Array(V).fill(-1);
  for (let i = 0; i < rows; i++) {
    const v = videoId.get(videos[i]!)!;
    if (videoLabel[v] !== -1 && videoLabel[v] !== test.labels[i]) {
      throw new UserError('test features', `video ${videos[i]} has clips labelled ${videoLabel[v]} and ${test.labels[i]}`);
    }
    videoLabel[v] = test.labels[i]!;
  }
  return ks.map((kReq) => {
    const k = Math.min(kReq, nb.k);
    const scores = new Float64Array(K);
    const perVideo = new Float64Array(V * K);
    let c1 = 0;
    let c5 = 0;
    for (let r = 0; r < rows; r++) {
      scores.fill(0);
      const at = r * nb.k;
      const best = nb.sims[at]!;
      let total = 0;
      for (let j = 0; j < k; j++) {
        const w = Math.exp((nb.sims[at + j]! - best) / temperature);
        scores[trainLabels[nb.index[at + j]!]!]! += w;
        total += w;
      }
      const rank = rankOf(scores, 0, K, test.labels[r]!);
      if (rank === 0) c1++;
      if (rank < 5) c5++;
      const vo = videoId.get(videos[r]!)! * K;
      for (let c = 0; c < K; c++) perVideo[vo + c]! += scores[c]! / total;
    }
    let v1 = 0;
    let v5 = 0;
    for (let v = 0; v < V; v++) {
      const rank = rankOf(perVideo, v * K, K, videoLabel[v]!);
      if (rank === 0) v1++;
      if (rank < 5) v5++;
    }
    const pct = (a: number, n: number) => (100 * a) / n;
    return { k: kReq, clip: { top1: pct(c1, rows), top5: pct(c5, rows), count: rows }, video: { top1: pct(v1, V), top5: pct(v5, V), count: V } };
  });
}

