// The gradient table: one entry per differentiable op, merged from the family files.
import type { OpType } from '../../ops/index.ts';
import type { GradRule } from '../rule.ts';
import { elementwiseGrads } from './elementwise.ts';
import { linalgGrads } from './linalg.ts';
import { nnGrads } from './nn.ts';
import { reduceGrads } from './reduce.ts';
import { shapeGrads } from './shape.ts';

export const GRAD_RULES = {
  ...elementwiseGrads, ...reduceGrads, ...shapeGrads, ...linalgGrads, ...nnGrads,
} satisfies Partial<Record<OpType, GradRule>>;

export type DifferentiableOp = keyof typeof GRAD_RULES;
