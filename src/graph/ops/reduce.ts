// Reductions (axes as an int64 input, opset 18+), softmax-like normalisations over one axis.
import { normAxis, type Dim } from '../shape.ts';
import { attrInt, describe, fail, input, knownNumbers, optInput, requireFloat, type InferCtx, type OpDef } from './infer.ts';

/** The axes a reduction uses: all axes when the axes input is omitted (noop_with_empty_axes = 0). */
export function reduceAxes(c: InferCtx): number[] {
  const x = input(c, 0);
  if (!optInput(c, 1)) return x.shape.map((_, i) => i);
  const axes = knownNumbers(c, 1, 'axes').map((a) => {
    const n = normAxis(a, x.shape.length);
    if (n === null) fail(c, `axis ${a} is out of range for ${describe(x, 0)}`);
    return n;
  });
  if (new Set(axes).size !== axes.length) fail(c, `axes [${axes.join(',')}] repeat an axis`);
  return axes;
}

const reduce: OpDef = {
  arity: [1, 2],
  infer: (c) => {
    const x = input(c, 0);
    const axes = new Set(reduceAxes(c));
    const keep = attrInt(c, 'keepdims', 1) === 1;
    const shape: Dim[] = [];
    x.shape.forEach((d, i) => {
      if (!axes.has(i)) shape.push(d);
      else if (keep) shape.push(1);
    });
    return [{ dtype: x.dtype, shape }];
  },
};

const overAxis: OpDef = {
  arity: [1, 1],
  infer: (c) => {
    const x = requireFloat(c, 0);
    if (normAxis(attrInt(c, 'axis', -1), x.shape.length) === null) fail(c, `axis ${attrInt(c, 'axis', -1)} is out of range for ${describe(x, 0)}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
};

export const reduceOps = {
  ReduceSum: reduce, ReduceMean: reduce, ReduceMax: reduce, ReduceSumSquare: reduce,
  Softmax: overAxis, LogSoftmax: overAxis,
} satisfies Record<string, OpDef>;
