// Gradients of normalisations, convolutions and pooling (N, C, spatial…).
import type { GraphBuilder } from '../../builder.ts';
import type { Value } from '../../ir.ts';
import type { nnOps } from '../../ops/nn.ts';
import { normAxis } from '../../shape.ts';
import { tensor } from '../../tensor.ts';
import { NOT_IMPLEMENTED, once, type GradCtx, type GradEntry } from '../rule.ts';

/** dx of a normalisation given x̂ and 1/σ over `axes`: dx = (1/σ)·(dx̂ - mean(dx̂) - x̂·mean(dx̂·x̂)) */
function normBackward(b: GraphBuilder, dxhat: Value, xhat: Value, invStd: Value, axes: number[]): Value {
  const m1 = b.ReduceMean(dxhat, axes, true);
  const m2 = b.ReduceMean(b.Mul(dxhat, xhat), axes, true);
  return b.Mul(invStd, b.Sub(b.Sub(dxhat, m1), b.Mul(xhat, m2)));
}

interface Window { strides: number[]; pads: number[]; dilations: number[]; kernel: number[] }

function windowOf(g: GradCtx, kernel: readonly number[]): Window {
  const n = kernel.length;
  return {
    kernel: [...kernel],
    strides: [...g.ints('strides', Array<number>(n).fill(1))],
    pads: [...g.ints('pads', Array<number>(2 * n).fill(0))],
    dilations: [...g.ints('dilations', Array<number>(n).fill(1))],
  };
}

/** output_padding that makes a ConvTranspose of `dy` land exactly on the forward input's spatial size. */
function outputPadding(x: Value, dy: Value, w: Window): number[] {
  const n = w.kernel.length;
  return w.kernel.map((k, i) => {
    const want = x.shape[i + 2] as number;
    const got = w.strides[i]! * ((dy.shape[i + 2] as number) - 1) + w.dilations[i]! * (k - 1) + 1 - w.pads[i]! - w.pads[i + n]!;
    return want - got;
  });
}

/** Σ over every window that covers each input position of `dy` (a ConvTranspose with a ones kernel, per channel). */
function scatterWindows(b: GraphBuilder, dy: Value, x: Value, w: Window): Value {
  const [n, c] = [dy.shape[0] as number, dy.shape[1] as number];
  const flat = b.Reshape(dy, [n * c, 1, ...dy.shape.slice(2)]);
  const ones = b.constant(tensor(dy.dtype, [1, 1, ...w.kernel], new Array(w.kernel.reduce((p, q) => p * q, 1)).fill(1)));
  const dx = b.ConvTranspose(flat, ones, null, { strides: w.strides, pads: w.pads, dilations: w.dilations, outputPadding: outputPadding(x, dy, w) });
  return b.Reshape(dx, x.shape);
}

/** The number of non-padding input positions in each pooling window, as a (1, 1, out…) constant. */
function windowCounts(x: Value, y: Value, w: Window): number[] {
  const n = w.kernel.length;
  const inDims = x.shape.slice(2) as number[];
  const outDims = y.shape.slice(2) as number[];
  const perAxis = outDims.map((o, i) =>
    Array.from({ length: o }, (_, j) => {
      const start = j * w.strides[i]! - w.pads[i]!;
      let count = 0;
      for (let k = 0; k < w.kernel[i]!; k++) {
        const p = start + k * w.dilations[i]!;
        if (p >= 0 && p < inDims[i]!) count++;
      }
      return count;
    }),
  );
  const total = outDims.reduce((p, q) => p * q, 1);
  const counts = new Array<number>(total);
  for (let flat = 0; flat < total; flat++) {
    let rem = flat;
    let c = 1;
    for (let i = n - 1; i >= 0; i--) {
      c *= perAxis[i]![rem % outDims[i]!]!;
      rem = Math.floor(rem / outDims[i]!);
    }
    counts[flat] = c;
  }
  return counts;
}

/** The kernel offsets of a window in row-major order (the order ORT's MaxPool scans a window in). */
function kernelOffsets(kernel: readonly number[]): number[][] {
  const offsets: number[][] = [[]];
  for (const k of kernel) offsets.splice(0, offsets.length, ...offsets.flatMap((o) => Array.from({ length: k }, (_, i) => [...o, i])));
  return offsets;
}

