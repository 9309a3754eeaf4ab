// Gradients of matrix products.
import type { Value } from '../../ir.ts';
import type { GradRule } from '../rule.ts';
import type { GraphBuilder } from '../../builder.ts';

/** Swaps the last two axes: (…, M, K) → (…, K, M). */
function mT(b: GraphBuilder, v: Value): Value {
  const r = v.shape.length;
  return b.Transpose(v, [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2]);
}

export const linalgGrads = {
  // Y = A·B (batched, broadcast): dA = dY·Bᵀ, dB = Aᵀ·dY (broadcast batch axes are summed by the walker)
  MatMul: (g) => {
    const { b, x, dy, wants } = g;
    const [a, c] = [x[0]!, x[1]!];
    if (a.shape.length < 2 || c.shape.length < 2) {
      throw new Error(`${g.node.name}: the MatMul gradient needs rank ≥ 2 inputs, got [${a.shape.join(',')}] and [${c.shape.join(',')}] (unsqueeze vectors first)`);
    }
    return [wants[0] ? b.MatMul(dy[0]!, mT(b, c)) : undefined, wants[1] ? b.MatMul(mT(b, a), dy[0]!) : undefined];
  },
  // Y = α·op(A)·op(B) + β·C
  Gemm: (g) => {
    const { b, x, dy, wants } = g;
    const [a, c] = [x[0]!, x[1]!];
    const d = dy[0]!;
    const alpha = g.float('alpha', 1);
    const beta = g.float('beta', 1);
    const tA = g.int('transA', 0) === 1;
    const tB = g.int('transB', 0) === 1;
    // d op(A) = α·dY·op(B)ᵀ; with transA, dA = α·op(B)·dYᵀ
    const dA = !wants[0] ? undefined : tA ? b.Gemm(c, d, null, { alpha, transA: tB, transB: true }) : b.Gemm(d, c, null, { alpha, transB: !tB });
    // d op(B) = α·op(A)ᵀ·dY; with transB, dB = α·dYᵀ·op(A)
    const dB = !wants[1] ? undefined : tB ? b.Gemm(d, a, null, { alpha, transA: true, transB: tA }) : b.Gemm(a, d, null, { alpha, transA: !tA });
    const dC = wants[2] ? (beta === 1 ? d : b.Mul(d, b.scalarLike(beta, d))) : undefined;
    return [dA, dB, dC];
  },
} satisfies Record<string, GradRule>;
