// The gradient table, total over the op vocabulary (src/graph/ops): per op a rule, NOT_DIFFERENTIABLE or
// NOT_IMPLEMENTED, merged from the family files. Each family table is total over its family's ops, so a new op
// without an entry does not compile.
import type { OpType } from '../../ops/index.ts';
import type { GradEntry, GradRule } from '../rule.ts';
import { elementwiseGrads } from './elementwise.ts';
import { linalgGrads } from './linalg.ts';
import { nnGrads } from './nn.ts';
import { reduceGrads } from './reduce.ts';
import { shapeGrads } from './shape.ts';

export const GRAD_RULES = {
  ...elementwiseGrads, ...reduceGrads, ...shapeGrads, ...linalgGrads, ...nnGrads,
} satisfies Record<OpType, GradEntry>;

/** The ops with a gradient rule (each needs a finite-difference case in test/graph/grad-cases.ts). */
export type DifferentiableOp = { [K in OpType]: (typeof GRAD_RULES)[K] extends GradRule ? K : never }[OpType];
