// Basic layers over the builder: linear maps and normalisations. Parameter names follow the scope
// (`<group>.blocks.0.attn.qkv.weight`); every initialiser draws from the run's seeded Rng.
import type { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import type { Rng } from '../../rng.ts';
import { ones, truncNormal, zeros } from './init.ts';

export type Mode = 'train' | 'infer';

/** What every layer needs: the builder, the init stream, the mode, and where BatchNorm puts its state updates. */
export interface Ctx {
  readonly b: GraphBuilder;
  readonly rng: Rng;
  readonly mode: Mode;
  /** (buffer, its value after this step) for running statistics updated in training mode. */
  readonly updates: { buffer: Value; next: Value }[];
}

const last = (v: Value): number => v.shape[v.shape.length - 1] as number;

/** y = x·W + b over the last axis; W is stored (in, out). Tensors of rank > 2 are flattened to one GEMM. */
export function linear(c: Ctx, name: string, x: Value, out: number, o: { bias?: boolean; std?: number } = {}): Value {
  const { b } = c;
  const inDim = last(x);
  return b.scope(name, () => {
    const w = b.param('weight', (r) => truncNormal(r, [inDim, out], o.std ?? 0.02), ['weight']);
    const bias = o.bias === false ? null : b.param('bias', zeros([out]), ['bias']);
    if (x.shape.length === 2) return b.Gemm(x, w, bias);
    const flat = b.Reshape(x, [-1, inDim]);
    const y = b.Gemm(flat, w, bias);
    return b.Reshape(y, [-1, ...x.shape.slice(1, -1), out]);
  });
}

/** LayerNorm over the last axis (weight 1, bias 0). */
export function layerNorm(c: Ctx, name: string, x: Value, eps = 1e-5): Value {
  const { b } = c;
  const d = last(x);
  return b.scope(name, () => b.LayerNormalization(x, b.param('weight', ones([d]), ['norm']), b.param('bias', zeros([d]), ['norm', 'bias']), -1, eps).y);
}

/**
 * BatchNorm over channels. `channelsLast`: x is (…, C), normalised over every other axis; else x is (N, C, …).
 * Training mode normalises with batch statistics and emits the updated running statistics (`batchNormTrain`);
 * inference mode uses them, as one BatchNormalization node (WebGPU runs it; ORT folds it into a preceding Conv).
 * `momentum` is PyTorch's (weight of the new batch statistic).
 */
export function batchNorm(c: Ctx, name: string, x: Value, o: { channelsLast: boolean; eps?: number; momentum?: number }): Value {
  const { b } = c;
  const axis = o.channelsLast ? x.shape.length - 1 : 1;
  const ch = x.shape[axis] as number;
  const eps = o.eps ?? 1e-5;
  const momentum = o.momentum ?? 0.1;
  return b.scope(name, () => {
    const scale = b.param('weight', ones([ch]), ['norm']);
    const bias = b.param('bias', zeros([ch]), ['norm', 'bias']);
    const mean = b.buffer('running_mean', zeros([ch]));
    const variance = b.buffer('running_var', ones([ch]));
    if (c.mode === 'train') {
      const r = batchNormTrain(b, x, scale, bias, mean, variance, { axis, eps, momentum });
      c.updates.push({ buffer: mean, next: r.runningMean }, { buffer: variance, next: r.runningVar });
      return r.y;
    }
    const input = o.channelsLast && x.shape.length !== 2 ? b.Reshape(x, [-1, ch]) : x;
    const y = b.BatchNormalization(input, scale, bias, mean, variance, { epsilon: eps, momentum: 1 - momentum, training: false }).y;
    return input === x ? y : b.Reshape(y, [-1, ...x.shape.slice(1)]);
  });
}

/**
 * Training-mode batch norm from primitives, as ONNX's BatchNormalization-15 with training_mode=1 defines it and ORT's
 * CPU kernel computes it (WebGPU's kernel refuses training_mode=1). Statistics over every axis of x but `axis` (the
 * C channels); scale, bias and the running statistics are (C); m is PyTorch's momentum, ONNX's is 1 − m.
 *   μ = mean(x), σ² = mean((x − μ)²) (biased, also in the running variance, as ORT's kernel)
 *   y = (x − μ)·(scale/√(σ² + eps)) + bias
 *   running_mean' = running_mean·(1 − m) + μ·m,   running_var' = running_var·(1 − m) + σ²·m
 * Its gradient is autodiff's over these nodes; the running statistics are state, read by no loss.
 */
export function batchNormTrain(
  b: GraphBuilder, x: Value, scale: Value, bias: Value, runningMean: Value, runningVar: Value,
  o: { axis: number; eps: number; momentum: number },
): { y: Value; runningMean: Value; runningVar: Value } {
  const rank = x.shape.length;
  const ch = x.shape[o.axis] as number;
  const axes = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== o.axis);
  // (C) → (C, 1…) so that it broadcasts over the axes after the channel axis
  const perChannel = (t: Value) => (o.axis === rank - 1 ? t : b.Reshape(t, [ch, ...Array<number>(rank - 1 - o.axis).fill(1)]));
  const mean = b.ReduceMean(x, axes, true); // (1…, C, 1…)
  const centred = b.Sub(x, mean);
  const variance = b.ReduceMean(b.Mul(centred, centred), axes, true);
  const gain = b.Mul(b.Reciprocal(b.Sqrt(b.Add(variance, b.scalarLike(o.eps, x)))), perChannel(scale));
  const y = b.Add(b.Mul(centred, gain), perChannel(bias));
  // The weights ORT uses: ONNX's momentum is a float32 attribute, 1 − m rounded; the batch gets 1 minus that.
  const keep = Math.fround(1 - o.momentum);
  const update = (running: Value, batch: Value) => b.Add(b.Mul(running, b.scalarLike(keep, x)), b.Mul(b.Reshape(batch, [ch]), b.scalarLike(1 - keep, x)));
  return { y, runningMean: update(runningMean, mean), runningVar: update(runningVar, variance) };
}

export type NormKind = 'batchnorm' | 'layernorm' | 'none';

/** The output norm of a level: channels-last BatchNorm (the original's), LayerNorm, or nothing. */
export function outputNorm(c: Ctx, name: string, x: Value, kind: NormKind): Value {
  if (kind === 'batchnorm') return batchNorm(c, name, x, { channelsLast: true });
  if (kind === 'layernorm') return layerNorm(c, name, x);
  return x;
}
