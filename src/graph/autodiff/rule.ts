// What a gradient rule sees and returns. Rules are short pure functions over the builder; the walker does the
// shared work (which inputs need a gradient, arity, broadcast reduction, fan-in, walls, missing rules, shape checks)
// and never switches on op type.
import type { GraphBuilder } from '../builder.ts';
import type { Attr, Node, Value } from '../ir.ts';
import { sameShape, type Shape } from '../shape.ts';
import type { AutodiffError } from './errors.ts';

export interface GradCtx {
  readonly b: GraphBuilder;
  readonly node: Node;
  /** Forward inputs (null for omitted optional inputs). */
  readonly x: readonly (Value | null)[];
  /** Forward outputs (rules may reuse them: y = exp(x) gives dx = dy·y). */
  readonly y: readonly Value[];
  /** Incoming gradient per output; undefined where no gradient reaches that output ("symbolic nothing"). */
  readonly dy: readonly (Value | undefined)[];
  /** An int attribute of the forward node. */
  int(name: string, dflt?: number): number;
  float(name: string, dflt: number): number;
  ints(name: string, dflt?: readonly number[]): readonly number[];
  str(name: string, dflt: string): string;
  attr(name: string): Attr | undefined;
  /** The error to throw for this node, about `input` (its index, dtype and shape go in the message) when given. */
  error(message: string, input?: number): AutodiffError;
}

/** Builds the gradient of one input; the walker calls it only when that input needs a gradient. */
export type InputGrad = () => Value;

/**
 * One entry per input of the op's signature (optional inputs included; every input of a variadic op): the function
 * that builds that input's gradient (which may still carry broadcast axes; the walker sums them away), or undefined
 * where the input has no gradient (indices, shapes, conditions, state). A rule builds no node itself: nodes are built
 * by the functions the walker calls, and work several inputs share goes in `once`.
 */
export type GradRule = (g: GradCtx) => readonly (InputGrad | undefined)[];

/** No gradient flows through the op (bool, integer or piecewise-constant results): its outputs are walls. */
export const NOT_DIFFERENTIABLE = 'not differentiable';
/** No rule yet: a gradient that reaches the op is an error naming the node. */
export const NOT_IMPLEMENTED = 'not implemented';

export type GradEntry = GradRule | typeof NOT_DIFFERENTIABLE | typeof NOT_IMPLEMENTED;

/** `build`, run on the first call only: work shared by several inputs' gradients, built when the first asks. */
export function once<T>(build: () => T): () => T {
  let done: { value: T } | undefined;
  return () => (done ??= { value: build() }).value;
}

/**
 * `g` with the axes it has beyond `shape`, and those where `shape` is 1 and `g` is not, summed away: `shape` itself,
 * or a broadcast of it where `g` is 1 and `shape` is not. Null when `g` does not broadcast to `shape` that way.
 */
export function sumTo(b: GraphBuilder, g: Value, shape: Shape): Value | null {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  if (lead < 0) return null;
  const axes: number[] = [];
  for (const [k, d] of g.shape.entries()) {
    if (k < lead) axes.push(k);
    else if (shape[k - lead] === 1 && d !== 1) axes.push(k);
    else if (shape[k - lead] !== d && d !== 1) return null;
  }
  let r = axes.length ? b.ReduceSum(g, axes, true) : g;
  if (lead > 0) r = b.Squeeze(r, Array.from({ length: lead }, (_, k) => k));
  return r;
}
