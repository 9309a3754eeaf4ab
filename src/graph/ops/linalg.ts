// Matrix products.
import { broadcast, fmtShape, type Dim } from '../shape.ts';
import { attrInt, describe, fail, input, optInput, requireRank, sameDtype, type OpDef } from './infer.ts';

export const linalgOps = {
  MatMul: {
    arity: [2, 2],
    infer: (c) => {
      const dtype = sameDtype(c, [0, 1]);
      const a = input(c, 0);
      const b = input(c, 1);
      if (a.shape.length < 1 || b.shape.length < 1) fail(c, `MatMul needs rank ≥ 1, got ${describe(a, 0)} and ${describe(b, 1)}`);
      const as = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
      const bs = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
      const k1 = as[as.length - 1];
      const k2 = bs[bs.length - 2];
      if (k1 !== k2) fail(c, `inner dimensions differ: ${describe(a, 0)} has ${k1}, ${describe(b, 1)} has ${k2}`);
      const batch = broadcast(as.slice(0, -2), bs.slice(0, -2));
      if (!batch) fail(c, `batch dimensions of ${describe(a, 0)} and ${describe(b, 1)} do not broadcast`);
      const out: Dim[] = [...batch];
      if (a.shape.length > 1) out.push(as[as.length - 2]!);
      if (b.shape.length > 1) out.push(bs[bs.length - 1]!);
      return [{ dtype, shape: out }];
    },
  },
  Gemm: {
    arity: [2, 3],
    infer: (c) => {
      const dtype = sameDtype(c, [0, 1, 2]);
      const a = requireRank(c, 0, [2]);
      const b = requireRank(c, 1, [2]);
      const [m, k1] = attrInt(c, 'transA', 0) ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
      const [k2, n] = attrInt(c, 'transB', 0) ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
      if (k1 !== k2) fail(c, `inner dimensions differ: op(A) of ${describe(a, 0)} has ${k1} columns, op(B) of ${describe(b, 1)} has ${k2} rows`);
      const cv = optInput(c, 2);
      if (cv && !broadcast([m, n], cv.shape)?.every((d, i) => d === [m, n][i])) {
        fail(c, `${describe(cv, 2)} does not broadcast to the output ${fmtShape([m, n])}`);
      }
      return [{ dtype, shape: [m, n] }];
    },
  },
} satisfies Record<string, OpDef>;