/**
 * dX of MaxPool from X and Y, without the Indices output (which WebGPU's kernel refuses). Each output sends its dY to
 * the first position of its window, in row-major kernel order, that holds the maximum: the one ORT's kernel indexes
 * (it keeps a value only when strictly greater; padding is never a candidate). Leading spatial axes the window does
 * not slide over (kernel 1, stride 1, no padding: the time axis of S3D's (1, 3, 3) pools) join N and C in the rows,
 * so that S3D's pools are 2-D (WebGPU's kernels are surest there).
 */
function maxPoolInputGrad(b: GraphBuilder, v: Value, y: Value, dy: Value, win: Window): Value {
  const n = win.kernel.length;
  let lead = 0;
  while (lead < n - 1 && win.kernel[lead] === 1 && win.strides[lead] === 1 && win.pads[lead] === 0 && win.pads[lead + n] === 0) lead++;
  const rows = v.shape.slice(0, 2 + lead).reduce<number>((p, q) => p * (q as number), 1);
  const fold = (t: Value) => b.Reshape(t, [rows, 1, ...t.shape.slice(2 + lead)]); // (N, C, lead…, rest…) → (R, 1, rest…)
  const rest: Window = {
    kernel: win.kernel.slice(lead),
    strides: win.strides.slice(lead),
    dilations: win.dilations.slice(lead),
    pads: [...win.pads.slice(lead, n), ...win.pads.slice(n + lead)],
  };
  return b.Reshape(routeSeparably(b, fold(v), fold(y), fold(dy), rest), v.shape);
}

/**
 * MaxPool's dX for one channel per row, x (R, 1, in…), y and dy (R, 1, out…) → (R, 1, in…), one axis at a time. A
 * box window's maximum is the maximum over its rows of each row's maximum: y = pool_0(pool_1(…pool_{n−1}(x))), each
 * pool_a along axis a alone. Routing dY back through that chain, first axis first, each step to the first offset of
 * its 1-D window that holds the maximum, sends it to the first row holding the window's maximum and, in that row, to
 * the first position: the first in row-major order, the position ORT's kernel indexes (it keeps a value only when
 * strictly greater; padding is never a candidate). The intermediate maxima are recomputed (a MaxPool each, cheap).
 * A 1-D route costs a few passes per kernel offset over tensors of the output's size, against the n-D one's
 * (R, K, out…) stack of every offset's window and a ConvTranspose to place them back (K = 9 for 3×3).
 */
function routeSeparably(b: GraphBuilder, x: Value, y: Value, dy: Value, win: Window): Value {
  const n = win.kernel.length;
  const along = (a: number, t: Value) => {
    const one = (v: number, own: number) => win.kernel.map((_, i) => (i === a ? own : v));
    return b.MaxPool(t, { kernel: one(1, win.kernel[a]!), strides: one(1, win.strides[a]!), dilations: one(1, win.dilations[a]!), pads: [...one(0, win.pads[a]!), ...one(0, win.pads[a + n]!)] }).y;
  };
  const axes = win.kernel.map((_, i) => i).filter((i) => win.kernel[i]! > 1 || win.strides[i]! > 1 || win.pads[i]! > 0 || win.pads[i + n]! > 0);
  // chain[j]: x pooled along the last j of `axes`; chain[axes.length] is y
  const chain = [x];
  for (const a of [...axes].reverse().slice(0, -1)) chain.push(along(a, chain.at(-1)!));
  chain.push(y);
  let d = dy;
  axes.forEach((a, j) => {
    const i = axes.length - j;
    d = route1d(b, chain[i - 1]!, chain[i]!, d, a + 2, win.kernel[a]!, win.strides[a]!, win.dilations[a]!, win.pads[a]!);
  });
  return d;
}

/**
 * The 1-D route of one separable step: dY of y = max over windows along `axis` of x (kernel k, stride s, dilation
 * dil, leading pad lo) back to x. Offset j of output o reads x at o·s + j·dil − lo (its window X_j: a strided slice,
 * NaN where it falls in the padding, and NaN equals no maximum). Offsets are visited in order, each taking what is
 * left of dY where it holds the maximum (left_{j+1} = left_j − taken_j: dY once, then exactly 0). Back in x, the
 * positions p = s·m + ρ of one residue ρ receive taken_j[m + c] from each offset with ρ + lo − j·dil = c·s: a shift
 * of it, so dX is s such sums, interleaved. Every pass is over a tensor of y's size. Float masks, not And/Or: WebGPU
 * has neither.
 */
