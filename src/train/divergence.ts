// When a run has diverged, and which checkpoint is good. A step diverges when one of its losses or gradient norms is
// not finite. A checkpoint is good when every tensor it holds is finite and every parameter lies within ±PARAM_BOUND;
// a bad one is never written: the run stops at that step instead. Either way the error names the quantity, its group
// and the step, and the last good checkpoint (the last one written, since only good ones are).
import type * as ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';
import type { Manifest } from '../graph/artifacts.ts';
import { EMA, lossOutputs } from '../graph/names.ts';
import type { Tensor } from '../graph/tensor.ts';
import { tensorsOf } from '../runtime/state.ts';
import type { Checkpoints, TrainProgress } from './checkpoint.ts';

/**
 * The largest |parameter| of a good checkpoint. Healthy runs stay near 1 (config tiny: 1.06 after 300 steps; the
 * layer-norm gains of large transformers reach tens). At lr 30 the same run's largest parameter went from 44 (step 14,
 * loss 7) to 1.4e4 (step 17, loss 250) and 4.3e8 (step 18), and its loss was NaN three steps later: the bound sits far
 * above healthy weights and catches that explosion a step after it starts. Buffers (running statistics) and optimizer
 * state are only checked for finite values.
 */
export const PARAM_BOUND = 1e4;

export type Quantity =
  | { kind: 'loss'; group: string; term: string | null }
  | { kind: 'gradient norm'; group: string }
  | { kind: 'parameter' | 'buffer' | 'optimizer state'; group: string; name: string };

export const describeQuantity = (q: Quantity): string =>
  q.kind === 'loss' ? (q.term ? `loss term ${q.term} of group ${q.group}` : `loss of group ${q.group}`)
    : q.kind === 'gradient norm' ? `gradient norm of group ${q.group}`
      : `${q.kind} ${q.name} of group ${q.group}`;

export interface Finding {
  quantity: Quantity;
  /** The non-finite value, or the largest |x| of a parameter beyond PARAM_BOUND. */
  value: number;
}

/** A loss, gradient norm or checkpoint tensor that is not finite or not bounded: the run stops. */
export class DivergedError extends UserError {
  constructor(readonly step: number, readonly finding: Finding, readonly lastGood: string | null) {
    const { quantity, value } = finding;
    super(
      `step ${step}`,
      Number.isFinite(value) ? `${describeQuantity(quantity)} reaches ${value.toExponential(2)}, beyond the bound ±${PARAM_BOUND} of a good checkpoint` : `${describeQuantity(quantity)} is ${value}`,
      lastGood ? `the last good checkpoint is ${lastGood}` : 'no good checkpoint was written',
    );
  }
}

/** The largest |x| of a floating-point tensor, or its first value that is not finite. */
function maxAbs(t: Tensor): number {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return 0;
  const data = t.data as Float32Array | Float64Array;
  let m = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (!Number.isFinite(x)) return x;
    if (Math.abs(x) > m) m = Math.abs(x);
  }
  return m;
}

/** The quantities a run is checked on, each resolved once from the manifest to its group. */
export class DivergenceCheck {
  private readonly losses = new Map<string, Quantity>();
  private readonly tensors = new Map<string, Quantity>();

  constructor(m: Manifest) {
    const outputs = Object.values(m.graphs).flatMap((g) => g.outputs.map((o) => o.name));
    for (const [name, key] of lossOutputs(outputs, Object.keys(m.groups))) this.losses.set(name, { kind: 'loss', ...key });
    for (const [group, e] of Object.entries(m.groups)) {
      for (const name of e.params) this.tensors.set(name, { kind: 'parameter', group, name });
      for (const name of e.buffers) this.tensors.set(name, { kind: 'buffer', group, name });
      for (const name of e.state) this.tensors.set(name, { kind: 'optimizer state', group, name });
    }
    for (const name of m.ema?.params ?? []) this.tensors.set(name, { kind: 'parameter', group: EMA, name });
    for (const name of m.ema?.buffers ?? []) this.tensors.set(name, { kind: 'buffer', group: EMA, name });
  }

  /** The first loss (by output name), then gradient norm (by group), of a step that is not finite; null when all are. */
  step(losses: Readonly<Record<string, number>>, gradNorms: Readonly<Record<string, number>>): Finding | null {
    for (const [name, value] of Object.entries(losses)) {
      const quantity = this.losses.get(name);
      if (!quantity) throw new Error(`step result: loss ${name} is not an output of the artifacts`);
      if (!Number.isFinite(value)) return { quantity, value };
    }
    for (const [group, value] of Object.entries(gradNorms)) if (!Number.isFinite(value)) return { quantity: { kind: 'gradient norm', group }, value };
    return null;
  }

  /** What makes `tensors` a bad checkpoint: the first non-finite tensor, else the largest parameter beyond the bound. */
  checkpoint(tensors: ReadonlyMap<string, Tensor>): Finding | null {
    let worst: Finding | null = null;
    for (const [name, t] of tensors) {
      const quantity = this.tensors.get(name);
      if (!quantity) throw new Error(`checkpoint: tensor ${name} is not in the artifacts' manifest`);
      const m = maxAbs(t);
      if (!Number.isFinite(m)) return { quantity, value: m };
      if (quantity.kind === 'parameter' && m > PARAM_BOUND && m > (worst?.value ?? 0)) worst = { quantity, value: m };
    }
    return worst;
  }
}

/** Writes only good checkpoints, so that the last one written is the last good one. */
export class GoodCheckpoints {
  constructor(private readonly ckpts: Checkpoints, private readonly check: DivergenceCheck, private readonly configHash: string, public lastGood: string | null) {}

  /** Writes the checkpoint of `state` at `progress`, or throws the DivergedError that names what makes it bad. */
  save(state: ReadonlyMap<string, ort.Tensor>, progress: TrainProgress, o: { best?: boolean } = {}): string {
    const tensors = tensorsOf(state);
    const bad = this.check.checkpoint(tensors);
    if (bad) throw new DivergedError(progress.step, bad, this.lastGood);
    this.lastGood = this.ckpts.save({ progress, configHash: this.configHash, tensors }, o);
    return this.lastGood;
  }
}
