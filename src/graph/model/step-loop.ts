// K optimizer steps in one ONNX Runtime run (`train.steps_per_run`): an ONNX Loop whose body is the fused step graph
// (forward, every group's backward and update, the EMA update), so that parameters, buffers, optimizer state and EMA
// copies stay inside the runtime between the steps of a block and reach JavaScript once per block.
//
//   inputs   the step graph's per-step inputs (video, video2, labels, pos.*, dropout_seed, ema_decay, lr.<g>, step.<g>)
//            under their own names, stacked along a leading block axis of symbolic length K (trip count = its length);
//            the state inputs (<param>, <buffer>, <param>.<slot>, ema.<name>) as in the step graph
//   body     (loop/iteration i, loop/condition, body/<state>...) → row i of each per-step input (Gather), then the step
//            graph with every name prefixed `body/` (ONNX names are unique across a graph and its bodies)
//   outputs  `<name>.new`: the state after the block's last step; every other step output (loss.*, grad_norm.*,
//            monitor.*) under its own name, stacked: (K) for a scalar, one row per step
import { GraphBuilder } from '../builder.ts';
import type { Node, Value } from '../ir.ts';
import { newName } from '../names.ts';
import { optimizerState } from '../optim/index.ts';
import { scalar } from '../tensor.ts';
import type { StepGraph } from './graphs.ts';

/** The symbolic length of a block: the leading axis of every per-step input and every per-step output. */
export const BLOCK = 'K';
/** The prefix of the step graph's names inside the body. */
export const BODY = 'body/';

/** The step graph's state inputs: parameters, buffers, optimizer state and EMA copies. */
export function stateInputs(step: StepGraph): Set<string> {
  const state = new Set([...step.builder.params, ...step.builder.buffers].map((p) => p.value.name));
  for (const spec of step.optimizers.values()) for (const s of optimizerState(spec)) state.add(s.name);
  return state;
}

/** The Loop graph of `step` (which it leaves as it is). */
export function stepLoopGraph(step: StepGraph): GraphBuilder {
  const g = step.builder.graph;
  const state = stateInputs(step);
  const produced = new Set(g.outputs.map((o) => o.name));
  const perStep = g.inputs.filter((v) => !state.has(v.name));
  // State a step reads and updates is carried from iteration to iteration; state it only reads is read from outside.
  const carried = g.inputs.filter((v) => state.has(v.name) && produced.has(newName(v.name)));
  if (perStep.length === 0) throw new Error(`${g.name}: a step graph without per-step inputs cannot be looped`);

  const b = new GraphBuilder(`${g.name}.loop`);
  const outer = new Map(g.inputs.map((v) => [v, b.input(v.name, v.dtype, perStep.includes(v) ? [BLOCK, ...v.shape] : v.shape)]));

  const body = new GraphBuilder(`${g.name}.body`);
  const iteration = body.input('loop/iteration', 'int64', []);
  const condition = body.input('loop/condition', 'bool', []);
  const inner = new Map<Value, Value>();
  for (const v of carried) inner.set(v, body.input(`${BODY}${v.name}`, v.dtype, v.shape));
  body.scope('loop', () => {
    for (const v of perStep) inner.set(v, body.Gather(outer.get(v)!, iteration, 0)); // (K, ...) → (...)
  });
  for (const v of g.inputs) if (!inner.has(v)) inner.set(v, outer.get(v)!);
  const condOut = body.scope('loop', () => body.Identity(condition));
  copyInto(body, g.nodes, g.constants, inner);

  const carriedOut = carried.map((v) => g.outputs.find((o) => o.name === newName(v.name))!);
  const scanned = g.outputs.filter((o) => !carriedOut.includes(o));
  body.graph.outputs = [condOut, ...carriedOut, ...scanned].map((v) => inner.get(v) ?? v);

  const first = outer.get(perStep[0]!)!;
  const trips = b.Gather(b.Shape(first), b.constant(scalar('int64', 0))); // K
  const out = b.Loop(trips, carried.map((v) => outer.get(v)!), body.graph, BLOCK);
  carriedOut.forEach((o, i) => b.output(out[i]!, o.name));
  scanned.forEach((o, i) => b.output(out[carried.length + i]!, o.name));
  return b;
}

function renamed(inner: ReadonlyMap<Value, Value>, v: Value): Value {
  const r = inner.get(v);
  if (!r) throw new Error(`${v.name}: read by the step graph before it is defined`);
  return r;
}

/** Appends copies of `nodes` and `constants` to `b`'s graph under the names `body/<name>`; `inner` maps old to new. */
function copyInto(b: GraphBuilder, nodes: readonly Node[], constants: readonly Value[], inner: Map<Value, Value>): void {
  for (const c of constants) {
    const copy: Value = { ...c, name: `${BODY}${c.name}` };
    b.graph.constants.push(copy);
    inner.set(c, copy);
  }
  for (const n of nodes) {
    if (Object.values(n.attrs).some((a) => 'g' in a)) throw new Error(`${n.name}: a step graph with nested graphs cannot be looped`);
    const copy: { -readonly [K in keyof Node]: Node[K] } = { ...n, name: `${BODY}${n.name}`, inputs: n.inputs.map((v) => v && renamed(inner, v)), outputs: [] };
    copy.outputs = n.outputs.map((o) => {
      const v: Value = { ...o, name: `${BODY}${o.name}`, producer: copy };
      inner.set(o, v);
      return v;
    });
    b.graph.nodes.push(copy);
  }
}