function route1d(b: GraphBuilder, x: Value, y: Value, dy: Value, axis: number, k: number, s: number, dil: number, lo: number): Value {
  const rank = x.shape.length;
  const [len, out] = [x.shape[axis] as number, y.shape[axis] as number];
  const at = (v: number, rest = 0) => Array.from({ length: rank }, (_, i) => (i === axis ? v : rest));
  const taken: (Value | undefined)[] = [];
  let left = dy;
  for (let j = 0; j < k; j++) {
    const first = j * dil - lo; // x position of output 0's offset j
    const before = first < 0 ? Math.ceil(-first / s) : 0; // outputs whose offset j lies before x
    const last = first + (out - 1) * s;
    const after = last >= len ? Math.ceil((last - len + 1) / s) : 0; // … and after it
    if (before + after >= out) continue; // this offset reads only padding: it never holds a maximum
    const start = first + before * s;
    const inside = b.Slice(x, [start], [start + (out - before - after - 1) * s + 1], [axis], [s]);
    const xj = before + after > 0 ? b.Pad(inside, [...at(before), ...at(after)], Number.NaN) : inside;
    taken[j] = b.Mul(b.Cast(b.Equal(xj, y), dy.dtype), left);
    if (j < k - 1) left = b.Sub(left, taken[j]!);
  }
  const per = Math.ceil(len / s); // positions per residue (the last residues may have one fewer: cropped below)
  const residues = Array.from({ length: s }, (_, rho) => {
    const terms = taken.flatMap((t, j) => {
      const c = (rho + lo - j * dil) / s;
      if (!t || !Number.isInteger(c)) return [];
      return [c === 0 && per === out ? t : b.Pad(t, [...at(-c), ...at(per - out + c)])];
    });
    const shape = x.shape.map((d, i) => (i === axis ? per : (d as number)));
    return terms.length === 0 ? b.ConstantOfShape(b.ints(shape), 0, dy.dtype) : terms.reduce((p, t) => b.Add(p, t));
  });
  if (s === 1) return residues[0]!;
  const grid = b.Reshape(b.Concat(residues.map((t) => b.Unsqueeze(t, [axis + 1])), axis + 1), x.shape.map((d, i) => (i === axis ? per * s : (d as number))));
  return per * s === len ? grid : b.Pad(grid, [...at(0), ...at(len - per * s)]);
}

/**
 * dX of a unit-stride, single-group conv: Conv(dY, W'), W'[c, o, k] = W[o, c, K-1-k] (flipped, in/out swapped), with
 * pads (K-1)·dil - p on each side.
 */
function convInputGrad(b: GraphBuilder, dy: Value, w: Value, win: Window): Value {
  const n = win.kernel.length;
  const axes = win.kernel.map((_, i) => i + 2);
  const flipped = b.Slice(w, win.kernel.map(() => -1), win.kernel.map(() => Number.MIN_SAFE_INTEGER), axes, win.kernel.map(() => -1));
  const wt = b.Transpose(flipped, [1, 0, ...axes]);
  const pads = win.pads.map((p, i) => (win.kernel[i % n]! - 1) * win.dilations[i % n]! - p);
  return b.Conv(dy, wt, null, { pads, dilations: win.dilations });
}

/**
 * dW of a single-group conv as GEMMs over the kernel offsets: dW[:, :, k] = Σ_n dY[n] · X_k[n]ᵀ, where X_k is the
 * (strided) window of the padded input that offset k sees: (N, C, out…) → (N, C, S). Same FLOPs as the conv, but as
 * matrix products instead of a convolution whose kernel is the whole output. Offsets are taken a chunk at a time,
 * their windows stacked to (N, g·C, S), so that each product is at least GEMM_WIDTH wide: one per offset would be
 * (N, O, S)·(N, S, C), whose C = 3 of a first layer runs at a tenth of the GEMM's speed.
 */
