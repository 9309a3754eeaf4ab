// The graph IR: values with dtype and static (optionally symbolic) shape, nodes in insertion order, graphs.
import type { DType } from './dtype.ts';
import type { Dim, Shape } from './shape.ts';
import type { Tensor } from './tensor.ts';

export type ValueKind = 'input' | 'const' | 'node';

export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  readonly kind: ValueKind;
  /** The node that computes it ('node' values only). */
  readonly producer: Node | null;
  /** Its data, for constants (stored as initializers that are not graph inputs). */
  readonly data?: Tensor;
  /** For 1-D int64 values that describe a shape (constants, Shape, and ops on them): their (maybe symbolic) entries. */
  readonly known?: readonly Dim[];
}

export type Attr =
  | { readonly i: number }
  | { readonly f: number }
  | { readonly s: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] }
  | { readonly t: Tensor }
  | { readonly g: Graph };

export interface Node {
  readonly opType: string;
  readonly domain: string;
  readonly name: string;
  /** `null` is an omitted optional input (an empty name in ONNX). */
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

export interface Graph {
  name: string;
  inputs: Value[];
  outputs: Value[];
  nodes: Node[];
  /** Constants (initializers that are not inputs), in creation order. */
  constants: Value[];
  /** Free-form doc string (the model's purpose, boundaries). */
  doc?: string;
}

export const emptyGraph = (name: string): Graph => ({ name, inputs: [], outputs: [], nodes: [], constants: [] });
