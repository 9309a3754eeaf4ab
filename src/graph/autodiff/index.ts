export { gradients, AutodiffError, type GradientsOptions } from './walker.ts';
export { GRAD_RULES, type DifferentiableOp } from './rules/index.ts';
export type { GradRule, GradCtx } from './rule.ts';
