// Shape ops: reshape, permute, (un)squeeze, concat/split/slice, gather/scatter, expand/tile/pad, Shape.
import { broadcast, divide, fmtShape, normAxis, product, sameShape, type Dim } from '../shape.ts';
import {
  attrInt, attrInts, describe, fail, input, knownInts, knownNumbers, optInput, sameDtype, type InferCtx, type OpDef, type OutSpec,
} from './infer.ts';

function axisOf(c: InferCtx, axis: number, rank: number, what = 'axis'): number {
  const a = normAxis(axis, rank);
  if (a === null) fail(c, `${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

function isIndex(c: InferCtx, i: number): void {
  const v = input(c, i);
  if (v.dtype !== 'int64' && v.dtype !== 'int32') fail(c, `indices ${describe(v, i)} must be int64 or int32`);
}

/** Slice parameters resolved against a static dim: start, step, count. */
export function sliceRange(dim: number, start: number, end: number, step: number): [number, number] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
    return [s, Math.max(0, Math.ceil((e - s) / step))];
  }
  s = clamp(s, -1, dim - 1);
  e = clamp(e, -1, dim - 1);
  return [s, Math.max(0, Math.ceil((e - s) / step))];
}

export const shapeOps = {
  Reshape: {
    arity: [2, 2],
    infer: (c) => {
      const x = input(c, 0);
      const target = knownInts(c, 1, 'shape');
      const out: Dim[] = target.map((d, i) => (d === 0 ? x.shape[i] ?? fail(c, `shape entry ${i} is 0 but ${describe(x, 0)} has no dim ${i}`) : d));
      const inferred = out.indexOf(-1);
      if (out.lastIndexOf(-1) !== inferred) fail(c, `shape [${target.join(',')}] has more than one -1`);
      const total = product(x.shape);
      if (inferred >= 0) {
        const rest = product(out.filter((_, i) => i !== inferred));
        const d = total !== null && rest !== null ? divide(total, rest) : null;
        if (d === null) fail(c, `cannot reshape ${describe(x, 0)} to [${target.join(',')}]`);
        out[inferred] = d;
      } else if (product(out) !== total) {
        fail(c, `cannot reshape ${describe(x, 0)} (${total} elements) to ${fmtShape(out)} (${product(out)} elements)`);
      }
      return [{ dtype: x.dtype, shape: out }];
    },
  },
  Transpose: {
    arity: [1, 1],
    infer: (c) => {
      const x = input(c, 0);
      const perm = attrInts(c, 'perm', x.shape.map((_, i) => x.shape.length - 1 - i));
      if (perm.length !== x.shape.length || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
        fail(c, `perm [${perm.join(',')}] is not a permutation of the axes of ${describe(x, 0)}`);
      }
      return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
    },
  },
  Squeeze: {
    arity: [1, 2],
    infer: (c) => {
      const x = input(c, 0);
      const axes = optInput(c, 1) ? knownNumbers(c, 1, 'axes').map((a) => axisOf(c, a, x.shape.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
      for (const a of axes) if (x.shape[a] !== 1) fail(c, `cannot squeeze axis ${a} of ${describe(x, 0)}: its size is not 1`);
      return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
    },
  },
  Unsqueeze: {
    arity: [2, 2],
    infer: (c) => {
      const x = input(c, 0);
      const rank = x.shape.length + knownNumbers(c, 1, 'axes').length;
      const axes = knownNumbers(c, 1, 'axes').map((a) => axisOf(c, a, rank));
      const out: Dim[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : x.shape[j++]!);
      return [{ dtype: x.dtype, shape: out, known: x.known && x.shape.length === 0 ? x.known : undefined }];
    },
  },
  Concat: {
    arity: [1, Infinity],
    infer: (c) => {
      const first = input(c, 0);
      const dtype = sameDtype(c, c.inputs.map((_, i) => i));
      const axis = axisOf(c, attrInt(c, 'axis'), first.shape.length);
      const sizes: Dim[] = [];
      c.inputs.forEach((v, i) => {
        if (!v) fail(c, `input ${i} is missing`);
        if (v.shape.length !== first.shape.length || v.shape.some((d, k) => k !== axis && d !== first.shape[k])) {
          fail(c, `${describe(v, i)} does not match ${describe(first, 0)} outside axis ${axis}`);
        }
        sizes.push(v.shape[axis]!);
      });
      const total = sizes.every((s) => typeof s === 'number') ? (sizes as number[]).reduce((a, b) => a + b, 0) : null;
      if (total === null) fail(c, `cannot concatenate symbolic sizes [${sizes.join(',')}] along axis ${axis}`);
      const shape = first.shape.map((d, k) => (k === axis ? total : d));
      const known = first.shape.length === 1 && c.inputs.every((v) => v!.known) ? c.inputs.flatMap((v) => v!.known!) : undefined;
      return [{ dtype, shape, known }];
    },
  },
  Split: {
    arity: [1, 2],
    infer: (c) => {
      const x = input(c, 0);
      const axis = axisOf(c, attrInt(c, 'axis', 0), x.shape.length);
      const dim = x.shape[axis]!;
      if (typeof dim !== 'number') fail(c, `cannot split symbolic axis ${axis} of ${describe(x, 0)}`);
      const sizes = optInput(c, 1) ? knownNumbers(c, 1, 'split') : null;
      if (!sizes) fail(c, 'the split sizes input is required');
      if (sizes.reduce((a, b) => a + b, 0) !== dim) fail(c, `split sizes [${sizes.join(',')}] do not add up to ${dim} (axis ${axis} of ${describe(x, 0)})`);
      return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((d, k) => (k === axis ? s : d)) }));
    },
  },
  Slice: {
    arity: [3, 5],
    infer: (c) => {
      const x = input(c, 0);
      const starts = knownNumbers(c, 1, 'starts');
      const ends = knownNumbers(c, 2, 'ends');
      const axes = optInput(c, 3) ? knownNumbers(c, 3, 'axes') : starts.map((_, i) => i);
      const steps = optInput(c, 4) ? knownNumbers(c, 4, 'steps') : starts.map(() => 1);
      if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
        fail(c, `starts, ends, axes and steps must have one entry per sliced axis, got ${starts.length}, ${ends.length}, ${axes.length}, ${steps.length}`);
      }
      const shape = [...x.shape];
      let known = x.known ? [...x.known] : undefined;
      axes.forEach((a, i) => {
        const ax = axisOf(c, a, x.shape.length);
        const d = x.shape[ax]!;
        if (typeof d !== 'number') fail(c, `cannot slice symbolic axis ${ax} of ${describe(x, 0)}`);
        if (steps[i] === 0) fail(c, 'slice step 0');
        const [s, n] = sliceRange(d, starts[i]!, ends[i]!, steps[i]!);
        shape[ax] = n;
        if (known) known = Array.from({ length: n }, (_, k) => known![s + k * steps[i]!]!);
      });
      return [{ dtype: x.dtype, shape, known }];
    },
  },
  Gather: {
    arity: [2, 2],
    infer: (c) => {
      const x = input(c, 0);
      isIndex(c, 1);
      const idx = input(c, 1);
      const axis = axisOf(c, attrInt(c, 'axis', 0), x.shape.length);
      const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
      let known: Dim[] | undefined;
      if (x.known && idx.data) known = Array.from(idx.data.data as ArrayLike<number | bigint>, (i) => x.known![Number(i) < 0 ? Number(i) + x.known!.length : Number(i)]!);
      return [{ dtype: x.dtype, shape, known }];
    },
  },
  GatherElements: {
    arity: [2, 2],
    infer: (c) => {
      const x = input(c, 0);
      isIndex(c, 1);
      const idx = input(c, 1);
      axisOf(c, attrInt(c, 'axis', 0), x.shape.length);
      if (idx.shape.length !== x.shape.length) fail(c, `indices ${describe(idx, 1)} must have the rank of ${describe(x, 0)}`);
      return [{ dtype: x.dtype, shape: idx.shape }];
    },
  },
  ScatterElements: {
    arity: [3, 3],
    infer: (c) => {
      const x = input(c, 0);
      isIndex(c, 1);
      const idx = input(c, 1);
      const upd = input(c, 2);
      axisOf(c, attrInt(c, 'axis', 0), x.shape.length);
      if (!sameShape(idx.shape, upd.shape)) fail(c, `updates ${describe(upd, 2)} must have the shape of indices ${describe(idx, 1)}`);
      sameDtype(c, [0, 2]);
      return [{ dtype: x.dtype, shape: x.shape }];
    },
  },
  ScatterND: {
    arity: [3, 3],
    infer: (c) => {
      const x = input(c, 0);
      isIndex(c, 1);
      sameDtype(c, [0, 2]);
      return [{ dtype: x.dtype, shape: x.shape }];
    },
  },
  Expand: {
    arity: [2, 2],
    infer: (c) => {
      const x = input(c, 0);
      const target = knownInts(c, 1, 'shape');
      const shape = broadcast(x.shape, target);
      if (!shape) fail(c, `cannot expand ${describe(x, 0)} to [${target.join(',')}]`);
      return [{ dtype: x.dtype, shape }];
    },
  },
  Tile: {
    arity: [2, 2],
    infer: (c) => {
      const x = input(c, 0);
      const reps = knownNumbers(c, 1, 'repeats');
      if (reps.length !== x.shape.length) fail(c, `repeats [${reps.join(',')}] must have one entry per axis of ${describe(x, 0)}`);
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (reps[i] === 1 ? d : typeof d === 'number' ? d * reps[i]! : fail(c, `cannot tile symbolic axis ${i}`))) }];
    },
  },
  Pad: {
    arity: [2, 4],
    infer: (c) => {
      const x = input(c, 0);
      const pads = knownNumbers(c, 1, 'pads');
      const axes = optInput(c, 3) ? knownNumbers(c, 3, 'axes').map((a) => axisOf(c, a, x.shape.length)) : x.shape.map((_, i) => i);
      if (pads.length !== 2 * axes.length) fail(c, `pads [${pads.join(',')}] must have 2 entries per padded axis (${axes.length} axes)`);
      const shape = [...x.shape];
      axes.forEach((a, i) => {
        const d = shape[a]!;
        if (typeof d !== 'number') fail(c, `cannot pad symbolic axis ${a}`);
        shape[a] = d + pads[i]! + pads[i + axes.length]!;
      });
      return [{ dtype: x.dtype, shape }];
    },
  },
  Shape: {
    arity: [1, 1],
    infer: (c) => {
      const x = input(c, 0);
      const rank = x.shape.length;
      const clamp = (a: number) => Math.max(0, Math.min(rank, a < 0 ? a + rank : a));
      const start = clamp(attrInt(c, 'start', 0));
      const end = c.attrs.end !== undefined ? clamp(attrInt(c, 'end')) : rank;
      const known = x.shape.slice(start, end);
      return [{ dtype: 'int64', shape: [known.length], known }];
    },
  },
  ConstantOfShape: {
    arity: [1, 1],
    infer: (c) => {
      const a = c.attrs.value;
      const dtype = a && 't' in a ? a.t.dtype : 'float32';
      return [{ dtype, shape: knownInts(c, 0, 'shape') }];
    },
  },
} satisfies Record<string, OpDef>;

export type { OutSpec };
