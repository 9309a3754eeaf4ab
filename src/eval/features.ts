// Frozen features of a prepared split: the encoder run over evaluation views (no augmentation, normalisation always),
// batched with a dynamic batch. Every level is kept: the final `embedding` (B, D) as it is, and each `level.<group>`
// (B, S, D) pooled to one vector per clip, by the mean over its S tokens (`mean`, default) or flattened (`flat`,
// S·D values: keeps the order of frames/clips, so it is the richer and much larger choice).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import type { Normalize } from '../data/augment.ts';
import { Loader, type Sampler } from '../data/loader.ts';
import type { ModelSpec } from '../graph/model/spec.ts';
import { readSafetensors, writeSafetensors } from '../graph/safetensors.ts';
import type { Tensor } from '../graph/tensor.ts';
import type { EncoderSession } from '../runtime/encoder.ts';
import type { FeedSource } from '../runtime/feeds.ts';
import type { ExecutionProvider } from '../runtime/session.ts';
import { frozenEncoderSession } from './encoder.ts';
import { progressBar } from './progress.ts';
import type { LabeledFeatures } from './knn.ts';
import type { Run } from './run.ts';

/** Test-time views of a video: N temporal × K spatial crops, or every sliding window (step in frames). */
export type Views = { kind: 'multiview'; temporal: number; spatial: number } | { kind: 'sliding'; step: number };

export type Pool = 'mean' | 'flat';

export interface LevelFeatures {
  /** (N, dim) row-major */
  data: Float32Array;
  dim: number;
}

export interface Features {
  split: string;
  /** `embedding` and each group's level (`space`, `time`, …) */
  levels: Map<string, LevelFeatures>;
  /** per clip: class index */
  labels: Int32Array;
  /** per clip: index of its video in the split (views of one video share it) */
  videos: Int32Array;
  classes: string[];
  count: number;
}

export const DEFAULT_TRAIN_VIEWS: Views = { kind: 'multiview', temporal: 1, spatial: 1 };
/** The default test protocol: 3 temporal positions, centre crop (the original left the views implicit). */
export const DEFAULT_TEST_VIEWS: Views = { kind: 'multiview', temporal: 3, spatial: 1 };

/** `TxS` (e.g. `3x1`), `T` (centre crop), `sliding` (every `data.window_step` frames) or `sliding:STEP`. */
export function parseViews(where: string, text: string, config: Config): Views {
  const s = text.trim();
  const sliding = /^sliding(?::(\d+))?$/.exec(s);
  if (sliding) {
    const step = sliding[1] === undefined ? config.data.window_step : Number(sliding[1]);
    if (!(step >= 1)) throw new UserError(where, `expected a positive window step, got "${text}"`);
    return { kind: 'sliding', step };
  }
  const m = /^(\d+)(?:x(\d+))?$/.exec(s);
  const temporal = Number(m?.[1]);
  const spatial = m?.[2] === undefined ? 1 : Number(m[2]);
  if (!m || temporal < 1 || spatial < 1) throw new UserError(where, `expected TxS (e.g. 3x1), T, sliding or sliding:STEP, got "${text}"`);
  return { kind: 'multiview', temporal, spatial };
}

export const viewsText = (v: Views): string => (v.kind === 'sliding' ? `sliding:${v.step}` : `${v.temporal}x${v.spatial}`);

/** The prepared store a config reads (`data.root`, or `store` when given). */
export function storeOf(config: Config, store?: string): string {
  const root = store ?? config.data.root;
  if (root === null || root === undefined) throw new UserError('config.data.root', 'is null: no prepared store to evaluate on', 'pass --data PATH or set data.root');
  return root;
}

export interface SplitOptions {
  config: Config;
  split: string;
  views: Views;
  /** default: the store in `config.data.root` */
  store?: string;
  /** clips per encoder run (default 32) */
  batchSize?: number;
  /** loader worker threads (default: config.data.workers) */
  workers?: number;
  /** false: the loader builds nothing ahead past an epoch (see LoaderOptions) */
  prefetchAcrossEpochs?: boolean;
  /** each clip's frames in reverse order, the same spatial view (default false) */
  reverseTime?: boolean;
}

