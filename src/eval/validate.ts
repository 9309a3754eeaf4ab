// k-NN validation during training and after it: the accuracy of a run directory's checkpoint, and `Validation`,
// which the trainer opens once per run: the artifacts' encoder.onnx, fed at each validation the parameters the run
// holds then (no graph is built, no session and no loader started per validation). The trainer keeps the checkpoint
// with the highest `top1` (higher is better).
import type { Config, EvalConfig } from '../config/index.ts';
import { UserError } from '../errors.ts';
import type { Loader } from '../data/loader.ts';
import { StoreReader } from '../data/store.ts';
import { EMBEDDING, levelOutput } from '../graph/names.ts';
import { EncoderSession } from '../runtime/encoder.ts';
import type { FeedSource } from '../runtime/feeds.ts';
import type { ExecutionProvider, SessionOptions } from '../runtime/session.ts';
import { encoderLevels } from './encoder.ts';
import { DEFAULT_TEST_VIEWS, DEFAULT_TRAIN_VIEWS, encodeSplit, evalLoader, labeledLevel, runFeatures, storeOf, type Features, type Pool, type Views } from './features.ts';
import { knnClassify, type KnnAccuracy, type KnnOptions } from './knn.ts';
import { loadRun, type CheckpointChoice, type Run } from './run.ts';
import { spreadStats, type SpreadStats } from './spectrum.ts';

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

/** Train and test features of a run's checkpoint, through the cache. */
export async function splitFeatures(run: Run, o: FeatureOptions & { cache?: boolean } = {}): Promise<SplitFeatures> {
  const store = storeOf(run.config, o.store);
  const splits = evalSplits(store);
  const known = encoderLevels(run.spec);
  const level = o.level ?? EMBEDDING;
  if (!known.includes(level)) throw new UserError('--level', `unknown level "${level}"`, `this encoder has ${known.join(', ')}`);
  const common = { store, pool: o.pool, batchSize: o.batchSize, ep: o.ep, threads: o.threads, progress: o.progress, cache: o.cache };
  const train = await runFeatures(run, { ...common, split: splits.train, views: o.trainViews ?? DEFAULT_TRAIN_VIEWS });
  const test = await runFeatures(run, { ...common, split: splits.test, views: o.testViews ?? DEFAULT_TEST_VIEWS });
  return { train, test, splits };
}

type KnnChoice = Pick<KnnOptions, 'k' | 'temperature' | 'engine' | 'threads' | 'progress'>;

/** k-NN accuracy of one level of train and test features; `k` and `temperature` default to the config's. */
async function knnSummary(f: SplitFeatures, level: string, knn: EvalConfig['knn'], o: KnnChoice): Promise<KnnSummary> {
  const classes = f.train.classes.length;
  const results = await knnClassify(labeledLevel(f.train, level), labeledLevel(f.test, level), {
    k: o.k ?? knn.k, temperature: o.temperature ?? knn.temperature, numClasses: classes > 0 ? classes : undefined, engine: o.engine, threads: o.threads, progress: o.progress,
  });
  return { top1: results[0]!.clip.top1, top5: results[0]!.clip.top5, level, splits: f.splits, results };
}

/** k-NN accuracy of a run directory's checkpoint (`checkpoint` picks it; default best, else last). */
export async function evaluateKnn(runDir: string, o: FeatureOptions & KnnChoice & { checkpoint?: CheckpointChoice; cache?: boolean } = {}): Promise<KnnSummary> {
  const run = loadRun(runDir, { checkpoint: o.checkpoint });
  return knnSummary(await splitFeatures(run, o), o.level ?? EMBEDDING, run.config.eval.knn, o);
}

/** How the test features of each level spread (see `spreadStats`), by output name: `embedding`, `level.<group>`. */
export type LevelSpread = Record<string, SpreadStats>;

/** `spreadStats` of every level of `f` (each level pooled to one row per clip). */
export function levelSpread(f: Features): LevelSpread {
  return Object.fromEntries([...f.levels].map(([name, l]) => [levelOutput(name), spreadStats(l.data, f.count, l.dim)]));
}

export interface ValidationSummary extends KnnSummary {
  /** every level's spread over the test views: collapse diagnostics */
  levels: LevelSpread;
}

/**
 * k-NN validation during training, on the level `embedding`: the run's encoder.onnx (parameters and buffers are its
 * inputs) and the loaders of the train and test views, opened once per run; at each validation, one epoch of each
 * loader through the encoder fed the parameters the run holds. The test views give every level, for `levelSpread`.
 */
export class Validation implements AsyncDisposable {
  private constructor(
    private readonly config: Config,
    private readonly encoder: EncoderSession,
    private readonly loaders: { train: Loader; test: Loader },
    private readonly splits: { train: string; test: string },
    private readonly threads: number | undefined,
  ) {}

  static async open(config: Config, encoderFile: string, o: SessionOptions = {}): Promise<Validation> {
    const splits = evalSplits(storeOf(config));
    // Between validations the loaders' workers idle and hold no batches.
    const loader = (split: string, views: Views) => evalLoader({ config, split, views, prefetchAcrossEpochs: false });
    const loaders = { train: loader(splits.train, DEFAULT_TRAIN_VIEWS), test: loader(splits.test, DEFAULT_TEST_VIEWS) };
    try {
      return new Validation(config, await EncoderSession.open(encoderFile, encoderLevels(config.arch), o), loaders, splits, o.threads);
    } catch (e) {
      await Promise.all([loaders.train.close(), loaders.test.close()]);
      throw e;
    }
  }

  /**
   * k-NN accuracy of the encoder with the parameters and buffers in `params` (a run's state: extra entries unused),
   * and the spread of every level of its test features.
   */
  async knn(params: FeedSource): Promise<ValidationSummary> {
    const train = await encodeSplit(this.encoder, this.loaders.train, { split: this.splits.train, params, levels: [EMBEDDING] });
    const test = await encodeSplit(this.encoder, this.loaders.test, { split: this.splits.test, params });
    const knn = await knnSummary({ train, test, splits: this.splits }, EMBEDDING, this.config.eval.knn, { threads: this.threads });
    return { ...knn, levels: levelSpread(test) };
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.loaders.train.close(), this.loaders.test.close()]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