function convWeightGrad(b: GraphBuilder, v: Value, dy: Value, win: Window): Value {
  const n = win.kernel.length;
  const [N, C] = [v.shape[0] as number, v.shape[1] as number];
  const O = dy.shape[1] as number;
  const out = dy.shape.slice(2) as number[];
  const S = out.reduce((p, q) => p * q, 1);
  const padded = win.pads.some((p) => p !== 0) ? b.Pad(v, [0, 0, ...win.pads.slice(0, n), 0, 0, ...win.pads.slice(n)]) : v;
  const dyr = b.Reshape(dy, [N, O, S]);
  const offsets = kernelOffsets(win.kernel);
  const axes = win.kernel.map((_, i) => i + 2);
  const window = (k: number[]) => {
    const starts = k.map((ki, i) => ki * win.dilations[i]!);
    const ends = k.map((_, i) => starts[i]! + (out[i]! - 1) * win.strides[i]! + 1);
    return b.Reshape(b.Slice(padded, starts, ends, axes, win.strides), [N, C, S]); // (N, C, S)
  };
  const chunks = Math.ceil(offsets.length / Math.ceil(GEMM_WIDTH / C));
  const per = Math.ceil(offsets.length / chunks);
  const parts = Array.from({ length: chunks }, (_, i) => {
    const ks = offsets.slice(i * per, (i + 1) * per);
    const cols = ks.length === 1 ? window(ks[0]!) : b.Concat(ks.map(window), 1); // (N, g·C, S), rows (k, c)
    const prod = b.MatMul(dyr, b.Transpose(cols, [0, 2, 1])); // (N, O, g·C)
    return b.Reshape(b.ReduceSum(prod, [0], false), [O, ks.length, C]); // (O, g, C)
  });
  const stacked = parts.length === 1 ? parts[0]! : b.Concat(parts, 1); // (O, K, C)
  return b.Reshape(offsets.length === 1 ? stacked : b.Transpose(stacked, [0, 2, 1]), [O, C, ...win.kernel]);
}

/** The narrowest product convWeightGrad makes: offsets are stacked until their channels reach it. */
const GEMM_WIDTH = 64;

/**
 * dW of a grouped conv: dW[o, c, k] = Σ_n,s X[n, g·Cg + c, s·stride + k·dil - pad] · dY[n, o, s] as one conv of X
 * (channels as batch, batch as channels) with dY as the kernel, strides and dilations swapped, group g; cropped to k.
 */
function convWeightGradGrouped(b: GraphBuilder, v: Value, d: Value, win: Window, group: number): Value {
  const spatial = win.kernel.length;
  const [n, cin] = [v.shape[0] as number, v.shape[1] as number];
  const cg = cin / group;
  const rest = v.shape.slice(2) as number[];
  const xg = b.Reshape(v, [n, group, cg, ...rest]);
  const xt = b.Reshape(b.Transpose(xg, [2, 1, 0, ...rest.map((_, i) => i + 3)]), [cg, group * n, ...rest]);
  const dyt = b.Transpose(d, [1, 0, ...rest.map((_, i) => i + 2)]);
  const full = b.Conv(xt, dyt, null, { strides: win.dilations, dilations: win.strides, pads: win.pads, group });
  const out = full.shape.slice(2) as number[];
  const cropped = out.every((o, i) => o === win.kernel[i]) ? full : b.Slice(full, Array<number>(spatial).fill(0), win.kernel, win.kernel.map((_, i) => i + 2));
  return b.Transpose(cropped, [1, 0, ...rest.map((_, i) => i + 2)]);
}

