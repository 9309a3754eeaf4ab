// Which clips an epoch holds and in what order: the loader's plan, pure in (options, epoch), so the same seed gives
// the same batches in a worker thread, in the main thread and in a browser.
import { UserError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { IMAGENET, type AugmentConfig, type Normalize } from './augment.ts';
import type { BatchConfig, BatchJob } from './batch.ts';
import { multiView, randomCrops, slidingWindows, type ClipItem, type ClipSpec } from './sampling.ts';

export type Sampler =
  | { kind: 'random'; epochLength?: number; pad?: boolean }
  | { kind: 'sliding'; step: number }
  | { kind: 'multiview'; temporal: number; spatial: number };

export interface PlanOptions {
  clip: ClipSpec;
  batchSize: number;
  seed: number;
  /** random crops: `pad` repeats the last frame of short videos */
  random: { pad: boolean } | null;
  shuffle: boolean;
  /** names a second view of the same clips: the same videos in the same order, its own start frames ('' for the first) */
  view: string;
}

export class EpochPlan {
  private plans = new Map<number, { items: ClipItem[]; order: Int32Array }>();

  /** `fixedItems`: the clips of every epoch (sliding windows, multi-view); null: `epochLength` random crops. */
  constructor(private readonly o: PlanOptions, private readonly frames: Int32Array, private readonly fixedItems: ClipItem[] | null, private readonly epochLength: number) {}

  private planFor(epoch: number): { items: ClipItem[]; order: Int32Array } {
    const cached = this.plans.get(epoch);
    if (cached) return cached;
    const sample = Rng.fromSeed(this.o.seed, 'data.sample').fork(`epoch ${epoch}`);
    // A second view keeps the video order of the first and draws its own start frames.
    const starts = this.o.view ? Rng.fromSeed(this.o.seed, `data.sample${this.o.view}`).fork(`epoch ${epoch}`) : sample;
    const items = this.fixedItems ?? randomCrops(this.frames, this.o.clip, this.epochLength, sample, this.o.random?.pad ?? false, starts).items;
    const order = this.o.shuffle ? Rng.fromSeed(this.o.seed, 'data.order').fork(`epoch ${epoch}`).permutation(items.length) : Int32Array.from(items, (_, i) => i);
    const plan = { items, order };
    this.plans.set(epoch, plan);
    for (const e of this.plans.keys()) if (e < epoch - 1 || e > epoch + 1) this.plans.delete(e);
    return plan;
  }

  /** Batch `index` of `epoch`: its (video, start, view) items. */
  job(epoch: number, index: number): BatchJob {
    const { items, order } = this.planFor(epoch);
    const B = this.o.batchSize;
    const first = index * B;
    const end = Math.min(first + B, items.length);
    const packed = new Int32Array((end - first) * 3);
    for (let k = first; k < end; k++) {
      const it = items[order[k]!]!;
      packed.set([it.video, it.start, it.view], (k - first) * 3);
    }
    return { epoch, index, items: packed, first };
  }
}

/** What a loader's batches are made of (the options a loader takes, less its store and threads). */
export interface BatchOptions {
  clip: ClipSpec;
  height: number;
  width: number;
  batchSize: number;
  seed: number;
  sampler: Sampler;
  /** null: evaluation views, no augmentation. Normalisation is applied either way. */
  augment: AugmentConfig | null;
  normalize?: Normalize;
  /** default: true for `random`, false otherwise */
  shuffle?: boolean;
  /** default: true for `random`, false otherwise (evaluation sees every clip) */
  dropLast?: boolean;
  /**
   * A second view of the same clips (two-view tasks): another name gives other temporal crops and augmentations of
   * the same videos in the same order. Default '' (the first view).
   */
  view?: string;
  /** Each clip's frames in reverse order, with the same spatial view and augmentation. Default false. */
  reverseTime?: boolean;
}

export interface BatchPlan {
  config: BatchConfig;
  plan: EpochPlan;
  batchesPerEpoch: number;
  /** indices of videos shorter than the clip span (dropped, or padded with `sampler.pad`) */
  short: number[];
}

/** The batches of `o` over videos of `frames` frames each; `where` names the videos in errors. */
export function batchPlan(o: BatchOptions & { split?: string }, frames: Int32Array, where: string): BatchPlan {
  const s = o.sampler;
  const views = s.kind === 'multiview' ? s.spatial : 1;
  const config: BatchConfig = { clip: o.clip, height: o.height, width: o.width, augment: o.augment, normalize: o.normalize ?? IMAGENET, views, seed: o.seed, view: o.view ?? '', reverseTime: o.reverseTime ?? false };
  let epochLength: number;
  let fixedItems: ClipItem[] | null = null;
  let short: number[];
  if (s.kind === 'random') {
    epochLength = s.epochLength ?? frames.length;
    short = randomCrops(frames, o.clip, 0, Rng.fromSeed(o.seed), s.pad).short;
    if (!s.pad && short.length === frames.length) epochLength = 0;
  } else {
    const sampled = s.kind === 'sliding' ? slidingWindows(frames, o.clip, s.step) : multiView(frames, o.clip, s.temporal, s.spatial);
    fixedItems = sampled.items;
    short = sampled.short;
    epochLength = sampled.items.length;
  }
  if (epochLength === 0) throw new UserError(where, `no clip of ${o.clip.length}×${o.clip.stride} frames fits any video of split "${o.split ?? '(all)'}"`);
  const dropLast = o.dropLast ?? s.kind === 'random';
  const batchesPerEpoch = dropLast ? Math.floor(epochLength / o.batchSize) : Math.ceil(epochLength / o.batchSize);
  if (batchesPerEpoch === 0) throw new UserError('loader.batchSize', `${o.batchSize} is larger than the epoch (${epochLength} clips) with dropLast`);
  const random = s.kind === 'random' ? { pad: s.pad ?? false } : null;
  const plan = new EpochPlan({ clip: o.clip, batchSize: o.batchSize, seed: o.seed, random, shuffle: o.shuffle ?? s.kind === 'random', view: o.view ?? '' }, frames, fixedItems, epochLength);
  return { config, plan, batchesPerEpoch, short };
}
