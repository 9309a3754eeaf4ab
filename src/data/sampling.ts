// Which frames make a clip. A clip of L frames with frame stride s spans W = (L−1)·s + 1 raw frames; clip item
// (video v, start o) reads frames o, o+s, …, o+(L−1)s. Three samplers:
//   sliding:    every o ∈ {0, Δ, 2Δ, … ≤ n−W} of every video (the original's dense windows; evaluation)
//   random:     a fixed number of items per epoch, videos cycled in a shuffled order, o ~ U{0 … n−W} (training)
//   multiview:  N temporal starts spread evenly over [0, n−W] × K spatial crops (test-time views)
import type { Rng } from '../rng.ts';

export interface ClipSpec {
  /** L: frames per clip */
  length: number;
  /** s: take every s-th frame */
  stride: number;
}

/** One clip item: video index, first raw frame, spatial view (−1: no fixed view, i.e. random or centre crop). */
export interface ClipItem {
  video: number;
  start: number;
  view: number;
}

export const span = (c: ClipSpec): number => (c.length - 1) * c.stride + 1;

/** Raw frame indices of a clip; for a video shorter than the span, indices are clamped to its last frame. */
export function clipFrames(c: ClipSpec, start: number, frames: number): Int32Array {
  const idx = new Int32Array(c.length);
  for (let k = 0; k < c.length; k++) idx[k] = Math.min(start + k * c.stride, frames - 1);
  return idx;
}

export interface Sampled {
  items: ClipItem[];
  /** videos shorter than the span (dropped by `sliding` and `multiview`, clamped by `random` when `pad`). */
  short: number[];
}

function shortVideos(frames: ArrayLike<number>, W: number): number[] {
  const out: number[] = [];
  for (let v = 0; v < frames.length; v++) if (frames[v]! < W) out.push(v);
  return out;
}

export function slidingWindows(frames: ArrayLike<number>, c: ClipSpec, step: number): Sampled {
  const W = span(c);
  const items: ClipItem[] = [];
  for (let v = 0; v < frames.length; v++) for (let o = 0; o + W <= frames[v]!; o += step) items.push({ video: v, start: o, view: -1 });
  return { items, short: shortVideos(frames, W) };
}

/**
 * `epochLength` items: the usable videos in a shuffled order, repeated as needed, each with a uniform random start.
 * With `pad`, videos shorter than the span are used with their last frame repeated instead of being dropped.
 * `starts` draws the start frames (default `rng`): another stream gives other crops of the same videos.
 */
export function randomCrops(frames: ArrayLike<number>, c: ClipSpec, epochLength: number, rng: Rng, pad = false, starts: Rng = rng): Sampled {
  const W = span(c);
  const short = shortVideos(frames, W);
  const usable: number[] = [];
  for (let v = 0; v < frames.length; v++) if (pad || frames[v]! >= W) usable.push(v);
  const items: ClipItem[] = [];
  if (usable.length === 0) return { items, short };
  let order: number[] = [];
  for (let i = 0; i < epochLength; i++) {
    if (i % usable.length === 0) order = rng.shuffle(usable.slice()) as number[];
    const v = order[i % usable.length]!;
    items.push({ video: v, start: starts.int(Math.max(1, frames[v]! - W + 1)), view: -1 });
  }
  return { items, short };
}

/** temporal × spatial views per video; start_t = round(t·(n−W)/(N−1)) (centre when N = 1). */
export function multiView(frames: ArrayLike<number>, c: ClipSpec, temporal: number, spatial: number): Sampled {
  const W = span(c);
  const items: ClipItem[] = [];
  for (let v = 0; v < frames.length; v++) {
    const room = frames[v]! - W;
    if (room < 0) continue;
    for (let t = 0; t < temporal; t++) {
      const start = temporal === 1 ? Math.floor(room / 2) : Math.round((t * room) / (temporal - 1));
      for (let s = 0; s < spatial; s++) items.push({ video: v, start, view: s });
    }
  }
  return { items, short: shortVideos(frames, W) };
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Spatial view `view` of `views` for an H×W frame and an output of aspect oh/ow: the largest box of that aspect,
 * slid along the frame's longer free axis (views = 3: start, centre, end; view −1 or views = 1: centre).
 */
export function viewBox(H: number, W: number, oh: number, ow: number, view = -1, views = 1): Box {
  const a = ow / oh;
  const w = Math.min(W, Math.round(H * a));
  const h = Math.min(H, Math.round(w / a));
  const pos = (room: number) => (view < 0 || views <= 1 ? Math.floor(room / 2) : Math.round((view * room) / (views - 1)));
  return W - w >= H - h ? { x: pos(W - w), y: Math.floor((H - h) / 2), w, h } : { x: Math.floor((W - w) / 2), y: pos(H - h), w, h };
}
