// Clip augmentation: parameters drawn once per sample from the seeded Rng, applied identically to every frame.
// uint8 (L, H, W, 3) -> float32 (L, oh, ow, 3), normalised always: y = (x/255 − mean) / std.
//
// Order: random resized crop (+ flip) first, then colour jitter, grayscale and blur on the oh×ow output, then
// normalisation. Cropping first keeps the per-pixel work at output size; it differs from torchvision's order only in
// that contrast's mean is taken over the crop and the blur σ is in output pixels.
import type { Rng } from '../rng.ts';
import { viewBox, type Box } from './sampling.ts';

export interface AugmentConfig {
  crop: { p: number; scale: [number, number]; ratio: [number, number] };
  flip: { p: number };
  jitter: { p: number; brightness: number; contrast: number; saturation: number; hue: number };
  grayscale: { p: number };
  blur: { p: number; kernel: number; sigma: [number, number] };
}

/** The original's `augs` defaults, with torchvision's default aspect-ratio range. */
export const DEFAULT_AUGMENT: AugmentConfig = {
  crop: { p: 1, scale: [0.75, 0.95], ratio: [3 / 4, 4 / 3] },
  flip: { p: 0.5 },
  jitter: { p: 0.3, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 },
  grayscale: { p: 0.15 },
  blur: { p: 0.3, kernel: 3, sigma: [0.1, 2] },
};

export interface Normalize {
  mean: [number, number, number];
  std: [number, number, number];
}

export const IMAGENET: Normalize = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

export interface AugmentParams {
  box: Box;
  flip: boolean;
  /** jitter factors and the order of ops (0 brightness, 1 contrast, 2 saturation, 3 hue); null when not applied. */
  jitter: { order: number[]; brightness: number; contrast: number; saturation: number; hue: number } | null;
  gray: boolean;
  /** Gaussian blur σ in output pixels; 0 when not applied. */
  sigma: number;
  kernel: number;
}

/** torchvision RandomResizedCrop.get_params: 10 tries of area·U(scale), exp(U(log ratio)); else a centre crop. */
function resizedCropBox(rng: Rng, H: number, W: number, scale: [number, number], ratio: [number, number]): Box {
  const area = H * W;
  const [lr0, lr1] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let i = 0; i < 10; i++) {
    const target = area * rng.range(scale[0], scale[1]);
    const r = Math.exp(rng.range(lr0, lr1));
    const w = Math.round(Math.sqrt(target * r));
    const h = Math.round(Math.sqrt(target / r));
    if (w > 0 && h > 0 && w <= W && h <= H) return { x: rng.int(W - w + 1), y: rng.int(H - h + 1), w, h };
  }
  const r = W / H;
  const w = r < ratio[0] ? W : r > ratio[1] ? Math.round(H * ratio[1]) : W;
  const h = r < ratio[0] ? Math.round(W / ratio[0]) : H;
  return { x: Math.floor((W - w) / 2), y: Math.floor((H - h) / 2), w, h };
}

/** Draws one sample's parameters from its own stream (one Rng fork per sample). */
export function drawParams(rng: Rng, H: number, W: number, oh: number, ow: number, c: AugmentConfig): AugmentParams {
  const box = rng.bernoulli(c.crop.p) ? resizedCropBox(rng, H, W, c.crop.scale, c.crop.ratio) : viewBox(H, W, oh, ow);
  const flip = rng.bernoulli(c.flip.p);
  const j = c.jitter;
  const jitter = rng.bernoulli(j.p)
    ? {
        order: Array.from(rng.permutation(4)),
        brightness: rng.range(Math.max(0, 1 - j.brightness), 1 + j.brightness),
        contrast: rng.range(Math.max(0, 1 - j.contrast), 1 + j.contrast),
        saturation: rng.range(Math.max(0, 1 - j.saturation), 1 + j.saturation),
        hue: rng.range(-j.hue, j.hue),
      }
    : null;
  const gray = rng.bernoulli(c.grayscale.p);
  const sigma = rng.bernoulli(c.blur.p) ? rng.range(c.blur.sigma[0], c.blur.sigma[1]) : 0;
  return { box, flip, jitter, gray, sigma, kernel: c.blur.kernel };
}

