// The pre-norm transformer of one group. Tokens stay 2-D (N·T, D) so every Linear is one GEMM; attention reshapes
// to (N·H, T, Dh) for the N independent sequences of T tokens (frames in `space`, clips in `time`).
import type { Value } from '../ir.ts';
import { dropout } from './dropout.ts';
import { layerNorm, linear, type Ctx } from './layers.ts';

export interface TransformerSpec {
  dim: number;
  layers: number;
  heads: number;
  headDim: number;
  mlpDim: number;
  causal: boolean;
  /** Dropout after the attention output and in the MLP (as the original; none on attention probabilities). */
  dropout?: number;
}

/** Multi-head self-attention over (N·T, D) tokens grouped as sequences of T (N may be symbolic); optional causal mask. */
export function attention(c: Ctx, name: string, x: Value, t: number, s: TransformerSpec): Value {
  const { b } = c;
  const { heads: h, headDim: dh } = s;
  return b.scope(name, () => {
    const qkv = linear(c, 'qkv', x, 3 * h * dh, { bias: false }); // (N·T, 3·H·Dh)
    const [q, k, v] = b.Split(qkv, [h * dh, h * dh, h * dh], 1);
    // Heads as (N·H, T, Dh) batches: the Reshape after the head split keeps ONNX Runtime from composing a MatMul's
    // operand transposes (kᵀ here, qᵀ, vᵀ and kᵀᵀ in the gradient) with it into one that moves the innermost axis, so
    // they fuse into its GEMM (FusedMatMul) instead of running as strided copies.
    const heads = (m: Value) => b.Reshape(b.Transpose(b.Reshape(m, [-1, t, h, dh]), [0, 2, 1, 3]), [-1, t, dh]);
    const qh = heads(b.Mul(q!, b.scalar(dh ** -0.5))); // (N·H, T, Dh), pre-scaled
    const kh = heads(k!);
    const vh = heads(v!);
    let logits = b.MatMul(qh, b.Transpose(kh, [0, 2, 1])); // (N·H, T, T)
    if (s.causal) {
      const mask = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) mask[i * t + j] = -1e9;
      logits = b.Add(logits, b.constant({ dtype: 'float32', shape: [t, t], data: mask }));
    }
    const attn = b.MatMul(b.Softmax(logits, -1), vh); // (N·H, T, Dh)
    const merged = b.Reshape(b.Transpose(b.Reshape(attn, [-1, h, t, dh]), [0, 2, 1, 3]), [-1, h * dh]);
    return dropout(c, 'drop', linear(c, 'out', merged, s.dim), s.dropout ?? 0);
  });
}

/** Linear → GELU → Dropout → Linear → Dropout. */
export function mlp(c: Ctx, name: string, x: Value, hidden: number, out: number, p = 0): Value {
  return c.b.scope(name, () => {
    const h = dropout(c, 'drop1', c.b.Gelu(linear(c, 'fc1', x, hidden)), p);
    return dropout(c, 'drop2', linear(c, 'fc2', h, out), p);
  });
}

/** Pre-norm block: x + Attn(LN(x)); x + MLP(LN(x)). */
export function block(c: Ctx, name: string, x: Value, t: number, s: TransformerSpec): Value {
  const { b } = c;
  return b.scope(name, () => {
    const a = b.Add(x, attention(c, 'attn', layerNorm(c, 'norm1', x), t, s));
    return b.Add(a, mlp(c, 'mlp', layerNorm(c, 'norm2', a), s.mlpDim, s.dim, s.dropout ?? 0));
  });
}

/** `layers` pre-norm blocks and a final LayerNorm over (N·T, D) tokens in sequences of `t`. */
export function transformer(c: Ctx, x: Value, t: number, s: TransformerSpec): Value {
  let h = x;
  for (let i = 0; i < s.layers; i++) h = block(c, `blocks.${i}`, h, t, s);
  return layerNorm(c, 'norm', h);
}
