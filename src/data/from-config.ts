// The loader a config asks for: clip geometry, sampler, augmentation and normalisation from `data`, batch size and
// seed from `train`. Evaluation loaders take no augmentation (normalisation is always applied).
import { existsSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import { UserError } from '../errors.ts';
import type { AugmentConfig } from './augment.ts';
import { Loader } from './loader.ts';
import type { BatchOptions, Sampler } from './plan.ts';
import { StoreReader } from './store.ts';

/** The config's augmentation; `augment.p` scales every operation's probability (0 turns augmentation off). */
export function augmentFromConfig(a: Config['data']['augment']): AugmentConfig | null {
  if (a.p === 0) return null;
  const rrc = a.random_resized_crop;
  return {
    crop: { p: a.p * rrc.p, scale: rrc.scale, ratio: rrc.ratio },
    flip: { p: a.p * a.horizontal_flip.p },
    jitter: { p: a.p * a.color_jitter.p, brightness: a.color_jitter.brightness, contrast: a.color_jitter.contrast, saturation: a.color_jitter.saturation, hue: a.color_jitter.hue },
    grayscale: { p: a.p * a.grayscale.p },
    blur: { p: a.p * a.gaussian_blur.p, kernel: a.gaussian_blur.kernel, sigma: a.gaussian_blur.sigma },
  };
}

/** The prepared store of `data.root`, checked to exist (a one-line error naming the key otherwise). */
export function storeRoot(c: Config): string {
  const root = c.data.root;
  if (!root) throw new UserError('config.data.root', 'expected the path of a prepared dataset, got null', 'prepare one with `vhssl prepare` and pass --set data.root=PATH');
  if (!existsSync(root)) throw new UserError('config.data.root', `the dataset path ${root} does not exist`, 'prepare one with `vhssl prepare`');
  return root;
}

export interface LoaderChoice {
  split: string;
  /** Training: the configured sampler and augmentation; evaluation: sliding windows, no augmentation. */
  train: boolean;
  batchSize?: number;
  workers?: number;
  /** a second view of the same clips (vicreg): other crops and augmentations, same videos in the same order */
  view?: string;
}

/**
 * What the batches of a config's loader are made of, for a split of `videos` videos: the training sampler and
 * augmentation, or evaluation's sliding windows and none.
 */
export function batchOptions(c: Config, o: Omit<LoaderChoice, 'split' | 'workers'>, videos: number): BatchOptions {
  const d = c.data;
  const sampler: Sampler = !o.train || d.sampling === 'sliding' ? { kind: 'sliding', step: d.window_step } : { kind: 'random', epochLength: videos * d.epoch_clips_per_video };
  return {
    clip: { length: d.frames, stride: d.frame_stride },
    height: d.height,
    width: d.width,
    batchSize: o.batchSize ?? c.train.batch_size,
    seed: c.train.seed,
    sampler,
    augment: o.train ? augmentFromConfig(d.augment) : null,
    normalize: { mean: d.normalization.mean as [number, number, number], std: d.normalization.std as [number, number, number] },
    shuffle: o.train,
    dropLast: o.train,
    view: o.view,
  };
}

export function loaderFromConfig(c: Config, o: LoaderChoice): Loader {
  const root = storeRoot(c);
  const reader = new StoreReader(root);
  const videos = reader.split(o.split).length;
  reader.close();
  return new Loader({ ...batchOptions(c, o, videos), store: root, split: o.split, workers: o.workers ?? c.data.workers, prefetch: c.data.prefetch });
}
