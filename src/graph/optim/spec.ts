// What an optimizer graph updates and the names it uses. Inputs: `lr`, `step`, then per parameter `<p>`, `<p>.grad`
// and its state (`<p>.momentum`; `<p>.exp_avg`, `<p>.exp_avg_sq`). Outputs: per parameter `<p>.new` and each state's
// `.new`, then `grad_norm` (the group's global gradient norm before clipping).
import type { OptimizerConfig, TrainConfig } from '../../config/schema.ts';
import { stateName } from '../names.ts';
import { tensor, type Tensor } from '../tensor.ts';

export type FloatDType = 'float32' | 'float64';
export type Slot = 'momentum' | 'exp_avg' | 'exp_avg_sq';

export interface OptimParam {
  readonly name: string;
  readonly shape: readonly number[];
  /** Default float32; all parameters of one graph share a dtype. */
  readonly dtype?: FloatDType;
  /** Predictor parameters train at lr × predictorLrMult. */
  readonly predictor: boolean;
  /** False for parameters excluded from weight decay (norms, biases, embeddings). */
  readonly decay: boolean;
}

export interface OptimizerSpec {
  readonly optimizer: OptimizerConfig;
  readonly params: readonly OptimParam[];
  readonly predictorLrMult: number;
  /** Global-norm clip over all of the group's gradients, or null. */
  readonly clipGradNorm: number | null;
}

export interface StateSpec {
  readonly name: string;
  readonly param: string;
  readonly slot: Slot;
  readonly dtype: FloatDType;
  readonly shape: readonly number[];
}

/** The state slots each parameter carries (SGD without momentum carries none). */
export function slotsOf(o: OptimizerConfig): readonly Slot[] {
  switch (o.name) {
    case 'sgd': return o.momentum > 0 ? ['momentum'] : [];
    case 'adamw': return ['exp_avg', 'exp_avg_sq'];
  }
}

/** The state tensors of a graph, in input order; all start at zero. */
export function optimizerState(spec: OptimizerSpec): StateSpec[] {
  const slots = slotsOf(spec.optimizer);
  return spec.params.flatMap((p) => slots.map((slot) => ({ name: stateName(p.name, slot), param: p.name, slot, dtype: p.dtype ?? 'float32', shape: p.shape })));
}

export function initOptimizerState(spec: OptimizerSpec): Record<string, Tensor> {
  return Object.fromEntries(optimizerState(spec).map((s) => [s.name, tensor(s.dtype, s.shape)]));
}

/** Whether a parameter is decayed: its name contains none of the `no_decay` fragments. */
export const decays = (name: string, noDecay: readonly string[]): boolean => !noDecay.some((f) => name.includes(f));

/** A spec from the `train` config: hyper-parameters, the lr multiplier, the no-decay fragments and clipping. */
export function optimizerSpec(
  train: Pick<TrainConfig, 'optimizer' | 'predictor_lr_mult' | 'no_decay' | 'clip_grad_norm'>,
  params: readonly { name: string; shape: readonly number[]; dtype?: FloatDType; predictor: boolean }[],
): OptimizerSpec {
  return {
    optimizer: train.optimizer,
    params: params.map((p) => ({ ...p, decay: decays(p.name, train.no_decay) })),
    predictorLrMult: train.predictor_lr_mult,
    clipGradNorm: train.clip_grad_norm,
  };
}
