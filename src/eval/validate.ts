// k-NN validation during training and after it: which epochs validate, and the accuracy of a run's checkpoint or of
// parameters held in memory. The trainer keeps the checkpoint with the highest `top1` (higher is better).
import type { Config, EvalConfig } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { StoreReader } from '../data/store.ts';
import { modelSpec } from '../graph/model/from-config.ts';
import type { Tensor } from '../graph/tensor.ts';
import type { ExecutionProvider } from '../train/session.ts';
import { DEFAULT_TEST_VIEWS, DEFAULT_TRAIN_VIEWS, extractFeatures, labeledLevel, runFeatures, storeOf, type Features, type Pool, type Views } from './features.ts';
import { knnClassify, type KnnAccuracy } from './knn.ts';
import { loadRun, matchEncoder, type CheckpointChoice, type Run } from './run.ts';

/**
 * The epochs (1-based) after which k-NN validation runs, for `epochs` epochs of training; empty when `every` is 0.
 * linear: every `every`-th epoch, and the last. exponential: 1, b, b², … and the last, with b = `every`; b = 1 means
 * every epoch (the original's exponential schedule with 1 validated only the first and last epochs).
 */
export function knnSchedule(knn: Pick<EvalConfig['knn'], 'schedule' | 'every'>, epochs: number): Set<number> {
  const out = new Set<number>();
  if (knn.every === 0 || epochs < 1) return out;
  if (knn.schedule === 'linear' || knn.every === 1) {
    for (let e = knn.every; e <= epochs; e += knn.every) out.add(e);
  } else {
    for (let e = 1; e <= epochs; e *= knn.every) out.add(e);
  }
  out.add(epochs);
  return out;
}

/** The splits k-NN, the probe and fine-tuning use: `train`, and `val` when the store has it, else `test`. */
export function evalSplits(store: string): { train: string; test: string } {
  const reader = new StoreReader(store);
  try {
    const splits = new Set(reader.records.map((r) => r.split));
    if (!splits.has('train')) throw new UserError(store, `no "train" split (splits: ${[...splits].join(', ') || 'none'})`);
    const test = splits.has('val') ? 'val' : splits.has('test') ? 'test' : undefined;
    if (!test) throw new UserError(store, `no "val" or "test" split to evaluate on (splits: ${[...splits].join(', ')})`);
    return { train: 'train', test };
  } finally {
    reader.close();
  }
}

export interface FeatureOptions {
  /** `embedding` (default) or a group's level (`space`, `time`, …) */
  level?: string;
  pool?: Pool;
  trainViews?: Views;
  testViews?: Views;
  /** another prepared store than `config.data.root` */
  store?: string;
  batchSize?: number;
  ep?: ExecutionProvider;
  threads?: number;
  progress?: boolean;
}

export interface KnnSummary {
  /** clip-level accuracy (percent) at the first k: what the trainer ranks checkpoints by */
  top1: number;
  top5: number;
  level: string;
  splits: { train: string; test: string };
  results: KnnAccuracy[];
}

export interface SplitFeatures {
  train: Features;
  test: Features;
  splits: { train: string; test: string };
}

/** Train and test features of a run's checkpoint (through the cache) or of parameters in memory (never cached). */
export async function splitFeatures(source: Run | { config: Config; params: ReadonlyMap<string, Tensor> }, o: FeatureOptions & { cache?: boolean } = {}): Promise<SplitFeatures> {
  const config = source.config;
  const store = storeOf(config, o.store);
  const splits = evalSplits(store);
  const level = o.level ?? 'embedding';
  const spec = 'spec' in source ? source.spec : modelSpec(config, 1);
  const known = ['embedding', ...spec.groups];
  if (!known.includes(level)) throw new UserError('--level', `unknown level "${level}"`, `this encoder has ${known.join(', ')}`);
  const common = { store, pool: o.pool, batchSize: o.batchSize, ep: o.ep, threads: o.threads, progress: o.progress };
  const extract = (split: string, views: Views) =>
    'dir' in source
      ? runFeatures(source, { ...common, split, views, cache: o.cache })
      : extractFeatures({ ...common, config, spec, params: matchEncoder('parameters', spec, config.train.seed, source.params), split, views });
  const train = await extract(splits.train, o.trainViews ?? DEFAULT_TRAIN_VIEWS);
  const test = await extract(splits.test, o.testViews ?? DEFAULT_TEST_VIEWS);
  return { train, test, splits };
}

/**
 * k-NN accuracy of a run directory's checkpoint (`source` a path; `checkpoint` picks it) or of parameters in memory
 * (a map with every encoder parameter and buffer: what the trainer holds at the end of an epoch).
 */
export async function evaluateKnn(
  source: string | ReadonlyMap<string, Tensor>,
  config: Config | undefined,
  o: FeatureOptions & { checkpoint?: CheckpointChoice; k?: readonly number[]; temperature?: number; cache?: boolean; engine?: 'ort' | 'js' } = {},
): Promise<KnnSummary> {
  let src: Run | { config: Config; params: ReadonlyMap<string, Tensor> };
  if (typeof source === 'string') {
    src = loadRun(source, { checkpoint: o.checkpoint });
  } else {
    if (!config) throw new Error('evaluateKnn: parameters in memory need their config');
    src = { config, params: source };
  }
  const cfg = src.config;
  const level = o.level ?? 'embedding';
  const { train, test, splits } = await splitFeatures(src, o);
  const results = await knnClassify(
    labeledLevel(train, level),
    labeledLevel(test, level),
    { k: o.k ?? cfg.eval.knn.k, temperature: o.temperature ?? cfg.eval.knn.temperature, numClasses: train.classes.length > 0 ? train.classes.length : undefined, engine: o.engine, threads: o.threads, progress: o.progress },
  );
  return { top1: results[0]!.clip.top1, top5: results[0]!.clip.top5, level, splits, results };
}
