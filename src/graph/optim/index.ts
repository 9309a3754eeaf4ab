// Per-group optimizer graphs: every parameter, gradient, state tensor, the learning rate and the step are graph
// inputs (never initializers: ORT ignores feeds for those), the updated values are outputs. ONNX ops only.
import type { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import { ruleOf } from './rules.ts';
import { GRAD_NORM, gradName, LR, newName, optimizerState, slotsOf, stateName, STEP, type OptimizerSpec, type Slot, type StateSpec } from './spec.ts';

export * from './spec.ts';

export interface OptimizerGraph {
  /** Input names in order: lr, step, then per parameter: itself, its gradient, its state. */
  readonly inputs: readonly string[];
  /** Output names in order: per parameter its new value and new state, then grad_norm. */
  readonly outputs: readonly string[];
  readonly state: readonly StateSpec[];
}

/** Builds the update of one group's parameters into `b` (an empty builder, e.g. `new GraphBuilder('space.optim')`). */
export function buildOptimizerGraph(b: GraphBuilder, spec: OptimizerSpec): OptimizerGraph {
  if (spec.params.length === 0) throw new Error('buildOptimizerGraph: no parameters');
  const dtype = spec.params[0]!.dtype ?? 'float32';
  const odd = spec.params.find((p) => (p.dtype ?? 'float32') !== dtype);
  if (odd) throw new Error(`buildOptimizerGraph: ${odd.name} is ${odd.dtype}, the others ${dtype}`);

  const lrIn = b.input(LR, 'float32', []);
  const stepIn = b.input(STEP, 'int64', []);
  const lr = b.Cast(lrIn, dtype);
  const step = b.Cast(stepIn, dtype);
  const lrPred = b.Mul(lr, b.scalar(spec.predictorLrMult, dtype));

  const slots = slotsOf(spec.optimizer);
  const ins = spec.params.map((p) => {
    const value = b.input(p.name, dtype, p.shape);
    const grad = b.input(gradName(p.name), dtype, p.shape);
    const state: Partial<Record<Slot, Value>> = {};
    for (const slot of slots) state[slot] = b.input(stateName(p.name, slot), dtype, p.shape);
    return { spec: p, value, grad, state };
  });

  // ‖g‖₂ over the whole group; clip: g *= min(1, max_norm / (‖g‖₂ + 1e-6)).
  const norm = b.scope('grad_norm', () => {
    const sq = ins.map(({ grad }) => b.ReduceSum(b.Mul(grad, grad), undefined, false));
    return b.Sqrt(sq.reduce((acc, s) => b.Add(acc, s)));
  });
  const scale = spec.clipGradNorm === null
    ? null
    : b.scope('clip', () => b.Min(b.scalar(1, dtype), b.Div(b.scalar(spec.clipGradNorm!, dtype), b.Add(norm, b.scalar(1e-6, dtype)))));

  const update = ruleOf(spec.optimizer)(b, step);
  const outputs: string[] = [];
  for (const { spec: p, value, grad, state } of ins) {
    const r = b.scope(p.name, () => update({ p: value, g: scale ? b.Mul(grad, scale) : grad, state, lr: p.predictor ? lrPred : lr, decay: p.decay }));
    outputs.push(b.output(r.p, newName(p.name)).name);
    for (const slot of slots) outputs.push(b.output(r.state[slot]!, newName(stateName(p.name, slot))).name);
  }
  outputs.push(b.output(norm, GRAD_NORM).name);
  return { inputs: b.graph.inputs.map((v) => v.name), outputs, state: optimizerState(spec) };
}
