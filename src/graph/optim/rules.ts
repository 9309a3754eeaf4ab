// One update rule per optimizer, with PyTorch's semantics, on one parameter. Scalars shared by every parameter of the
// graph (bias corrections, per-parameter-kind learning rates) are built once by `prepare`.
import type { AdamWConfig, OptimizerConfig, SgdConfig } from '../../config/schema.ts';
import type { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import type { Slot } from './spec.ts';

export interface ParamStep {
  readonly p: Value;
  /** The gradient, already clipped. */
  readonly g: Value;
  readonly state: Readonly<Partial<Record<Slot, Value>>>;
  /** This parameter's learning rate (scalar): lr, or lr × predictor multiplier. */
  readonly lr: Value;
  readonly decay: boolean;
}

export interface Updated {
  readonly p: Value;
  readonly state: Partial<Record<Slot, Value>>;
}

/** `step` is the 1-based step as a scalar of the parameters' dtype. */
export type Rule = (b: GraphBuilder, step: Value) => (x: ParamStep) => Updated;

/** SGD (dampening 0): g += wd·p; buf = μ·buf + g; g = nesterov ? g + μ·buf : buf; p -= lr·g. */
function sgd(o: SgdConfig): Rule {
  return (b) => ({ p, g, state, lr, decay }) => {
    const c = (v: number) => b.scalarLike(v, p);
    if (decay && o.weight_decay > 0) g = b.Add(g, b.Mul(p, c(o.weight_decay)));
    const out: Partial<Record<Slot, Value>> = {};
    if (o.momentum > 0) {
      const buf = b.Add(b.Mul(state.momentum!, c(o.momentum)), g);
      out.momentum = buf;
      g = o.nesterov ? b.Add(g, b.Mul(buf, c(o.momentum))) : buf;
    }
    return { p: b.Sub(p, b.Mul(g, lr)), state: out };
  };
}

/**
 * AdamW: p *= 1 − lr·wd; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
 * p −= (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + eps).
 */
function adamw(o: AdamWConfig): Rule {
  const [beta1, beta2] = o.betas;
  return (b, step) => {
    const c = (v: number) => b.scalarLike(v, step);
    const bc1 = b.Sub(c(1), b.Pow(c(beta1), step));
    const bc2Sqrt = b.Sqrt(b.Sub(c(1), b.Pow(c(beta2), step)));
    // Per learning-rate value (plain, predictor): the step size and the decay factor, built once each.
    const perLr = new Map<Value, { stepSize: Value; keep: Value }>();
    const scalarsOf = (lr: Value) => {
      let s = perLr.get(lr);
      if (!s) {
        s = { stepSize: b.Div(lr, bc1), keep: b.Sub(c(1), b.Mul(lr, c(o.weight_decay))) };
        perLr.set(lr, s);
      }
      return s;
    };
    return ({ p, g, state, lr, decay }) => {
      const { stepSize, keep } = scalarsOf(lr);
      if (decay && o.weight_decay > 0) p = b.Mul(p, keep);
      const m = b.Add(b.Mul(state.exp_avg!, c(beta1)), b.Mul(g, c(1 - beta1)));
      const v = b.Add(b.Mul(state.exp_avg_sq!, c(beta2)), b.Mul(b.Mul(g, g), c(1 - beta2)));
      const denom = b.Add(b.Div(b.Sqrt(v), bc2Sqrt), c(o.eps));
      return { p: b.Sub(p, b.Mul(b.Div(m, denom), stepSize)), state: { exp_avg: m, exp_avg_sq: v } };
    };
  };
}

export function ruleOf(o: OptimizerConfig): Rule {
  switch (o.name) {
    case 'sgd': return sgd(o);
    case 'adamw': return adamw(o);
  }
}
