// One batch from the store: read each clip's frames by offset, augment (or take a fixed view), normalise.
// Pure in (config, job): the same job gives the same bytes in any worker, so worker timing never changes a batch.
import { Rng } from '../rng.ts';
import { drawParams, evalParams, renderClip, type AugmentConfig, type Normalize } from './augment.ts';
import { clipFrames, type ClipSpec } from './sampling.ts';
import type { ShardFiles, StoredVideo } from './store.ts';

export interface BatchConfig {
  clip: ClipSpec;
  height: number;
  width: number;
  /** null: no augmentation (evaluation): the view's box, resized. */
  augment: AugmentConfig | null;
  normalize: Normalize;
  /** spatial views per item (multi-view testing); item.view indexes them. */
  views: number;
  seed: number;
  /** names a second view of the same clips: its own augmentation stream ('' for the first) */
  view?: string;
  /** the clip's frames in reverse order (the view and augmentation unchanged): probes of the direction of time */
  reverseTime?: boolean;
}

export interface BatchJob {
  epoch: number;
  index: number;
  /** (video, start, view) per sample */
  items: Int32Array;
  /** position of the first sample in the epoch's order; sample s draws from fork(`${epoch}/${first + s}`) */
  first: number;
}

export interface Batch {
  /** (B, L, H, W, 3) channels-last, normalised */
  x: Float32Array;
  shape: [number, number, number, number, number];
  labels: Int32Array;
  /** index of each clip's video in the split's record list */
  videos: Int32Array;
  /** first raw frame of each clip */
  starts: Int32Array;
  epoch: number;
  index: number;
}

export function buildBatch(files: Pick<ShardFiles, 'readFrame'>, records: readonly StoredVideo[], c: BatchConfig, job: BatchJob): Batch {
  const B = job.items.length / 3;
  const { length: L } = c.clip;
  const [oh, ow] = [c.height, c.width];
  const x = new Float32Array(B * L * oh * ow * 3);
  const labels = new Int32Array(B);
  const videos = new Int32Array(B);
  const starts = new Int32Array(B);
  const root = Rng.fromSeed(c.seed, `data.augment${c.view ?? ''}`);
  let clip = new Uint8Array(0);
  for (let s = 0; s < B; s++) {
    const v = job.items[3 * s]!;
    const start = job.items[3 * s + 1]!;
    const view = job.items[3 * s + 2]!;
    const r = records[v]!;
    const fb = r.height * r.width * 3;
    if (clip.length < L * fb) clip = new Uint8Array(L * fb);
    const idx = clipFrames(c.clip, start, r.frames);
    for (let k = 0; k < L; k++) files.readFrame(r, idx[c.reverseTime ? L - 1 - k : k]!, clip.subarray(k * fb, (k + 1) * fb));
    const p = c.augment
      ? drawParams(root.fork(`${job.epoch}/${job.first + s}`), r.height, r.width, oh, ow, c.augment)
      : evalParams(r.height, r.width, oh, ow, view, c.views);
    renderClip(clip, L, r.height, r.width, p, oh, ow, c.normalize, x, s * L * oh * ow * 3);
    labels[s] = r.label;
    videos[s] = v;
    starts[s] = start;
  }
  return { x, shape: [B, L, oh, ow, 3], labels, videos, starts, epoch: job.epoch, index: job.index };
}
