// Reverse-mode autodiff over the graph IR: emits the backward subgraph with standard ai.onnx ops only.
import type { GraphBuilder } from '../builder.ts';
import { isFloat } from '../dtype.ts';
import type { Attr, Node, Value } from '../ir.ts';
import { OPS, type OpType } from '../ops/index.ts';
import { fmtShape, sameShape, type Shape } from '../shape.ts';
import { AutodiffError } from './errors.ts';
import { NOT_DIFFERENTIABLE, sumTo, type GradCtx, type GradEntry, type InputGrad } from './rule.ts';
import { GRAD_RULES } from './rules/index.ts';

export interface GradientsOptions {
  /** Scope under which backward nodes are named (default 'grad'). */
  scope?: string;
  /** Seed gradient for the loss (default: ones, i.e. d loss / d loss = 1). */
  seed?: Value;
}

/**
 * Gradients of the scalar `loss` with respect to each of `wrt`. An entry is undefined when `loss` does not depend
 * on it (through differentiable paths that do not cross a stopGradient wall or a non-differentiable op): no zero
 * tensor is materialised.
 */
export function gradients(b: GraphBuilder, loss: Value, wrt: readonly Value[], o: GradientsOptions = {}): (Value | undefined)[] {
  if (!o.seed && loss.shape.length !== 0 && !(loss.shape.length === 1 && loss.shape[0] === 1)) {
    throw new AutodiffError(`gradients: loss "${loss.name}" must be a scalar, got shape ${fmtShape(loss.shape)}`);
  }
  const nodes = b.graph.nodes;

  // Forward: which values carry a gradient from `wrt` (float values, not behind a wall or a non-differentiable op).
  const carries = new Set<Value>(wrt);
  for (const n of nodes) {
    if (entryOf(n) === NOT_DIFFERENTIABLE || !n.inputs.some((v) => v && carries.has(v))) continue;
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
  // Fan-in: the sum of every contribution, emitted once, when the value's gradient is first read. A contribution may
  // be a broadcast of itself (size 1 where the value is not: a reduction's gradient): Add broadcasts it onto a
  // full-size one, and a sum of such only is expanded, unless its reader broadcasts it itself (`broadcasts`), so that
  // no full-size copy of a per-channel gradient is written.
  const total = (v: Value, broadcasts = false): Value | undefined => {
    const list = pending.get(v);
    if (!list) return undefined;
    const full = list.filter((g) => sameShape(g.shape, v.shape));
    const ordered = [...full, ...list.filter((g) => !full.includes(g))];
    const sum = ordered.reduce((acc, g) => b.Add(acc, g));
    pending.set(v, [sum]);
    return full.length > 0 || broadcasts ? sum : b.Expand(sum, b.shapeValue(v.shape, v));
  };

  const scope = o.scope ?? 'grad';
  return b.scope(scope, () => {
    if (carries.has(loss)) add(loss, o.seed ?? b.Expand(b.scalarLike(1, loss), loss.shape));
    for (const n of relevant) {
      const dy = n.outputs.map((y) => total(y, BROADCASTS_DY.has(n.opType)));
      if (dy.every((d) => d === undefined)) continue;
      // Only the inputs that need a gradient: the rule's functions for the others are never called.
      const wanted = n.inputs.flatMap((v, i) => (v && carries.has(v) && feeds.has(v) ? [i] : []));
      const grads = b.scope(n.name.replace(/\//g, '.'), () => {
        const fns = inputGrads(b, n, dy);
        return wanted.map((i) => [i, fns[i]?.()] as const);
      });
      for (const [i, g] of grads) if (g) add(n.inputs[i]!, sumToShape(b, n, i, g, n.inputs[i]!.shape));
    }
    return wrt.map((v) => total(v));
  });
}

/** Ops whose rules use dY only in broadcasting products and sums, so that it may stay a broadcast of itself. */
const BROADCASTS_DY = new Set(['Add', 'Sub', 'Mul']);

const entryOf = (n: Node): GradEntry | undefined => (Object.hasOwn(GRAD_RULES, n.opType) ? GRAD_RULES[n.opType as OpType] : undefined);

/** The rule's per-input gradient functions, checked: one per input of the op's signature, and no node built yet. */
function inputGrads(b: GraphBuilder, n: Node, dy: (Value | undefined)[]): readonly (InputGrad | undefined)[] {
  const where = { node: n.name, op: n.opType };
  const rule = entryOf(n);
  // NOT_IMPLEMENTED (or an op outside the vocabulary); NOT_DIFFERENTIABLE never gets here, its outputs carry nothing.
  if (typeof rule !== 'function') throw new AutodiffError(`no gradient rule for op ${n.opType} (add one to src/graph/autodiff/rules)`, where);
  const built = b.graph.nodes.length;
  const fns = rule(context(b, n, dy));
  if (b.graph.nodes.length !== built) {
    throw new AutodiffError(`the ${n.opType} rule built nodes before any gradient was asked for (build them in the per-input functions; share work with once())`, where);
  }
  const max = OPS[n.opType as OpType].arity[1];
  const arity = Number.isFinite(max) ? max : n.inputs.length;
  if (fns.length !== arity) throw new AutodiffError(`the ${n.opType} rule returned ${fns.length} gradients, expected ${arity} (one per input)`, where);
  return fns;
}

function context(b: GraphBuilder, node: Node, dy: (Value | undefined)[]): GradCtx {
  const get = (name: string): Attr | undefined => node.attrs[name];
  const missing = (name: string) => new AutodiffError(`attribute ${name} is missing`, { node: node.name, op: node.opType });
  return {
    b, node, dy,
    x: node.inputs,
    y: node.outputs,
    attr: get,
    int: (name, dflt) => {
      const a = get(name);
      if (a && 'i' in a) return a.i;
      if (dflt === undefined) throw missing(name);
      return dflt;
    },
    float: (name, dflt) => {
      const a = get(name);
      return a && 'f' in a ? a.f : dflt;
    },
    ints: (name, dflt) => {
      const a = get(name);
      if (a && 'ints' in a) return a.ints;
      if (dflt === undefined) throw missing(name);
      return dflt;
    },
    str: (name, dflt) => {
      const a = get(name);
      return a && 's' in a ? a.s : dflt;
    },
    error: (message, input) => {
      if (input === undefined) return new AutodiffError(message, { node: node.name, op: node.opType });
      const v = node.inputs[input];
      const what = v ? `${v.dtype}${fmtShape(v.shape)}` : 'omitted';
      return new AutodiffError(`gradient for input ${input} (${what}): ${message}`, { node: node.name, op: node.opType, input });
    },
  };
}

/**
 * Sums the broadcast axes of gradient `g` away so that it has the input's `shape`, or is a broadcast of it (size 1
 * where `shape` is not; the fan-in expands it); any other mismatch is a rule bug.
 */
function sumToShape(b: GraphBuilder, n: Node, i: number, g: Value, shape: Shape): Value {
  const where = { node: n.name, op: n.opType, input: i };
  if (g.dtype !== n.inputs[i]!.dtype) throw new AutodiffError(`gradient for input ${i} has dtype ${g.dtype}, expected ${n.inputs[i]!.dtype}`, where);
  const r = sumTo(b, g, shape);
  if (!r) throw new AutodiffError(`gradient for input ${i} has shape ${fmtShape(g.shape)}, expected ${fmtShape(shape)}`, where);
  return r;
}
