// Learning-rate schedules as pure functions of training progress (the original's intent, without its cosine that
// restarted every epoch): linear warmup from `warmup_start`, then cosine to `min_lr`, constant, or step decay.
import type { ScheduleConfig } from '../config/schema.ts';

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
      const u = Math.min(1, (t - s.warmup_epochs) / span);
      return s.min_lr + 0.5 * (base - s.min_lr) * (1 + Math.cos(Math.PI * u));
    }
  }
}
