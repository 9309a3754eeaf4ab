// Gradients of elementwise ops. Results may keep broadcast axes; the walker sums them back to each input's shape.
import type { GraphBuilder } from '../../builder.ts';
import { isFloat } from '../../dtype.ts';
import type { Value } from '../../ir.ts';
import type { elementwiseOps } from '../../ops/elementwise.ts';
import { NOT_DIFFERENTIABLE, NOT_IMPLEMENTED, once, sumTo, type GradEntry } from '../rule.ts';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** d gelu/dx, tanh form: y = ½x(1 + t), t = tanh(√(2/π)(x + 0.044715x³)): ½(1 + t) + ½x(1 - t²)·√(2/π)(1 + 3·0.044715x²) */
function geluTanhSlope(b: GraphBuilder, v: Value): Value {
  const k = (c: number) => b.scalarLike(c, v);
  const x2 = b.Mul(v, v);
  const t = b.Tanh(b.Mul(k(SQRT_2_OVER_PI), b.Add(v, b.Mul(k(0.044715), b.Mul(x2, v)))));
  const du = b.Mul(k(SQRT_2_OVER_PI), b.Add(k(1), b.Mul(k(3 * 0.044715), x2)));
  return b.Add(b.Mul(k(0.5), b.Add(k(1), t)), b.Mul(b.Mul(k(0.5), v), b.Mul(b.Sub(k(1), b.Mul(t, t)), du)));
}

/** d gelu/dx, erf form: y = x·Φ(x): Φ(x) + x·φ(x), Φ(x) = ½(1 + erf(x/√2)), φ(x) = exp(-x²/2)/√(2π) */
function geluErfSlope(b: GraphBuilder, v: Value): Value {
  const k = (c: number) => b.scalarLike(c, v);
  const cdf = b.Mul(k(0.5), b.Add(k(1), b.Erf(b.Mul(v, k(Math.SQRT1_2)))));
  const pdf = b.Mul(k(INV_SQRT_2PI), b.Exp(b.Mul(k(-0.5), b.Mul(v, v))));
  return b.Add(cdf, b.Mul(v, pdf));
}

