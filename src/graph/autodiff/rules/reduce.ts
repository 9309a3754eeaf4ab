// Gradients of reductions and of softmax / log-softmax over one axis.
import type { Value } from '../../ir.ts';
import type { reduceOps } from '../../ops/reduce.ts';
import { normAxis, product } from '../../shape.ts';
import { type GradCtx, type GradEntry } from '../rule.ts';

/** The reduced axes (all axes when the axes input is omitted), normalised and sorted. */
function axesOf(g: GradCtx): number[] {
  const x = g.x[0]!;
  const axes = g.x[1]?.known ? g.x[1].known.map((a) => normAxis(Number(a), x.shape.length)!) : x.shape.map((_, i) => i);
  return [...axes].sort((a, b) => a - b);
}

/** dy with the reduced axes restored as size-1 axes (a no-op when keepdims = 1). */
function keepdims(g: GradCtx, d: Value): Value {
  return g.int('keepdims', 1) === 1 ? d : g.b.Unsqueeze(d, axesOf(g));
}

// The gradients of ReduceSum and ReduceMean stay per reduced slice, (1…) on the reduced axes: the walker's fan-in
// adds them onto a full-size contribution by broadcasting, and expands them only if there is none.
export const reduceGrads = {
  ReduceSum: (g) => [() => keepdims(g, g.dy[0]!), undefined],
  ReduceMean: (g) => {
    const x = g.x[0]!;
    const count = product(axesOf(g).map((a) => x.shape[a]!));
    if (typeof count !== 'number') throw g.error('the ReduceMean gradient over a symbolic axis is not supported', 0);
    return [() => g.b.Div(keepdims(g, g.dy[0]!), g.b.scalarLike(count, x)), undefined];
  },
  // Ties share the gradient equally: dx = dy·[x = max] / #max
  ReduceMax: (g) => [
    () => {
      const { b } = g;
      const x = g.x[0]!;
      const mask = b.Cast(b.Equal(x, keepdims(g, g.y[0]!)), x.dtype);
      const count = b.ReduceSum(mask, axesOf(g), true);
      return b.Mul(mask, b.Div(keepdims(g, g.dy[0]!), count));
    },
    undefined,
  ],
  // y = softmax(x): dx = y·(dy - Σ dy·y)
  Softmax: (g) => {
    const { b } = g;
    const [y, d] = [g.y[0]!, g.dy[0]!];
    return [() => b.Mul(y, b.Sub(d, b.ReduceSum(b.Mul(d, y), [g.int('axis', -1)], true)))];
  },
  // y = log softmax(x): dx = dy - exp(y)·Σ dy
  LogSoftmax: (g) => {
    const { b } = g;
    const d = g.dy[0]!;
    return [() => b.Sub(d, b.Mul(b.Exp(g.y[0]!), b.ReduceSum(d, [g.int('axis', -1)], true)))];
  },
  // dx = 2·x·dy, the factor 2 applied to dy (per reduced slice) before it broadcasts
  ReduceSumSquare: (g) => [() => g.b.Mul(g.x[0]!, g.b.Mul(keepdims(g, g.dy[0]!), g.b.scalarLike(2, g.x[0]!))), undefined],
} satisfies Record<keyof typeof reduceOps, GradEntry>;
