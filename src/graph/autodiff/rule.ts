// What a gradient rule sees and returns. Rules are short pure functions over the builder; the walker does the
// shared work (broadcast reduction, fan-in, walls, missing rules, shape checks) and never switches on op type.
import type { GraphBuilder } from '../builder.ts';
import type { Attr, Node, Value } from '../ir.ts';

export interface GradCtx {
  readonly b: GraphBuilder;
  readonly node: Node;
  /** Forward inputs (null for omitted optional inputs). */
  readonly x: readonly (Value | null)[];
  /** Forward outputs (rules may reuse them: y = exp(x) gives dx = dy·y). */
  readonly y: readonly Value[];
  /** Incoming gradient per output; undefined where no gradient reaches that output ("symbolic nothing"). */
  readonly dy: readonly (Value | undefined)[];
  /** Which inputs need a gradient; a rule may skip the others. */
  readonly wants: readonly boolean[];
  /** An int attribute of the forward node. */
  int(name: string, dflt?: number): number;
  float(name: string, dflt: number): number;
  ints(name: string, dflt?: readonly number[]): readonly number[];
  str(name: string, dflt: string): string;
  attr(name: string): Attr | undefined;
}

/**
 * One gradient per forward input: a value (which may still carry broadcast axes; the walker sums them away), or
 * undefined for "no gradient" (non-differentiable input, or not wanted).
 */
export type GradRule = (g: GradCtx) => readonly (Value | undefined)[];