export const nnGrads = {
  LayerNormalization: (g) => {
    const { b, x, y, dy } = g;
    const v = x[0]!;
    if (dy[1] || dy[2]) throw g.error('gradients through the Mean/InvStdDev outputs are not supported');
    const axis = normAxis(g.int('axis', -1), v.shape.length)!;
    const axes = Array.from({ length: v.shape.length - axis }, (_, i) => axis + i);
    // x̂ = (x - mean)·(1/σ) from the forward statistics, shared by dx and d scale
    const stats = once(() => {
      const mean = b.Cast(y[1]!, v.dtype);
      const invStd = b.Cast(y[2]!, v.dtype);
      return { invStd, xhat: b.Mul(b.Sub(v, mean), invStd) };
    });
    const d = dy[0]!;
    return [
      () => {
        const { xhat, invStd } = stats();
        return normBackward(b, b.Mul(d, x[1]!), xhat, invStd, axes);
      },
      () => b.Mul(d, stats().xhat),
      () => d,
    ];
  },
  // Training mode normalises with the batch statistics (recomputed here); inference mode with the running ones.
  // The running mean and variance (inputs 3, 4 and outputs 1, 2) are state, not differentiable.
  BatchNormalization: (g) => {
    const { b, x, dy } = g;
    const d = dy[0];
    if (!d) return [undefined, undefined, undefined, undefined, undefined];
    const v = x[0]!;
    const rank = v.shape.length;
    const axes = [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
    const perChannel = (t: Value) => b.Reshape(t, [1, v.shape[1]!, ...Array<number>(rank - 2).fill(1)]);
    const training = g.int('training_mode', 0) === 1;
    // Batch statistics in training mode, the running ones in inference mode; x̂ = (x - mean)·(1/σ)
    const mean = once(() => (training ? b.ReduceMean(v, axes, true) : perChannel(x[3]!)));
    const centred = once(() => b.Sub(v, mean()));
    const invStd = once(() => {
      const variance = training ? b.ReduceMean(b.Mul(centred(), centred()), axes, true) : perChannel(x[4]!);
      return b.Reciprocal(b.Sqrt(b.Add(variance, b.scalarLike(g.float('epsilon', 1e-5), v))));
    });
    const xhat = once(() => b.Mul(centred(), invStd()));
    return [
      () => {
        const dxhat = b.Mul(d, perChannel(x[1]!));
        return training ? normBackward(b, dxhat, xhat(), invStd(), axes) : b.Mul(dxhat, invStd());
      },
      () => b.ReduceSum(b.Mul(d, xhat()), axes, false),
      () => b.ReduceSum(d, axes, false),
      undefined,
      undefined,
    ];
  },
  Conv: (g) => {
    const { b, x, dy } = g;
    const [v, w] = [x[0]!, x[1]!];
    const d = dy[0]!;
    const group = g.int('group', 1);
    const win = windowOf(g, g.ints('kernel_shape', w.shape.slice(2) as number[]));
    const spatial = win.kernel.length;
    const unit = win.strides.every((s) => s === 1);
    const padsFit = win.pads.every((p, i) => p <= (win.kernel[i % spatial]! - 1) * win.dilations[i % spatial]!);
    return [
      // With unit strides and one group, a plain Conv of dY with the flipped, transposed kernel (ORT's Conv is several
      // times faster than its ConvTranspose); otherwise ConvTranspose(dY, W), whose (C_in, C_out/g, k…) weight layout
      // W (O, C/g, k…) already has.
      () => (unit && group === 1 && padsFit
        ? convInputGrad(b, d, w, win)
        : b.ConvTranspose(d, w, null, { strides: win.strides, pads: win.pads, dilations: win.dilations, group, outputPadding: outputPadding(v, d, win) })),
      () => (group === 1 ? convWeightGrad(b, v, d, win) : convWeightGradGrouped(b, v, d, win, group)),
      () => b.ReduceSum(d, [0, ...Array.from({ length: spatial }, (_, i) => i + 2)], false),
    ];
  },
  ConvTranspose: NOT_IMPLEMENTED,
  MaxPool: (g) => [() => maxPoolInputGrad(g.b, g.x[0]!, g.y[0]!, g.dy[0]!, windowOf(g, g.ints('kernel_shape')))],
  // Each output spreads dY / count evenly over its window.
  AveragePool: (g) => [
    () => {
      const { b, x, y, dy } = g;
      const v = x[0]!;
      const win = windowOf(g, g.ints('kernel_shape'));
      const k = win.kernel.reduce((p, q) => p * q, 1);
      const padded = win.pads.some((p) => p !== 0) && g.int('count_include_pad', 0) === 0;
      const divisor = padded
        ? b.constant(tensor(v.dtype, [1, 1, ...(y[0]!.shape.slice(2) as number[])], windowCounts(v, y[0]!, win)))
        : b.scalarLike(k, v);
      return scatterWindows(b, b.Div(dy[0]!, divisor), v, win);
    },
  ],
} satisfies Record<keyof typeof nnOps, GradEntry>;