export const elementwiseGrads = {
  Identity: ({ dy }) => [() => dy[0]!],
  Add: ({ dy }) => [() => dy[0]!, () => dy[0]!],
  // The subtrahend's gradient is negated after its broadcast axes are summed (a per-channel mean's: no full-size Neg)
  Sub: ({ b, x, dy }) => [() => dy[0]!, () => b.Neg(sumTo(b, dy[0]!, x[1]!.shape) ?? dy[0]!)],
  Neg: ({ b, dy }) => [() => b.Neg(dy[0]!)],
  // d(a·c) = dy·c, dy·a
  Mul: ({ b, x, dy }) => [() => b.Mul(dy[0]!, x[1]!), () => b.Mul(dy[0]!, x[0]!)],
  // y = a / c: da = dy / c, dc = -dy·y / c
  Div: ({ b, x, y, dy }) => [() => b.Div(dy[0]!, x[1]!), () => b.Neg(b.Div(b.Mul(dy[0]!, y[0]!), x[1]!))],
  // y = a^e: da = dy·e·a^(e-1), de = dy·y·ln a
  Pow: ({ b, x, y, dy }) => {
    const [a, e] = [x[0]!, x[1]!];
    return [() => b.Mul(dy[0]!, b.Mul(e, b.Pow(a, b.Sub(e, b.scalarLike(1, e))))), () => b.Mul(dy[0]!, b.Mul(y[0]!, b.Log(a)))];
  },
  // y = √x: dx = dy / (2y)
  Sqrt: ({ b, y, dy }) => [() => b.Div(dy[0]!, b.Mul(y[0]!, b.scalarLike(2, y[0]!)))],
  Exp: ({ b, y, dy }) => [() => b.Mul(dy[0]!, y[0]!)],
  Log: ({ b, x, dy }) => [() => b.Div(dy[0]!, x[0]!)],
  // dx = dy·(1 - y²)
  Tanh: ({ b, y, dy }) => [() => b.Mul(dy[0]!, b.Sub(b.scalarLike(1, y[0]!), b.Mul(y[0]!, y[0]!)))],
  // dx = dy·y·(1 - y)
  Sigmoid: ({ b, y, dy }) => [() => b.Mul(dy[0]!, b.Mul(y[0]!, b.Sub(b.scalarLike(1, y[0]!), y[0]!)))],
  Softplus: ({ b, x, dy }) => [() => b.Mul(dy[0]!, b.Sigmoid(x[0]!))],
  // dx = dy·[x > 0], as a product: ORT's CPU Where with a broadcast scalar is about 4× slower than Mul, and a
  // stem's ReLUs run over the largest tensors of a step (an infinite dY where x ≤ 0 now gives NaN, not 0)
  Relu: ({ b, x, dy }) => [() => b.Mul(dy[0]!, b.Cast(b.Greater(x[0]!, b.scalarLike(0, x[0]!)), dy[0]!.dtype))],
  Abs: ({ b, x, dy }) => [() => b.Mul(dy[0]!, b.Sign(x[0]!))],
  // y = 1/x: dx = -dy·y²
  Reciprocal: ({ b, y, dy }) => [() => b.Neg(b.Mul(dy[0]!, b.Mul(y[0]!, y[0]!)))],
  // d erf(x) = 2/√π · exp(-x²)
  Erf: ({ b, x, dy }) => {
    const v = x[0]!;
    return [() => b.Mul(dy[0]!, b.Mul(b.scalarLike(2 / Math.sqrt(Math.PI), v), b.Exp(b.Neg(b.Mul(v, v)))))];
  },
  Gelu: (g) => {
    const { b, x, dy } = g;
    const slope = g.str('approximate', 'none') === 'tanh' ? geluTanhSlope : geluErfSlope;
    return [() => b.Mul(dy[0]!, slope(b, x[0]!))];
  },
  // Ties go to the first input.
  Max: ({ b, x, dy }) => {
    const first = once(() => b.GreaterOrEqual(x[0]!, x[1]!));
    const zero = b.scalarLike(0, dy[0]!);
    return [() => b.Where(first(), dy[0]!, zero), () => b.Where(first(), zero, dy[0]!)];
  },
  Min: ({ b, x, dy }) => {
    const first = once(() => b.LessOrEqual(x[0]!, x[1]!));
    const zero = b.scalarLike(0, dy[0]!);
    return [() => b.Where(first(), dy[0]!, zero), () => b.Where(first(), zero, dy[0]!)];
  },
  // The condition is not differentiable.
  Where: ({ b, x, dy }) => {
    const zero = b.scalarLike(0, dy[0]!);
    return [undefined, () => b.Where(x[0]!, dy[0]!, zero), () => b.Where(x[0]!, zero, dy[0]!)];
  },
  Cast: ({ b, x, dy }) => [isFloat(x[0]!.dtype) ? () => b.Cast(dy[0]!, x[0]!.dtype) : undefined],
  // Bool results, and Sign, which is piecewise constant (its gradient is zero almost everywhere).
  Equal: NOT_DIFFERENTIABLE, Greater: NOT_DIFFERENTIABLE, Less: NOT_DIFFERENTIABLE, GreaterOrEqual: NOT_DIFFERENTIABLE,
  LessOrEqual: NOT_DIFFERENTIABLE, And: NOT_DIFFERENTIABLE, Or: NOT_DIFFERENTIABLE, Not: NOT_DIFFERENTIABLE,
  Sign: NOT_DIFFERENTIABLE,
  Mod: NOT_IMPLEMENTED,
} satisfies Record<keyof typeof elementwiseOps, GradEntry>;