/** Evaluation: no augmentation, spatial view `view` of `views` (centre by default). */
export function evalParams(H: number, W: number, oh: number, ow: number, view = -1, views = 1): AugmentParams {
  return { box: viewBox(H, W, oh, ow, view, views), flip: false, jitter: null, gray: false, sigma: 0, kernel: 3 };
}

/**
 * Bilinear taps (half-pixel centres, as align_corners = false) of `n` outputs over source [o, o+len) of size `size`:
 * i0/i1 are source indices times `mul`, f the weight of i1.
 */
function taps(n: number, o: number, len: number, size: number, mul: number, reverse: boolean) {
  const i0 = new Int32Array(n);
  const i1 = new Int32Array(n);
  const f = new Float32Array(n);
  const scale = len / n;
  for (let k = 0; k < n; k++) {
    const s = Math.min(Math.max(o + (k + 0.5) * scale - 0.5, 0), size - 1);
    const a = Math.floor(s);
    const d = reverse ? n - 1 - k : k;
    i0[d] = a * mul;
    i1[d] = Math.min(a + 1, size - 1) * mul;
    f[d] = s - a;
  }
  return { i0, i1, f };
}

const GR = 0.299;
const GG = 0.587;
const GB = 0.114;
const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * One pass over an (n·3) float frame: jitter ops `ops` in order (0 brightness, 1 contrast with the given frame mean,
 * 2 saturation, 3 hue; each clamped to [0, 1]), then grayscale, then normalisation when `norm` is given.
 * Returns the mean gray level of the result (contrast's mean for the ops after it).
 */
function pixelPass(
  x: Float32Array, o: number, n: number, ops: number[], j: NonNullable<AugmentParams['jitter']> | null,
  mean: number, gray: boolean, norm: Normalize | null,
): number {
  const end = o + n * 3;
  const br = j?.brightness ?? 1;
  const cf = j?.contrast ?? 1;
  const cb = (1 - cf) * mean;
  const sf = j?.saturation ?? 1;
  const hf = j?.hue ?? 0;
  const [m0, m1, m2] = norm?.mean ?? [0, 0, 0];
  const [i0, i1, i2] = norm ? (norm.std.map((v) => 1 / v) as [number, number, number]) : [1, 1, 1];
  let sum = 0;
  for (let i = o; i < end; i += 3) {
    let r = x[i]!;
    let g = x[i + 1]!;
    let b = x[i + 2]!;
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k]!;
      if (op === 0) {
        r = clamp01(r * br);
        g = clamp01(g * br);
        b = clamp01(b * br);
      } else if (op === 1) {
        r = clamp01(cf * r + cb);
        g = clamp01(cf * g + cb);
        b = clamp01(cf * b + cb);
      } else if (op === 2) {
        const l = (1 - sf) * (GR * r + GG * g + GB * b);
        r = clamp01(sf * r + l);
        g = clamp01(sf * g + l);
        b = clamp01(sf * b + l);
      } else {
        x[i] = r;
        x[i + 1] = g;
        x[i + 2] = b;
        hueShift(x, i, hf);
        r = x[i]!;
        g = x[i + 1]!;
        b = x[i + 2]!;
      }
    }
    const l = GR * r + GG * g + GB * b;
    if (gray) r = g = b = l;
    sum += l;
    x[i] = (r - m0) * i0;
    x[i + 1] = (g - m1) * i1;
    x[i + 2] = (b - m2) * i2;
  }
  return sum / n;
}

/** pixelPass with no ops, no grayscale: (x − mean)·(1/std), the same arithmetic without the per-pixel op loop. */
function normalizePass(x: Float32Array, o: number, n: number, norm: Normalize): void {
  const [m0, m1, m2] = norm.mean;
  const i0 = 1 / norm.std[0], i1 = 1 / norm.std[1], i2 = 1 / norm.std[2];
  const end = o + n * 3;
  for (let i = o; i < end; i += 3) {
    x[i] = (x[i]! - m0) * i0;
    x[i + 1] = (x[i + 1]! - m1) * i1;
    x[i + 2] = (x[i + 2]! - m2) * i2;
  }
}

