// Gradients of shape ops: reshape/permute/(un)squeeze invert; concat/split/slice/pad route; gather scatters back.
import type { GraphBuilder } from '../../builder.ts';
import type { Value } from '../../ir.ts';
import { sliceRange, type shapeOps } from '../../ops/shape.ts';
import { isStatic, normAxis } from '../../shape.ts';
import { tensor } from '../../tensor.ts';
import { NOT_DIFFERENTIABLE, NOT_IMPLEMENTED, once, type GradCtx, type GradEntry, type GradRule } from '../rule.ts';

function zerosLike(b: GraphBuilder, like: Value, shape = like.shape): Value {
  return b.ConstantOfShape(b.shapeValue(shape, like), 0, like.dtype);
}

/** The static shape of input 0. */
function staticShape(g: GradCtx): number[] {
  const v = g.x[0]!;
  if (!isStatic(v.shape)) throw g.error(`the ${g.node.opType} gradient needs a static shape`, 0);
  return [...v.shape];
}

const knownOf = (v: Value | null | undefined): number[] => (v?.known ?? []).map(Number);

const inverse = (perm: readonly number[]): number[] => perm.map((_, i) => perm.indexOf(i));

/** Back to the input's shape (Reshape, Squeeze, Unsqueeze). */
const reshapeBack: GradRule = ({ b, x, dy }) => [() => b.Reshape(dy[0]!, b.shapeValue(x[0]!.shape, x[0]!)), undefined];

function sliceGrad(g: GradCtx): Value {
  const { b } = g;
  const x = g.x[0]!;
  const shape = staticShape(g);
  const starts = knownOf(g.x[1]);
  const ends = knownOf(g.x[2]);
  const axes = g.x[3] ? knownOf(g.x[3]).map((a) => normAxis(a, shape.length)!) : starts.map((_, i) => i);
  const steps = g.x[4] ? knownOf(g.x[4]) : starts.map(() => 1);
  const ranges = shape.map((d) => ({ start: 0, count: d, step: 1 }));
  axes.forEach((a, i) => {
    const [start, count] = sliceRange(shape[a]!, starts[i]!, ends[i]!, steps[i]!);
    ranges[a] = { start, count, step: steps[i]! };
  });
  if (ranges.every((r) => r.step === 1)) {
    // Zero padding around the slice: [begin per axis..., end per axis...]
    const pads = [...ranges.map((r) => r.start), ...ranges.map((r, k) => shape[k]! - r.start - r.count)];
    return b.Pad(g.dy[0]!, pads);
  }
  // Strided or reversed slices: scatter into zeros at the selected coordinates, (…out, rank) indices.
  const outShape = ranges.map((r) => r.count);
  const n = outShape.reduce((p, q) => p * q, 1);
  const idx: number[] = [];
  for (let flat = 0; flat < n; flat++) {
    let rem = flat;
    const coord = new Array<number>(shape.length);
    for (let k = shape.length - 1; k >= 0; k--) {
      const c = rem % outShape[k]!;
      rem = Math.floor(rem / outShape[k]!);
      coord[k] = ranges[k]!.start + c * ranges[k]!.step;
    }
    idx.push(...coord);
  }
  const indices = b.constant(tensor('int64', [...outShape, shape.length], idx));
  return b.ScatterND(zerosLike(b, x), indices, g.dy[0]!);
}

/** Duplicate indices accumulate: scatter-add into zeros with the gathered axis moved to the front. */
function gatherGrad(g: GradCtx): Value {
  const { b } = g;
  const x = g.x[0]!;
  const idx = g.x[1]!;
  const rank = x.shape.length;
  const axis = normAxis(g.int('axis', 0), rank)!;
  const r = idx.shape.length;
  const toFront = [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
  const frontShape = toFront.map((i) => x.shape[i]!);
  // dy: (pre, idx..., post) → (idx..., pre, post)
  const dyRank = g.dy[0]!.shape.length;
  const dyPerm = [
    ...Array.from({ length: r }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: dyRank - axis - r }, (_, i) => axis + r + i),
  ];
  const updates = b.Transpose(g.dy[0]!, dyPerm);
  const indices = b.Unsqueeze(b.Cast(idx, 'int64'), [-1]);
  const scattered = b.ScatterND(zerosLike(b, x, frontShape), indices, updates, 'add');
  return b.Transpose(scattered, inverse(toFront));
}

export const shapeGrads = {
  Reshape: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,
  Transpose: (g) => {
    const rank = g.x[0]!.shape.length;
    const perm = g.ints('perm', Array.from({ length: rank }, (_, i) => rank - 1 - i));
    return [() => g.b.Transpose(g.dy[0]!, inverse(perm))];
  },
  // One Split of dy, built for the first input asked for, serves them all.
  Concat: (g) => {
    const axis = normAxis(g.int('axis'), g.x[0]!.shape.length)!;
    const parts = once(() => g.b.Split(g.dy[0]!, g.x.map((v) => v!.shape[axis] as number), axis));
    return g.x.map((_, i) => () => parts()[i]!);
  },
  // Outputs without a gradient contribute zeros to the concatenation.
  Split: (g) => {
    const axis = normAxis(g.int('axis', 0), g.x[0]!.shape.length)!;
    return [() => g.b.Concat(g.y.map((y, i) => g.dy[i] ?? zerosLike(g.b, y)), axis), undefined];
  },
  Slice: (g) => [() => sliceGrad(g), undefined, undefined, undefined, undefined],
  Gather: (g) => [() => gatherGrad(g), undefined],
  GatherElements: (g) => [() => g.b.ScatterElements(zerosLike(g.b, g.x[0]!), g.x[1]!, g.dy[0]!, g.int('axis', 0), 'add'), undefined],
  // Broadcasting: the walker sums the expanded axes away.
  Expand: ({ dy }) => [() => dy[0]!, undefined],
  // (r0·d0, r1·d1, …) → (r0, d0, r1, d1, …) → sum over the r axes
  Tile: (g) => [
    () => {
      const shape = staticShape(g);
      const reps = knownOf(g.x[1]);
      const split = g.b.Reshape(g.dy[0]!, shape.flatMap((d, i) => [reps[i]!, d]));
      return g.b.ReduceSum(split, shape.map((_, i) => 2 * i), false);
    },
    undefined,
  ],
  // Constant padding: the gradient is the unpadded window (none for the pad value).
  Pad: (g) => [
    () => {
      const shape = staticShape(g);
      const pads = knownOf(g.x[1]);
      const axes = g.x[3] ? knownOf(g.x[3]).map((a) => normAxis(a, shape.length)!) : shape.map((_, i) => i);
      const starts = axes.map((_, i) => pads[i]!);
      const ends = axes.map((a, i) => pads[i]! + shape[a]!);
      return g.b.Slice(g.dy[0]!, starts, ends, axes);
    },
    undefined,
    undefined,
    undefined,
  ],
  Shape: NOT_DIFFERENTIABLE,
  ConstantOfShape: NOT_DIFFERENTIABLE,
  ScatterElements: NOT_IMPLEMENTED,
  ScatterND: NOT_IMPLEMENTED,
} satisfies Record<keyof typeof shapeOps, GradEntry>;
