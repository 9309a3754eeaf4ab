// Gradients of matrix products.
import type { GraphBuilder } from '../../builder.ts';
import type { Value } from '../../ir.ts';
import type { linalgOps } from '../../ops/linalg.ts';
import { fmtShape } from '../../shape.ts';
import type { GradEntry } from '../rule.ts';

/** Swaps the last two axes: (…, M, K) → (…, K, M). */
function mT(b: GraphBuilder, v: Value): Value {
  const r = v.shape.length;
  return b.Transpose(v, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

export const linalgGrads = {
  // Y = A·B (batched, broadcast): dA = dY·Bᵀ, dB = Aᵀ·dY (broadcast batch axes are summed by the walker)
  MatMul: (g) => {
    const { b, x, dy } = g;
    const [a, c] = [x[0]!, x[1]!];
    const vector = [a, c].findIndex((v) => v.shape.length < 2);
    if (vector >= 0) throw g.error(`the MatMul gradient needs rank ≥ 2 inputs, got ${fmtShape(a.shape)} and ${fmtShape(c.shape)} (unsqueeze vectors first)`, vector);
    return [() => b.MatMul(dy[0]!, mT(b, c)), () => b.MatMul(mT(b, a), dy[0]!)];
  },
  // Y = α·op(A)·op(B) + β·C
  Gemm: (g) => {
    const { b, x, dy } = g;
    const [a, c] = [x[0]!, x[1]!];
    const d = dy[0]!;
    const alpha = g.float('alpha', 1);
    const beta = g.float('beta', 1);
    const tA = g.int('transA', 0) === 1;
    const tB = g.int('transB', 0) === 1;
    return [
      // d op(A) = α·dY·op(B)ᵀ; with transA, dA = α·op(B)·dYᵀ
      () => (tA ? b.Gemm(c, d, null, { alpha, transA: tB, transB: true }) : b.Gemm(d, c, null, { alpha, transB: !tB })),
      // d op(B) = α·op(A)ᵀ·dY; with transB, dB = α·dYᵀ·op(A)
      () => (tB ? b.Gemm(d, a, null, { alpha, transA: true, transB: tA }) : b.Gemm(a, d, null, { alpha, transA: !tA })),
      () => (beta === 1 ? d : b.Mul(d, b.scalarLike(beta, d))),
    ];
  },
} satisfies Record<keyof typeof linalgOps, GradEntry>;
