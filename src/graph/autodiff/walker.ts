// Reverse-mode autodiff over the graph IR: emits the backward subgraph with standard ai.onnx ops only.
import type { GraphBuilder } from '../builder.ts';
import { isFloat } from '../dtype.ts';
import type { Attr, Node, Value } from '../ir.ts';
import { fmtShape, sameShape, type Shape } from '../shape.ts';
import { GRAD_RULES } from './rules/index.ts';
import type { GradCtx } from './rule.ts';

export class AutodiffError extends Error {
  override readonly name = 'AutodiffError';
}

export interface GradientsOptions {
  /** Scope under which backward nodes are named (default 'grad'). */
  scope?: string;
  /** Seed gradient for the loss (default: ones, i.e. d loss / d loss = 1). */
  seed?: Value;
}

/**
 * Gradients of the scalar `loss` with respect to each of `wrt`. An entry is undefined when `loss` does not depend
 * on it (through differentiable paths that do not cross a stopGradient wall): no zero tensor is materialised.
 */
export function gradients(b: GraphBuilder, loss: Value, wrt: readonly Value[], o: GradientsOptions = {}): (Value | undefined)[] {
  if (!o.seed && loss.shape.length !== 0 && !(loss.shape.length === 1 && loss.shape[0] === 1)) {
    throw new AutodiffError(`gradients: loss "${loss.name}" must be a scalar, got shape ${fmtShape(loss.shape)}`);
  }
  const nodes = b.graph.nodes;

  // Forward: which values carry a gradient from `wrt` (float values, not behind a wall).
  const carries = new Set<Value>(wrt);
  for (const n of nodes) {
    if (!n.inputs.some((v) => v && carries.has(v))) continue;
    for (const y of n.outputs) if (isFloat(y.dtype) && !b.walls.has(y)) carries.add(y);
  }
  // Backward: which values the loss depends on.
  const feeds = new Set<Value>([loss]);
  const relevant: Node[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (!n.outputs.some((y) => feeds.has(y) && carries.has(y))) continue;
    relevant.push(n);
    for (const v of n.inputs) if (v && carries.has(v)) feeds.add(v);
  }

  const pending = new Map<Value, Value[]>();
  const add = (v: Value, g: Value) => {
    const list = pending.get(v);
    if (list) list.push(g);
    else pending.set(v, [g]);
  };
  // Fan-in: the sum of every contribution, emitted once, when the value's gradient is first read.
  const total = (v: Value): Value | undefined => {
    const list = pending.get(v);
    if (!list) return undefined;
    if (list.length > 1) {
      const sum = list.reduce((acc, g) => b.Add(acc, g));
      pending.set(v, [sum]);
      return sum;
    }
    return list[0];
  };

  const scope = o.scope ?? 'grad';
  return b.scope(scope, () => {
    if (carries.has(loss)) add(loss, o.seed ?? b.Expand(b.scalarLike(1, loss), loss.shape));
    for (const n of relevant) {
      const dy = n.outputs.map(total);
      if (dy.every((d) => d === undefined)) continue;
      const wants = n.inputs.map((v) => !!v && carries.has(v) && feeds.has(v));
      const rule = GRAD_RULES[n.opType as keyof typeof GRAD_RULES];
      if (!rule) throw new AutodiffError(`${n.name}: no gradient rule for op ${n.opType} (add one to src/graph/autodiff/rules)`);
      const grads = b.scope(n.name.replace(/\//g, '.'), () => rule(context(b, n, dy, wants)));
      n.inputs.forEach((v, i) => {
        const g = grads[i];
        if (!v || !wants[i] || !g) return;
        add(v, sumToShape(b, n, i, g, v.shape));
      });
    }
    return wrt.map(total);
  });
}

function context(b: GraphBuilder, node: Node, dy: (Value | undefined)[], wants: boolean[]): GradCtx {
  const get = (name: string): Attr | undefined => node.attrs[name];
  return {
    b, node, dy, wants,
    x: node.inputs,
    y: node.outputs,
    attr: get,
    int: (name, dflt) => {
      const a = get(name);
      if (a && 'i' in a) return a.i;
      if (dflt === undefined) throw new AutodiffError(`${node.name}: attribute ${name} is missing`);
      return dflt;
    },
    float: (name, dflt) => {
      const a = get(name);
      return a && 'f' in a ? a.f : dflt;
    },
    ints: (name, dflt) => {
      const a = get(name);
      if (a && 'ints' in a) return a.ints;
      if (dflt === undefined) throw new AutodiffError(`${node.name}: attribute ${name} is missing`);
      return dflt;
    },
    str: (name, dflt) => {
      const a = get(name);
      return a && 's' in a ? a.s : dflt;
    },
  };
}

/** Sums the broadcast axes of gradient `g` away so it has the input's `shape`; any other mismatch is a rule bug. */
function sumToShape(b: GraphBuilder, n: Node, i: number, g: Value, shape: Shape): Value {
  const bad = () => new AutodiffError(`${n.name}: gradient for input ${i} has shape ${fmtShape(g.shape)}, expected ${fmtShape(shape)}`);
  if (g.dtype !== n.inputs[i]!.dtype) throw new AutodiffError(`${n.name}: gradient for input ${i} has dtype ${g.dtype}, expected ${n.inputs[i]!.dtype}`);
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  if (lead < 0) throw bad();
  const axes: number[] = [];
  g.shape.forEach((d, k) => {
    if (k < lead) axes.push(k);
    else if (shape[k - lead] === 1 && d !== 1) axes.push(k);
    else if (shape[k - lead] !== d) throw bad();
  });
  let r = axes.length ? b.ReduceSum(g, axes, true) : g;
  if (lead > 0) r = b.Squeeze(r, Array.from({ length: lead }, (_, k) => k));
  return r;
}
