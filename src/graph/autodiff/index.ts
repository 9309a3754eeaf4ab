export { gradients, type GradientsOptions } from './walker.ts';
export { AutodiffError, type AutodiffWhere } from './errors.ts';
export { GRAD_RULES, type DifferentiableOp } from './rules/index.ts';
export { NOT_DIFFERENTIABLE, NOT_IMPLEMENTED, type GradCtx, type GradEntry, type GradRule, type InputGrad } from './rule.ts';