export interface EncodeOptions {
  split: string;
  pool?: Pool;
  /** the levels to compute (default: every level of the encoder) */
  levels?: readonly string[];
  /** the parameters and buffers of an encoder that takes them as inputs */
  params?: FeedSource;
  progress?: boolean;
}

export interface ExtractOptions extends SplitOptions, Omit<EncodeOptions, 'params'> {
  spec: ModelSpec;
  params: ReadonlyMap<string, Tensor>;
  ep?: ExecutionProvider;
  threads?: number;
}

function normalizeOf(config: Config): Normalize {
  const { mean, std } = config.data.normalization;
  if (mean.length !== 3 || std.length !== 3) throw new UserError('config.data.normalization', `expected 3 channel means and stds, got ${mean.length} and ${std.length}`);
  return { mean: [mean[0]!, mean[1]!, mean[2]!], std: [std[0]!, std[1]!, std[2]!] };
}

const samplerOf = (v: Views): Sampler => (v.kind === 'sliding' ? { kind: 'sliding', step: v.step } : { kind: 'multiview', temporal: v.temporal, spatial: v.spatial });

/** The evaluation views of `split`, every clip once per epoch, in order: no augmentation, normalisation always. */
export function evalLoader(o: SplitOptions): Loader {
  const { config } = o;
  return new Loader({
    store: storeOf(config, o.store),
    split: o.split,
    clip: { length: config.data.frames, stride: config.data.frame_stride },
    height: config.data.height,
    width: config.data.width,
    batchSize: o.batchSize ?? 32,
    seed: config.train.seed,
    sampler: samplerOf(o.views),
    augment: null,
    normalize: normalizeOf(config),
    shuffle: false,
    dropLast: false,
    workers: o.workers ?? config.data.workers,
    prefetchAcrossEpochs: o.prefetchAcrossEpochs,
    reverseTime: o.reverseTime,
  });
}

/** Runs the frozen encoder of `o.params` over every view of every video of `split`. */
export async function extractFeatures(o: ExtractOptions): Promise<Features> {
  const loader = evalLoader(o);
  const encoder = await frozenEncoderSession(o.spec, o.config.train.seed, o.params, { ep: o.ep, threads: o.threads });
  try {
    return await encodeSplit(encoder, loader, { split: o.split, pool: o.pool, levels: o.levels, progress: o.progress });
  } finally {
    await encoder.release();
    await loader.close();
  }
}

/** One epoch of `loader` (evaluation views of one split) through `encoder`, each level pooled to a vector per clip. */
export async function encodeSplit(encoder: EncoderSession, loader: Loader, o: EncodeOptions): Promise<Features> {
  const pool = o.pool ?? 'mean';
  const names = o.levels ?? encoder.levels;
  const bar = progressBar(`features ${o.split}`, loader.batchesPerEpoch, 'batches', o.progress);
  const chunks = new Map<string, Float32Array[]>(names.map((n) => [n, []]));
  const dims = new Map<string, number>();
  const labels: Int32Array[] = [];
  const videos: Int32Array[] = [];
  try {
    for await (const batch of loader) {
      const out = await encoder.run(new ort.Tensor('float32', batch.x, batch.shape), names, o.params);
      for (const [name, t] of out) {
        const [B, S, D] = t.dims.length === 2 ? [t.dims[0]!, 1, t.dims[1]!] : [t.dims[0]!, t.dims[1]!, t.dims[2]!];
        const x = t.data as Float32Array;
        if (pool === 'flat' || S === 1) {
          dims.set(name, S * D);
          chunks.get(name)!.push(x.slice());
          continue;
        }
        // (B, S, D) -> (B, D): mean over S
        const y = new Float32Array(B * D);
        for (let b = 0; b < B; b++) {
          for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) y[b * D + d]! += x[(b * S + s) * D + d]!;
          for (let d = 0; d < D; d++) y[b * D + d]! /= S;
        }
        dims.set(name, D);
        chunks.get(name)!.push(y);
      }
      labels.push(batch.labels.slice());
      videos.push(batch.videos.slice());
      bar.tick();
    }
  } finally {
    bar.stop();
  }
  const concat = (parts: Int32Array[] | Float32Array[], n: number) => {
    const out = parts[0] instanceof Int32Array ? new Int32Array(n) : new Float32Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p as never, at);
      at += p.length;
    }
    return out;
  };
  const count = labels.reduce((a, l) => a + l.length, 0);
  const levels = new Map<string, LevelFeatures>();
  for (const n of names) levels.set(n, { data: concat(chunks.get(n)!, count * dims.get(n)!) as Float32Array, dim: dims.get(n)! });
  return { split: o.split, levels, labels: concat(labels, count) as Int32Array, videos: concat(videos, count) as Int32Array, classes: loader.classes, count };
}

