// A run's schedules as pure functions of its progress: how many steps, the learning rate of each group (the original's
// intent, without its cosine that restarted every epoch: linear warmup from `warmup_start`, then cosine to `min_lr`,
// constant, or step decay), which groups train (alternation), the EMA decay, when to validate and checkpoint, and how
// many steps one ONNX Runtime run takes.
import type { Config, EvalConfig, ScheduleConfig, TrainConfig } from '../config/schema.ts';
import { cosine } from '../runtime/schedule.ts';

export interface Progress {
  /** Optimizer steps taken so far (0-based index of the step about to run). */
  step: number;
  stepsPerEpoch: number;
  epochs: number;
}

/** The learning rate of the step about to run, for base rate `base`. */
export function learningRate(s: ScheduleConfig, base: number, p: Progress): number {
  // Progress in epochs: continuous when stepped per step, whole epochs when stepped per epoch.
  const raw = p.step / p.stepsPerEpoch;
  const t = s.per === 'epoch' ? Math.floor(raw) : raw;
  if (t < s.warmup_epochs) {
    return s.warmup_start + (base - s.warmup_start) * (t / s.warmup_epochs);
  }
  switch (s.name) {
    case 'constant':
      return base;
    case 'step':
      return base * s.gamma ** Math.floor((t - s.warmup_epochs) / s.step_size);
    case 'cosine': {
      const span = Math.max(p.epochs - s.warmup_epochs, Number.EPSILON);
      return cosine(base, s.min_lr, (t - s.warmup_epochs) / span);
    }
  }
}

/** Which groups train at `step`: all, or (alternation) every other group, flipping every `interval` steps. */
export function activeGroups(groups: readonly string[], step: number, stepsPerEpoch: number, intervalPct: number): string[] {
  if (intervalPct <= 0 || groups.length < 2) return [...groups];
  const interval = Math.max(1, Math.round((stepsPerEpoch * intervalPct) / 100));
  // A pure function of the step: flags and frozen state can never drift apart (in the original they did).
  const phase = Math.floor((step % stepsPerEpoch) / interval) % 2;
  return groups.filter((_, i) => i % 2 === phase);
}

/** The learning rate of every group that trains at `step` (the others are absent: they do not step). */
export function groupLearningRates(t: TrainConfig, groups: readonly string[], step: number, stepsPerEpoch: number): Record<string, number> {
  const lr = learningRate(t.schedule, t.optimizer.lr, { step, stepsPerEpoch, epochs: t.epochs });
  return Object.fromEntries(activeGroups(groups, step, stepsPerEpoch, t.alternation.interval_pct).map((g) => [g, lr]));
}

/** The EMA target encoder's decay at `step` of `total`: from `decay` up to `final_decay` along a cosine (BYOL). */
export const emaDecay = (ema: Pick<Config['arch']['ema'], 'decay' | 'final_decay'>, step: number, total: number): number => cosine(ema.decay, ema.final_decay, step / Math.max(total, 1));

/** The fused step graph runs every group at once: only without accumulation or alternation. */
export const fusedStep = (t: TrainConfig): boolean => t.grad_accum === 1 && t.alternation.interval_pct === 0;

/**
 * The epochs (1-based) after which k-NN validation runs, for `epochs` epochs of training; empty when `every` is 0.
 * linear: every `every`-th epoch, and the last. exponential: 1, b, b², … and the last, with b = `every`; b = 1 means
 * every epoch (the original's exponential schedule with 1 validated only the first and last epochs).
 */
export function knnSchedule(knn: Pick<EvalConfig['knn'], 'schedule' | 'every'>, epochs: number): Set<number> {
  const out = new Set<number>();
  if (knn.every === 0 || epochs < 1) return out;
  if (knn.schedule === 'linear' || knn.every === 1) {
    for (let e = knn.every; e <= epochs; e += knn.every) out.add(e);
  } else {
    for (let e = 1; e <= epochs; e *= knn.every) out.add(e);
  }
  out.add(epochs);
  return out;
}

export interface Plan {
  stepsPerEpoch: number;
  /** Steps of this run: the configured epochs, or fewer with --max-steps. */
  total: number;
  /** Epochs after which k-NN validation runs (1-based: after the epoch's last step). */
  validateAt: Set<number>;
}

/** How long a run is: its steps per epoch (`train.steps_per_epoch`, else the loader's), total steps, validations. */
export function trainingPlan(config: Config, batchesPerEpoch: number, maxSteps = Infinity): Plan {
  const t = config.train;
  const stepsPerEpoch = t.steps_per_epoch ?? Math.max(1, Math.floor(batchesPerEpoch / t.grad_accum));
  const total = Math.min(t.epochs * stepsPerEpoch, maxSteps);
  // A run cut short by --max-steps validates the epochs it reaches.
  const validates = config.eval.knn.every > 0 && config.data.root;
  return { stepsPerEpoch, total, validateAt: validates ? knnSchedule(config.eval.knn, Math.min(t.epochs, Math.ceil(total / stepsPerEpoch))) : new Set() };
}

/** What follows step `step` (1-based, just taken): k-NN validation and a checkpoint, a checkpoint, or nothing. */
export function afterStep(step: number, plan: Plan, checkpointEvery: number): 'validate' | 'checkpoint' | null {
  if (step % plan.stepsPerEpoch === 0 && plan.validateAt.has(step / plan.stepsPerEpoch)) return 'validate';
  return step % checkpointEvery === 0 && step < plan.total ? 'checkpoint' : null;
}

/**
 * How many steps the block after `step` steps runs (`train.steps_per_run`, one ONNX Runtime run): up to
 * `stepsPerRun`, and never past a step after which something happens between steps (a validation, a checkpoint) nor
 * past the end of an epoch or of the run. So checkpoints, which store the stream's position, fall on block ends.
 */
export function blockLength(step: number, plan: Plan, checkpointEvery: number, stepsPerRun: number): number {
  let k = 1;
  const boundary = (s: number) => s >= plan.total || s % plan.stepsPerEpoch === 0 || afterStep(s, plan, checkpointEvery) !== null;
  while (k < stepsPerRun && !boundary(step + k)) k++;
  return k;
}
