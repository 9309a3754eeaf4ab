// Direction sensitivity: does the encoder see which way time runs? Each clip of a split is encoded as it is and with
// its frames in reverse order (the same spatial view), and the cosine between the two features is averaged over clips,
// per level. 1 means the level ignores the direction of time: a `level.space` pooled by the mean over frames is 1 by
// construction (it sees one frame at a time); an `embedding` at 1 cannot tell "left" from "right" motion. Near
// initialisation attention is almost uniform, a time group sums its frames whatever their order, and every cosine is
// close to 1: compare a trained checkpoint with its initialisation, and look at `centred` too.
import { EMBEDDING, levelOutput } from '../graph/names.ts';
import type { ExecutionProvider } from '../runtime/session.ts';
import { frozenEncoderSession } from './encoder.ts';
import { encodeSplit, evalLoader, storeOf, type Features, type Pool, type Views } from './features.ts';
import { loadRun, type Checkpoint, type CheckpointChoice } from './run.ts';
import { evalSplits } from './validate.ts';

export interface DirectionOptions {
  /** `best` (default, else `last`), `last` or a checkpoint file, as `vhssl eval --checkpoint` */
  checkpoint?: CheckpointChoice;
  /** another prepared store than the run's `data.root` */
  store?: string;
  /** default: the split k-NN evaluates on (`val`, else `test`) */
  split?: string;
  /** default 1x1: one clip per video, the centre crop */
  views?: Views;
  /** default `mean` (over a level's tokens) */
  pool?: Pool;
  batchSize?: number;
  ep?: ExecutionProvider;
  threads?: number;
  progress?: boolean;
}

export interface DirectionSensitivity {
  /** mean over clips of cos(f(clip), f(clip reversed in time)) of the `embedding`, in [-1, 1] */
  cosine: number;
  /** the same for every level, by output name: `embedding`, `level.<group>` */
  levels: Record<string, number>;
  /**
   * per level, the mean cosine once the mean feature of the clips in forward time is subtracted from both: what is
   * left when a level's features share a large common part (an encoder at initialisation), which keeps every raw
   * cosine near 1 whatever the input
   */
  centred: Record<string, number>;
  /** clips compared (videos × views) */
  count: number;
  split: string;
  checkpoint: Checkpoint;
}

/** (1/n) Σᵢ cos(aᵢ, bᵢ) over the rows of a and b (n, D); two zero rows count as 1, one zero row as 0. */
export function meanRowCosine(a: Float32Array, b: Float32Array, n: number, D: number): number {
  if (a.length !== n * D || b.length !== n * D) throw new Error(`meanRowCosine: expected ${n}×${D} values, got ${a.length} and ${b.length}`);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let [ab, aa, bb] = [0, 0, 0];
    for (let d = i * D; d < (i + 1) * D; d++) {
      ab += a[d]! * b[d]!;
      aa += a[d]! * a[d]!;
      bb += b[d]! * b[d]!;
    }
    sum += aa === 0 && bb === 0 ? 1 : aa === 0 || bb === 0 ? 0 : Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb)));
  }
  return n > 0 ? sum / n : Number.NaN;
}

/** x (n, D) minus `mean` (D) from every row. */
function minus(x: Float32Array, mean: Float64Array, n: number, D: number): Float32Array {
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) out[i * D + d] = x[i * D + d]! - mean[d]!;
  return out;
}

function columnMean(x: Float32Array, n: number, D: number): Float64Array {
  const mean = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) mean[d]! += x[i * D + d]! / n;
  return mean;
}

/**
 * Direction sensitivity of a run directory's checkpoint: every clip of the split (by default the k-NN test split, one
 * centred clip per video) through the frozen encoder as it is and reversed in time, the mean cosine between the two
 * per level. One encoder session serves both passes; nothing is written to the run directory.
 */
export async function directionSensitivity(runDir: string, o: DirectionOptions = {}): Promise<DirectionSensitivity> {
  const run = loadRun(runDir, { checkpoint: o.checkpoint });
  const store = storeOf(run.config, o.store);
  const split = o.split ?? evalSplits(store).test;
  const views = o.views ?? { kind: 'multiview', temporal: 1, spatial: 1 };
  const encoder = await frozenEncoderSession(run.spec, run.config.train.seed, run.params, { ep: o.ep, threads: o.threads });
  try {
    const encode = async (reverseTime: boolean): Promise<Features> => {
      const loader = evalLoader({ config: run.config, store, split, views, batchSize: o.batchSize, reverseTime });
      try {
        return await encodeSplit(encoder, loader, { split: reverseTime ? `${split} reversed` : split, pool: o.pool, progress: o.progress });
      } finally {
        await loader.close();
      }
    };
    const forward = await encode(false);
    const reversed = await encode(true);
    const levels: Record<string, number> = {};
    const centred: Record<string, number> = {};
    const n = forward.count;
    for (const [name, f] of forward.levels) {
      const back = reversed.levels.get(name)!.data;
      const mean = columnMean(f.data, n, f.dim);
      levels[levelOutput(name)] = meanRowCosine(f.data, back, n, f.dim);
      centred[levelOutput(name)] = meanRowCosine(minus(f.data, mean, n, f.dim), minus(back, mean, n, f.dim), n, f.dim);
    }
    return { cosine: levels[levelOutput(EMBEDDING)]!, levels, centred, count: n, split, checkpoint: run.checkpoint };
  } finally {
    await encoder.release();
  }
}
