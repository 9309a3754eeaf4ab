// Shape and dtype inference shared by every op family: the context a rule sees, and attribute readers.
import type { DType } from '../dtype.ts';
import type { Attr, Value } from '../ir.ts';
import { fmtShape, type Dim, type Shape } from '../shape.ts';

export interface OutSpec {
  dtype: DType;
  shape: Shape;
  known?: readonly Dim[];
}

export class ShapeError extends Error {
  override readonly name = 'ShapeError';
}

export interface InferCtx {
  readonly node: string;
  readonly opType: string;
  readonly inputs: readonly (Value | null)[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

export type InferFn = (c: InferCtx) => OutSpec[];

export interface OpDef {
  /** Minimum and maximum number of inputs (optional trailing inputs may be null). */
  readonly arity: readonly [number, number];
  readonly infer: InferFn;
}

export function fail(c: InferCtx, msg: string): never {
  throw new ShapeError(`${c.node} (${c.opType}): ${msg}`);
}

export function input(c: InferCtx, i: number): Value {
  const v = c.inputs[i];
  if (!v) fail(c, `input ${i} is required`);
  return v;
}

export const optInput = (c: InferCtx, i: number): Value | null => c.inputs[i] ?? null;

export function describe(v: Value, i: number): string {
  return `input ${i} "${v.name}" ${v.dtype}${fmtShape(v.shape)}`;
}

export function attrInt(c: InferCtx, name: string, dflt?: number): number {
  const a = c.attrs[name];
  if (a === undefined) {
    if (dflt === undefined) fail(c, `attribute ${name} is required`);
    return dflt;
  }
  if (!('i' in a)) fail(c, `attribute ${name} must be an int`);
  return a.i;
}

export function attrFloat(c: InferCtx, name: string, dflt: number): number {
  const a = c.attrs[name];
  if (a === undefined) return dflt;
  if (!('f' in a)) fail(c, `attribute ${name} must be a float`);
  return a.f;
}

export function attrInts(c: InferCtx, name: string, dflt?: readonly number[]): readonly number[] {
  const a = c.attrs[name];
  if (a === undefined) {
    if (dflt === undefined) fail(c, `attribute ${name} is required`);
    return dflt;
  }
  if (!('ints' in a)) fail(c, `attribute ${name} must be a list of ints`);
  return a.ints;
}

export function attrString(c: InferCtx, name: string, dflt: string): string {
  const a = c.attrs[name];
  if (a === undefined) return dflt;
  if (!('s' in a)) fail(c, `attribute ${name} must be a string`);
  return a.s;
}

/** The entries of a 1-D int64 input that must be known at build time (a constant, or derived from Shape). */
export function knownInts(c: InferCtx, i: number, what: string): readonly Dim[] {
  const v = input(c, i);
  if (v.dtype !== 'int64') fail(c, `${what} (${describe(v, i)}) must be int64`);
  if (!v.known) fail(c, `${what} (input ${i} "${v.name}") must be known when the graph is built (a constant or a Shape)`);
  return v.known;
}

export function knownNumbers(c: InferCtx, i: number, what: string): number[] {
  return knownInts(c, i, what).map((d) => {
    if (typeof d !== 'number') fail(c, `${what} (input ${i}) must hold numbers, found symbolic ${d}`);
    return d;
  });
}

export function sameDtype(c: InferCtx, idx: readonly number[]): DType {
  const vs = idx.map((i) => [i, c.inputs[i]] as const).filter((p): p is readonly [number, Value] => !!p[1]);
  const first = vs[0]!;
  for (const [i, v] of vs) {
    if (v.dtype !== first[1].dtype) fail(c, `${describe(v, i)} has dtype ${v.dtype}, expected ${first[1].dtype} like ${describe(first[1], first[0])}`);
  }
  return first[1].dtype;
}

export function requireFloat(c: InferCtx, i: number): Value {
  const v = input(c, i);
  if (!['float32', 'float64', 'float16', 'bfloat16'].includes(v.dtype)) fail(c, `${describe(v, i)} must be a float tensor`);
  return v;
}

export function requireRank(c: InferCtx, i: number, ranks: readonly number[]): Value {
  const v = input(c, i);
  if (!ranks.includes(v.shape.length)) fail(c, `${describe(v, i)} must have rank ${ranks.join(' or ')}`);
  return v;
}
