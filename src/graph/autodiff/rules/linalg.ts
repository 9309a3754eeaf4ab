// Gradients of matrix products.
import type { GraphBuilder } from '../../builder.ts';
import type { Node, Value } from '../../ir.ts';
import type { linalgOps } from '../../ops/linalg.ts';
import { fmtShape } from '../../shape.ts';
import type { GradEntry } from '../rule.ts';

/** The permutation that swaps the last two of `rank` axes and keeps the others. */
const swapLastTwo = (rank: number) => [...Array.from({ length: rank - 2 }, (_, i) => i), rank - 1, rank - 2];

/** Whether `perm` swaps the last two axes and keeps the others. */
const isLastTwoSwap = (perm: readonly number[]) => perm.length >= 2 && swapLastTwo(perm.length).every((p, i) => p === perm[i]);

/** A Transpose node's perm (its default: all axes reversed). */
const permOf = (n: Node): readonly number[] => {
  const a = n.attrs.perm;
  const rank = n.inputs[0]!.shape.length;
  return a && 'ints' in a ? a.ints : Array.from({ length: rank }, (_, i) => rank - 1 - i);
};

/** Whether `v` is computed by a Transpose that swaps its input's last two axes. */
const isMT = (v: Value) => v.producer?.opType === 'Transpose' && v.producer.domain === '' && isLastTwoSwap(permOf(v.producer));

/** Swaps the last two axes: (…, M, K) → (…, K, M). */
const mT = (b: GraphBuilder, v: Value): Value => b.Transpose(v, swapLastTwo(v.shape.length));

/** A forward operand with its last two axes swapped: the input of a last-two Transpose, else a new Transpose. */
const operandT = (b: GraphBuilder, v: Value): Value => (isMT(v) ? v.producer!.inputs[0]! : mT(b, v));

export const linalgGrads = {
  // Y = A·B (batched, broadcast): dA = dY·Bᵀ, dB = Aᵀ·dY (broadcast batch axes are summed by the walker)
  MatMul: (g) => {
    const { b, x, dy } = g;
    const [a, c] = [x[0]!, x[1]!];
    const vector = [a, c].findIndex((v) => v.shape.length < 2);
    if (vector >= 0) throw g.error(`the MatMul gradient needs rank ≥ 2 inputs, got ${fmtShape(a.shape)} and ${fmtShape(c.shape)} (unsqueeze vectors first)`, vector);
    const d = dy[0]!;
    // An operand that is itself a last-two transpose (attention's kᵀ) gets its gradient as a transposed product,
    // dA = (B·dYᵀ)ᵀ, dB = (dYᵀ·A)ᵀ: the Transpose's own gradient then cancels that transpose, and ONNX Runtime fuses the
    // remaining operand transposes into the GEMM, where Aᵀ·dY and its transpose back would be strided copies.
    return [
      () => (isMT(a) ? mT(b, b.MatMul(c, mT(b, d))) : b.MatMul(d, operandT(b, c))),
      () => (isMT(c) ? mT(b, b.MatMul(mT(b, d), a)) : b.MatMul(operandT(b, a), d)),
    ];
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