/** RGB -> HSV, h += dh (mod 1), -> RGB, as torchvision's adjust_hue. */
function hueShift(x: Float32Array, i: number, dh: number): void {
  const r = x[i]!;
  const g = x[i + 1]!;
  const b = x[i + 2]!;
  const v = r > g ? (r > b ? r : b) : g > b ? g : b;
  const min = r < g ? (r < b ? r : b) : g < b ? g : b;
  const c = v - min;
  if (c === 0) return;
  let h = (v === r ? (g - b) / c : v === g ? 2 + (b - r) / c : 4 + (r - g) / c) / 6 + dh;
  h -= Math.floor(h);
  const h6 = h * 6;
  const k = Math.floor(h6);
  const f = h6 - k;
  // with s = c/v: p = v(1−s) = min, q = v(1−s·f), t = v(1−s(1−f))
  const p = min;
  const q = v - c * f;
  const t = v - c * (1 - f);
  if (k === 0) (x[i] = v), (x[i + 1] = t), (x[i + 2] = p);
  else if (k === 1) (x[i] = q), (x[i + 1] = v), (x[i + 2] = p);
  else if (k === 2) (x[i] = p), (x[i + 1] = v), (x[i + 2] = t);
  else if (k === 3) (x[i] = p), (x[i + 1] = q), (x[i + 2] = v);
  else if (k === 4) (x[i] = t), (x[i + 1] = p), (x[i + 2] = v);
  else (x[i] = v), (x[i + 1] = p), (x[i + 2] = q);
}

/** Reflect-padded source indices (times `mul`) of a k-tap window: table[j·k + t] for output j, tap t. */
function reflectTable(n: number, k: number, mul: number): Int32Array {
  const r = (k - 1) >> 1;
  const out = new Int32Array(n * k);
  for (let j = 0; j < n; j++) {
    for (let t = 0; t < k; t++) {
      let i = j + t - r;
      i = i < 0 ? -i : i >= n ? 2 * n - 2 - i : i;
      out[j * k + t] = Math.min(Math.max(i, 0), n - 1) * mul;
    }
  }
  return out;
}

/** Separable Gaussian (kernel k, σ) with reflect padding, as torchvision's gaussian_blur: weights and tap tables per clip. */
interface BlurPlan {
  k: number;
  wts: Float32Array;
  cols: Int32Array;
  rows: Int32Array;
  /** one frame of scratch */
  tmp: Float32Array;
}

function blurPlan(h: number, w: number, k: number, sigma: number): BlurPlan {
  const r = (k - 1) >> 1;
  const wts = new Float32Array(k);
  let sum = 0;
  for (let i = 0; i < k; i++) sum += wts[i] = Math.exp(-0.5 * ((i - r) / sigma) ** 2);
  for (let i = 0; i < k; i++) wts[i]! /= sum;
  return { k, wts, cols: reflectTable(w, k, 3), rows: reflectTable(h, k, w * 3), tmp: new Float32Array(h * w * 3) };
}

function blurFrame(x: Float32Array, o: number, h: number, w: number, plan: BlurPlan): void {
  const { k, wts, cols, rows, tmp } = plan;
  for (let y = 0; y < h; y++) {
    const row = o + y * w * 3;
    for (let xx = 0; xx < w; xx++) {
      let a = 0, b = 0, c = 0;
      for (let t = 0; t < k; t++) {
        const s = row + cols[xx * k + t]!;
        const wt = wts[t]!;
        a += wt * x[s]!;
        b += wt * x[s + 1]!;
        c += wt * x[s + 2]!;
      }
      const d = (y * w + xx) * 3;
      tmp[d] = a;
      tmp[d + 1] = b;
      tmp[d + 2] = c;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      let a = 0, b = 0, c = 0;
      for (let t = 0; t < k; t++) {
        const s = rows[y * k + t]! + xx * 3;
        const wt = wts[t]!;
        a += wt * tmp[s]!;
        b += wt * tmp[s + 1]!;
        c += wt * tmp[s + 2]!;
      }
      const d = o + (y * w + xx) * 3;
      x[d] = a;
      x[d + 1] = b;
      x[d + 2] = c;
    }
  }
}

