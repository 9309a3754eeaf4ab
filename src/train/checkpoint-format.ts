// What a checkpoint file says besides its tensors (safetensors metadata), with no file access: browsers write
// checkpoints too (`vhssl web`).
import type { LoaderState } from '../data/loader.ts';
import type { RngState } from '../rng.ts';

export const CHECKPOINT_FORMAT = 'vhssl-checkpoint/1';

export interface TrainProgress {
  /** Optimizer steps taken (all groups step together on the fused path). */
  step: number;
  epoch: number;
  /** Steps taken per optimizer group (they differ under alternation; AdamW's bias correction uses them). */
  groupSteps: Record<string, number>;
  /** Stream of the sampled prediction positions. */
  rng: RngState;
  loader: LoaderState;
  /** Best k-NN top-1 so far, or null. */
  best: number | null;
}

/** A checkpoint's safetensors metadata: its format, config, progress (JSON) and, readable at a glance, step and epoch. */
export const checkpointMetadata = (configHash: string, progress: TrainProgress): Record<string, string> => ({
  format: CHECKPOINT_FORMAT,
  config_hash: configHash,
  progress: JSON.stringify(progress),
  step: String(progress.step),
  epoch: String(progress.epoch),
});
