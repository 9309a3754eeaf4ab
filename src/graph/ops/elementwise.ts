// Elementwise ops: unary maps keep the shape; binary ops broadcast numpy-style.
import { DTYPE_FROM_ONNX, type DType } from '../dtype.ts';
import { broadcast, fmtShape } from '../shape.ts';
import { attrInt, describe, fail, input, requireFloat, sameDtype, type InferCtx, type OpDef, type OutSpec } from './infer.ts';

function broadcastAll(c: InferCtx, idx: readonly number[], dtype: DType): OutSpec[] {
  let shape = input(c, idx[0]!).shape;
  for (const i of idx.slice(1)) {
    const v = input(c, i);
    const b = broadcast(shape, v.shape);
    if (!b) fail(c, `cannot broadcast ${describe(v, i)} with ${fmtShape(shape)} (${describe(input(c, idx[0]!), idx[0]!)})`);
    shape = b;
  }
  return [{ dtype, shape }];
}

const binary: OpDef = { arity: [2, 2], infer: (c) => broadcastAll(c, [0, 1], sameDtype(c, [0, 1])) };
const compare: OpDef = { arity: [2, 2], infer: (c) => broadcastAll(c, [0, 1], (sameDtype(c, [0, 1]), 'bool')) };
const logical: OpDef = {
  arity: [2, 2],
  infer: (c) => {
    for (const i of [0, 1]) if (input(c, i).dtype !== 'bool') fail(c, `${describe(input(c, i), i)} must be bool`);
    return broadcastAll(c, [0, 1], 'bool');
  },
};
const unary: OpDef = { arity: [1, 1], infer: (c) => [{ dtype: input(c, 0).dtype, shape: input(c, 0).shape }] };
const unaryFloat: OpDef = { arity: [1, 1], infer: (c) => [{ dtype: requireFloat(c, 0).dtype, shape: input(c, 0).shape }] };

export const elementwiseOps = {
  Add: binary, Sub: binary, Mul: binary, Div: binary, Max: binary, Min: binary, Mod: binary,
  Pow: {
    arity: [2, 2],
    infer: (c) => broadcastAll(c, [0, 1], requireFloat(c, 0).dtype),
  },
  Equal: compare, Greater: compare, Less: compare, GreaterOrEqual: compare, LessOrEqual: compare,
  And: logical, Or: logical,
  Not: {
    arity: [1, 1],
    infer: (c) => {
      if (input(c, 0).dtype !== 'bool') fail(c, `${describe(input(c, 0), 0)} must be bool`);
      return [{ dtype: 'bool', shape: input(c, 0).shape }];
    },
  },
  Neg: unary, Abs: unary, Sign: unary, Identity: {
    arity: [1, 1],
    infer: (c) => [{ dtype: input(c, 0).dtype, shape: input(c, 0).shape, known: input(c, 0).known }],
  },
  Sqrt: unaryFloat, Exp: unaryFloat, Log: unaryFloat, Tanh: unaryFloat, Erf: unaryFloat, Relu: unary,
  Sigmoid: unaryFloat, Reciprocal: unaryFloat, Gelu: unaryFloat, Softplus: unaryFloat,
  Where: {
    arity: [3, 3],
    infer: (c) => {
      if (input(c, 0).dtype !== 'bool') fail(c, `condition ${describe(input(c, 0), 0)} must be bool`);
      return broadcastAll(c, [0, 1, 2], sameDtype(c, [1, 2]));
    },
  },
  Cast: {
    arity: [1, 1],
    infer: (c) => {
      const to = DTYPE_FROM_ONNX[attrInt(c, 'to')];
      if (!to) fail(c, `unsupported cast target ${attrInt(c, 'to')}`);
      return [{ dtype: to, shape: input(c, 0).shape }];
    },
  },
} satisfies Record<string, OpDef>;