/**
 * (L, H, W, 3) uint8 `src` -> (L, oh, ow, 3) float32 at `out[offset…]`. Crop, resize, flip and (when no colour op
 * or blur follows) normalisation run in one pass: y = v·(1/(255·std)) − mean/std.
 */
export function renderClip(
  src: Uint8Array, L: number, H: number, W: number,
  p: AugmentParams, oh: number, ow: number, norm: Normalize,
  out: Float32Array, offset: number,
): void {
  const xs = taps(ow, p.box.x, p.box.w, W, 3, p.flip);
  const ys = taps(oh, p.box.y, p.box.h, H, W * 3, false);
  const later = p.jitter !== null || p.gray || p.sigma > 0;
  const sc = later ? [1 / 255, 1 / 255, 1 / 255] : norm.std.map((s) => 1 / (255 * s));
  const sh = later ? [0, 0, 0] : norm.mean.map((m, c) => -m / norm.std[c]!);
  const [s0, s1, s2] = sc as [number, number, number];
  const [h0, h1, h2] = sh as [number, number, number];
  const frame = H * W * 3;
  const n = oh * ow;
  const xi0 = xs.i0, xi1 = xs.i1, xf = xs.f;
  const yi0 = ys.i0, yi1 = ys.i1, yf = ys.f;
  for (let t = 0; t < L; t++) {
    const fo = t * frame;
    let d = offset + t * n * 3;
    for (let y = 0; y < oh; y++) {
      const r0 = fo + yi0[y]!;
      const r1 = fo + yi1[y]!;
      const fy = yf[y]!;
      for (let x = 0; x < ow; x++) {
        const x0 = xi0[x]!;
        const x1 = xi1[x]!;
        const a = r0 + x0;
        const b = r0 + x1;
        const c = r1 + x0;
        const e = r1 + x1;
        const fx = xf[x]!;
        const a0 = src[a]!, a1 = src[a + 1]!, a2 = src[a + 2]!;
        const b0 = src[b]!, b1 = src[b + 1]!, b2 = src[b + 2]!;
        const c0 = src[c]!, c1 = src[c + 1]!, c2 = src[c + 2]!;
        const e0 = src[e]!, e1 = src[e + 1]!, e2 = src[e + 2]!;
        const t0 = a0 + (b0 - a0) * fx;
        const u0 = c0 + (e0 - c0) * fx;
        const t1 = a1 + (b1 - a1) * fx;
        const u1 = c1 + (e1 - c1) * fx;
        const t2 = a2 + (b2 - a2) * fx;
        const u2 = c2 + (e2 - c2) * fx;
        out[d] = (t0 + (u0 - t0) * fy) * s0 + h0;
        out[d + 1] = (t1 + (u1 - t1) * fy) * s1 + h1;
        out[d + 2] = (t2 + (u2 - t2) * fy) * s2 + h2;
        d += 3;
      }
    }
  }
  if (!later) return;
  const blur = p.sigma > 0 ? blurPlan(oh, ow, p.kernel, p.sigma) : undefined;
  const order = p.jitter?.order ?? [];
  const ci = order.indexOf(1);
  for (let t = 0; t < L; t++) {
    const o = offset + t * n * 3;
    // The contrast mean is of the frame after the ops before contrast: one pass up to it, one pass after it.
    const mean = ci >= 0 ? pixelPass(out, o, n, order.slice(0, ci), p.jitter, 0, false, null) : 0;
    pixelPass(out, o, n, ci >= 0 ? order.slice(ci) : order, p.jitter, mean, p.gray, blur ? null : norm);
    if (blur) {
      blurFrame(out, o, oh, ow, blur);
      normalizePass(out, o, n, norm);
    }
  }
}