/** The cache key of a run's features: checkpoint bytes, split, views, pooling, store, input geometry, time reversal. */
export function featureKey(run: Run, split: string, views: Views, pool: Pool, store: string, reverseTime = false): string {
  const d = run.config.data;
  const what = {
    checkpoint: run.checkpoint.sha, split, views, pool, store: resolve(store), frames: d.frames, stride: d.frame_stride, height: d.height, width: d.width, normalization: d.normalization,
    // only when set: the keys of features in forward time stay those of earlier caches
    ...(reverseTime ? { reverseTime } : {}),
  };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
}

export interface CachedOptions extends Omit<ExtractOptions, 'config' | 'spec' | 'params'> {
  /** Read and write RUN_DIR/features/<split>-<key>.safetensors (default true). */
  cache?: boolean;
}

/** Features of a run's checkpoint, from the on-disk cache when it holds them (keyed by `featureKey`). */
export async function runFeatures(run: Run, o: CachedOptions): Promise<Features & { cached: boolean; file?: string }> {
  const pool = o.pool ?? 'mean';
  const store = storeOf(run.config, o.store);
  const file = join(run.dir, 'features', `${o.split}-${featureKey(run, o.split, o.views, pool, store, o.reverseTime)}.safetensors`);
  if (o.cache !== false && existsSync(file)) {
    const st = readSafetensors(file);
    const labels = st.tensors.get('labels');
    const videos = st.tensors.get('videos');
    if (labels && videos) {
      const levels = new Map<string, LevelFeatures>();
      for (const [name, t] of st.tensors) if (name !== 'labels' && name !== 'videos') levels.set(name, { data: t.data as Float32Array, dim: t.shape[1]! });
      const classes = JSON.parse(st.metadata.classes ?? '[]') as string[];
      return { split: o.split, levels, labels: labels.data as Int32Array, videos: videos.data as Int32Array, classes, count: labels.shape[0]!, cached: true, file };
    }
  }
  const f = await extractFeatures({ ...o, config: run.config, spec: run.spec, params: run.params });
  if (o.cache !== false) {
    mkdirSync(join(run.dir, 'features'), { recursive: true });
    const tensors = new Map<string, Tensor>();
    for (const [name, l] of f.levels) tensors.set(name, { dtype: 'float32', shape: [f.count, l.dim], data: l.data });
    tensors.set('labels', { dtype: 'int32', shape: [f.count], data: f.labels });
    tensors.set('videos', { dtype: 'int32', shape: [f.count], data: f.videos });
    writeSafetensors(file, tensors, { split: o.split, views: viewsText(o.views), pool, ...(o.reverseTime ? { reverse_time: 'true' } : {}), checkpoint: run.checkpoint.path, checkpoint_sha: run.checkpoint.sha, classes: JSON.stringify(f.classes) });
  }
  return { ...f, cached: false, file: o.cache !== false ? file : undefined };
}

/** One level's features; an unknown level is a user error naming the known ones. */
export function levelOf(f: Features, level: string): LevelFeatures {
  const l = f.levels.get(level);
  if (!l) throw new UserError('--level', `unknown level "${level}"`, `this encoder has ${[...f.levels.keys()].join(', ')}`);
  return l;
}

/** One level's rows with their labels and videos: what k-NN and the probe take. */
export function labeledLevel(f: Features, level: string): LabeledFeatures {
  const l = levelOf(f, level);
  return { features: l.data, dim: l.dim, labels: f.labels, videos: f.videos };
}
