// Weighted k-NN on frozen features (SVT/DINO's protocol): features L2-normalised, cosine
// similarity, the k most similar train clips each vote for their label with weight exp(sim/T); top-1/top-5 accuracy
// per clip, and per video, from the average over the video's views of each view's normalised votes.
//
// Exact and in bounded memory: test rows go in chunks of R rows; a chunk's similarities (R, N) are one MatMul (in
// onnxruntime, or plain loops), scanned at once into a running top-k per row. Only (test rows × k_max) neighbours are
// kept, never the (test × train) matrix.
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';
import { GraphBuilder } from '../graph/builder.ts';
import { encodeModel } from '../graph/onnx.ts';
import { createSession, runChecked } from '../runtime/session.ts';
import { checkLabeled, checkLabels, jsSims, knnVotes, l2Normalize, topK, type KnnAccuracy, type LabeledFeatures, type Neighbours, type SimFn } from './knn-core.ts';
import { progressBar } from './progress.ts';

export { checkLabeled, knnVotes, l2Normalize, type Accuracy, type KnnAccuracy, type LabeledFeatures, type Neighbours } from './knn-core.ts';

export interface KnnOptions {
  /** neighbour counts, evaluated at once (default [20]) */
  k?: readonly number[];
  /** vote temperature T (default 0.07) */
  temperature?: number;
  /** default: 1 + the largest label */
  numClasses?: number;
  /** test rows per chunk (default: as many as keep a chunk's similarities under 64 MiB) */
  chunkRows?: number;
  /** onnxruntime MatMul (default) or plain typed-array loops */
  engine?: 'ort' | 'js';
  threads?: number;
  progress?: boolean;
}

/** One Gemm node: `queries` (R, D) × `bank` (N, D)ᵀ, both graph inputs; one ort.Tensor wraps the bank for every run. */
async function ortSims(bank: Float32Array, n: number, dim: number, threads?: number): Promise<{ sims: SimFn; release: () => Promise<void> }> {
  const b = new GraphBuilder('knn.sims');
  const q = b.input('queries', 'float32', ['R', dim]);
  const m = b.input('bank', 'float32', ['N', dim]);
  b.output(b.Gemm(q, m, null, { transB: true }), 'sims');
  const session = await createSession(encodeModel(b.graph).model, { threads });
  const bankT = new ort.Tensor('float32', bank, [n, dim]);
  return {
    sims: async (queries, rows) => {
      const out = await runChecked(session, { queries: new ort.Tensor('float32', queries, [rows, dim]), bank: bankT });
      return out.sims!.data as Float32Array;
    },
    release: () => session.release(),
  };
}

/** The k most similar bank rows of every query row: exact, chunked, deterministic under ties. */
export async function nearestNeighbours(bank: Float32Array, queries: Float32Array, dim: number, k: number, o: Pick<KnnOptions, 'chunkRows' | 'engine' | 'threads' | 'progress'> = {}): Promise<Neighbours> {
  const n = bank.length / dim;
  const rows = queries.length / dim;
  const kk = Math.min(k, n);
  const R = Math.max(1, Math.min(rows, o.chunkRows ?? Math.floor((16 * 2 ** 20) / n)));
  const engine = o.engine === 'js' ? { sims: jsSims(bank, n, dim), release: async () => {} } : await ortSims(bank, n, dim, o.threads);
  const sims = new Float32Array(rows * kk);
  const index = new Int32Array(rows * kk);
  const bar = progressBar('k-NN', Math.ceil(rows / R), 'chunks', o.progress);
  try {
    for (let r0 = 0; r0 < rows; r0 += R) {
      const r1 = Math.min(rows, r0 + R);
      const s = await engine.sims(queries.subarray(r0 * dim, r1 * dim), r1 - r0);
      for (let r = r0; r < r1; r++) topK(s, (r - r0) * n, n, kk, sims, index, r * kk);
      bar.tick();
    }
  } finally {
    bar.stop();
    await engine.release();
  }
  return { k: kk, sims, index };
}

/** Weighted k-NN of `test` against `train`, for every k in `o.k`. */
export async function knnClassify(train: LabeledFeatures, test: LabeledFeatures, o: KnnOptions = {}): Promise<KnnAccuracy[]> {
  checkLabeled('train features', train);
  checkLabeled('test features', test);
  if (train.dim !== test.dim) throw new UserError('test features', `dimension ${test.dim} differs from the train features' ${train.dim}`);
  const ks = o.k ?? [20];
  if (ks.length === 0 || ks.some((k) => !(Number.isInteger(k) && k >= 1))) throw new UserError('k', `expected positive integers, got [${ks.join(', ')}]`);
  const T = o.temperature ?? 0.07;
  if (!(T > 0)) throw new UserError('temperature', `expected a positive number, got ${T}`);
  let maxLabel = 0;
  for (const y of train.labels) maxLabel = Math.max(maxLabel, y);
  for (const y of test.labels) maxLabel = Math.max(maxLabel, y);
  const K = o.numClasses ?? maxLabel + 1;
  checkLabels('train features', train.labels, K);
  checkLabels('test features', test.labels, K);
  const nb = await nearestNeighbours(l2Normalize(train.features, train.dim), l2Normalize(test.features, test.dim), train.dim, Math.max(...ks), o);
  return knnVotes(nb, train.labels, test, ks, T, K);
}
