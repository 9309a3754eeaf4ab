// Per-group optimizer graphs: every parameter, gradient, state tensor, the learning rate and the step are graph
// inputs (never initializers: ORT ignores feeds for those), the updated values are outputs. ONNX ops only.
import type { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import { GRAD_NORM, gradName, LR, newName, stateName, STEP } from '../names.ts';
import { ruleOf } from './rules.ts';
import { optimizerState, slotsOf, type OptimizerSpec, type Slot, type StateSpec } from './spec.ts';

export * from './spec.ts';

export interface OptimizerGraph {
  /** Input names in order: lr, step, then per parameter: itself, its gradient, its state. */
  readonly inputs: readonly string[];
  /** Output names in order: per parameter its new value and new state, then grad_norm. */
  readonly outputs: readonly string[];
  readonly state: readonly StateSpec[];
}

/** One parameter's values for an in-graph update: itself, its gradient and its state slots. */
export interface ParamValues {
  readonly value: Value;
  readonly grad: Value;
  readonly state: Partial<Record<Slot, Value>>;
}

export interface Updated {
  /** Per parameter: its new value and new state. */
  readonly params: readonly { value: Value; state: Partial<Record<Slot, Value>> }[];
  /** ‖g‖₂ over the whole group, before clipping. */
  readonly gradNorm: Value;
}

/**
 * The update of one group's parameters as nodes of `b`, on values already in the graph: the optimizer graph's body,
 * also used inline by the fused step graph. `lr` is a float32 scalar, `step` an int64 scalar (1-based).
 */
export function applyOptimizer(b: GraphBuilder, spec: OptimizerSpec, lrIn: Value, stepIn: Value, ins: readonly ParamValues[]): Updated {
  const dtype = spec.params[0]!.dtype ?? 'float32';
  const lr = b.Cast(lrIn, dtype);
  const step = b.Cast(stepIn, dtype);
  const lrPred = b.Mul(lr, b.scalar(spec.predictorLrMult, dtype));
  // ‖g‖₂ over the whole group; clip: g *= min(1, max_norm / (‖g‖₂ + 1e-6)).
  const norm = b.scope('grad_norm', () => {
    const sq = ins.map(({ grad }) => b.ReduceSumSquare(grad, undefined, false));
    return b.Sqrt(sq.reduce((acc, s) => b.Add(acc, s)));
  });
  const scale = spec.clipGradNorm === null
    ? null
    : b.scope('clip', () => b.Min(b.scalar(1, dtype), b.Div(b.scalar(spec.clipGradNorm!, dtype), b.Add(norm, b.scalar(1e-6, dtype)))));
  const update = ruleOf(spec.optimizer)(b, step);
  const params = ins.map(({ value, grad, state }, i) => {
    const p = spec.params[i]!;
    const r = b.scope(p.name, () => update({ p: value, g: scale ? b.Mul(grad, scale) : grad, state, lr: p.predictor ? lrPred : lr, decay: p.decay }));
    return { value: r.p, state: r.state };
  });
  return { params, gradNorm: norm };
}

/** Builds the update of one group's parameters into `b` (an empty builder, e.g. `new GraphBuilder('space.optim')`). */
export function buildOptimizerGraph(b: GraphBuilder, spec: OptimizerSpec): OptimizerGraph {
  if (spec.params.length === 0) throw new Error('buildOptimizerGraph: no parameters');
  const dtype = spec.params[0]!.dtype ?? 'float32';
  const odd = spec.params.find((p) => (p.dtype ?? 'float32') !== dtype);
  if (odd) throw new Error(`buildOptimizerGraph: ${odd.name} is ${odd.dtype}, the others ${dtype}`);

  const lr = b.input(LR, 'float32', []);
  const step = b.input(STEP, 'int64', []);
  const slots = slotsOf(spec.optimizer);
  const ins = spec.params.map((p) => {
    const value = b.input(p.name, dtype, p.shape);
    const grad = b.input(gradName(p.name), dtype, p.shape);
    const state: Partial<Record<Slot, Value>> = {};
    for (const slot of slots) state[slot] = b.input(stateName(p.name, slot), dtype, p.shape);
    return { value, grad, state };
  });
  const r = applyOptimizer(b, spec, lr, step, ins);
  const outputs: string[] = [];
  r.params.forEach((u, i) => {
    const name = spec.params[i]!.name;
    outputs.push(b.output(u.value, newName(name)).name);
    for (const slot of slots) outputs.push(b.output(u.state[slot]!, newName(stateName(name, slot))).name);
  });
  outputs.push(b.output(r.gradNorm, GRAD_NORM).name);
  return { inputs: b.graph.inputs.map((v) => v.name), outputs, state: optimizerState(spec) };
}
