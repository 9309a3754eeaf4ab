// Loss functions between a prediction p and a target t (last axis = features, everything else averaged).
// Targets may broadcast against predictions (e.g. one video token for every frame).
import type { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import type { LossSpec } from './spec.ts';

const lastAxis = (v: Value) => v.shape.length - 1;

/** mean((p - t)²) */
export function mse(b: GraphBuilder, p: Value, t: Value): Value {
  const d = b.Sub(p, t);
  return b.ReduceMean(b.Mul(d, d), undefined, false);
}

/** mult - mult·mean(cos(p, t)), cos = p·t / max(‖p‖‖t‖, 1e-8) */
export function cosine(b: GraphBuilder, p: Value, t: Value, mult: number): Value {
  const ax = [lastAxis(p)];
  const dot = b.ReduceSum(b.Mul(p, t), ax, false);
  const norms = b.Mul(b.Sqrt(b.ReduceSum(b.Mul(p, p), ax, false)), b.Sqrt(b.ReduceSum(b.Mul(t, t), ax, false)));
  const cos = b.Div(dot, b.Max(norms, b.scalar(1e-8)));
  return b.Sub(b.scalar(mult), b.Mul(b.scalar(mult), b.ReduceMean(cos, undefined, false)));
}

/** DINO-style cross-entropy without centring: mean over tokens of -Σ softmax(t/τt)·log softmax(p/τp). */
export function crossEntropy(b: GraphBuilder, p: Value, t: Value, predTemp: number, tgtTemp: number): Value {
  const ax = lastAxis(p);
  const q = b.Softmax(b.Mul(t, b.scalar(1 / tgtTemp)), ax);
  const logp = b.LogSoftmax(b.Mul(p, b.scalar(1 / predTemp)), ax);
  return b.Neg(b.ReduceMean(b.ReduceSum(b.Mul(q, logp), [ax], false), undefined, false));
}

/** Rows (N, D) of every token: the sample set for variance and covariance. */
function rows(b: GraphBuilder, z: Value): Value {
  const d = z.shape[lastAxis(z)] as number;
  return b.Reshape(z, [-1, d]);
}

/** mean_d relu(1 - √(var_d + eps)), unbiased variance over rows. */
export function varianceHinge(b: GraphBuilder, z: Value, eps: number): Value {
  const x = rows(b, z);
  const n = x.shape[0] as number;
  const c = b.Sub(x, b.ReduceMean(x, [0], true));
  const variance = b.Mul(b.ReduceSum(b.Mul(c, c), [0], false), b.scalar(1 / (n - 1)));
  return b.ReduceMean(b.Relu(b.Sub(b.scalar(1), b.Sqrt(b.Add(variance, b.scalar(eps))))), undefined, false);
}

/** Σ_{i≠j} C_ij² / D with C = ZcᵀZc / (n - 1), n the actual number of rows (the original divided by the configured batch size). */
export function covariancePenalty(b: GraphBuilder, z: Value): Value {
  const x = rows(b, z);
  const [n, d] = [x.shape[0] as number, x.shape[1] as number];
  const c = b.Sub(x, b.ReduceMean(x, [0], true));
  const cov = b.Mul(b.MatMul(b.Transpose(c, [1, 0]), c), b.scalar(1 / (n - 1))); // (D, D)
  const sq = b.Mul(cov, cov);
  const offDiagonal = b.Sub(b.ReduceSum(sq, undefined, false), b.ReduceSum(b.Mul(sq, b.constant(identity(d))), undefined, false));
  return b.Mul(offDiagonal, b.scalar(1 / d));
}

function identity(d: number) {
  const data = new Float32Array(d * d);
  for (let i = 0; i < d; i++) data[i * d + i] = 1;
  return { dtype: 'float32' as const, shape: [d, d], data };
}

/**
 * The configured loss between prediction `p` and target `t`. For VICReg the variance and covariance terms act on the
 * prediction only: targets are behind a stop-gradient wall, so regularising them would change nothing.
 */
export function pairLoss(b: GraphBuilder, spec: LossSpec, p: Value, t: Value): Value {
  switch (spec.fn) {
    case 'mse':
      return mse(b, p, t);
    case 'cosine':
      return cosine(b, p, t, spec.cosine.mult);
    case 'ce':
      return crossEntropy(b, p, t, spec.ce.predTemp, spec.ce.tgtTemp);
    case 'vicreg': {
      const v = spec.vicreg;
      const sim = b.Mul(b.scalar(v.sim), mse(b, p, t));
      const std = b.Mul(b.scalar(v.std), varianceHinge(b, p, v.eps));
      return b.Add(b.Add(sim, std), b.Mul(b.scalar(v.cov), covariancePenalty(b, p)));
    }
  }
}

/** Two-view VICReg (the `vicreg` task): sim·MSE(z1, z2) + std·½(h(z1) + h(z2)) + cov·(c(z1) + c(z2)). */
export function vicregTwoView(b: GraphBuilder, spec: LossSpec['vicreg'], z1: Value, z2: Value): Value {
  const sim = mse(b, z1, z2);
  const std = b.Mul(b.scalar(0.5), b.Add(varianceHinge(b, z1, spec.eps), varianceHinge(b, z2, spec.eps)));
  const cov = b.Add(covariancePenalty(b, z1), covariancePenalty(b, z2));
  return b.Add(b.Add(b.Mul(b.scalar(spec.sim), sim), b.Mul(b.scalar(spec.std), std)), b.Mul(b.scalar(spec.cov), cov));
}
