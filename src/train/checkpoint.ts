// Checkpoints: parameters, buffers and optimizer state as safetensors, with everything else a resumed run needs
// (steps, epoch, RNG and loader state, the config) in its metadata. Written atomically; keep-last-K plus best;
// refused when corrupt or made for another config.
import { existsSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../errors.ts';
import type { Tensor } from '../graph/tensor.ts';
import { readSafetensors, writeSafetensors } from '../graph/safetensors.ts';
import { removeStaleTemp, tempPath } from '../atomic.ts';
import { CHECKPOINT_FORMAT, checkpointMetadata, type TrainProgress } from './checkpoint-format.ts';

export { CHECKPOINT_FORMAT, type TrainProgress } from './checkpoint-format.ts';

/** The progress of a new run: step 0, the stream at `position`. */
export const startProgress = (groups: readonly string[], position: Pick<TrainProgress, 'rng' | 'loader'>): TrainProgress =>
  ({ step: 0, epoch: 0, groupSteps: Object.fromEntries(groups.map((g) => [g, 0])), ...position, best: null });

/** The progress after one more step in which the groups `trained` stepped, the stream now at `position`. */
export function advance(p: TrainProgress, trained: readonly string[], stepsPerEpoch: number, position: Pick<TrainProgress, 'rng' | 'loader'>): TrainProgress {
  const groupSteps = { ...p.groupSteps };
  for (const g of trained) groupSteps[g]! += 1;
  return { ...p, step: p.step + 1, epoch: Math.floor((p.step + 1) / stepsPerEpoch), groupSteps, ...position };
}

export interface Checkpoint {
  progress: TrainProgress;
  configHash: string;
  tensors: Map<string, Tensor>;
}

/** The file name of the checkpoint after `step` steps. */
export const stepFile = (step: number) => `step-${String(step).padStart(8, '0')}.safetensors`;

/** Points `link` at `target` (a file name in the same folder) atomically. */
function relink(dir: string, link: string, target: string): void {
  const tmp = tempPath(join(dir, link));
  symlinkSync(target, tmp);
  renameSync(tmp, join(dir, link));
}

export class Checkpoints {
  constructor(readonly dir: string, private readonly keepLast: number) {}

  /** Writes step-N.safetensors atomically, points `last` at it, and drops step files beyond the newest K (not best). */
  save(c: Checkpoint, o: { best?: boolean } = {}): string {
    mkdirSync(this.dir, { recursive: true });
    const file = stepFile(c.progress.step);
    writeSafetensors(join(this.dir, file), c.tensors, checkpointMetadata(c.configHash, c.progress));
    relink(this.dir, 'last.safetensors', file);
    if (o.best) relink(this.dir, 'best.safetensors', file);
    this.prune();
    return join(this.dir, file);
  }

  private prune(): void {
    const keep = new Set<string>();
    for (const link of ['last.safetensors', 'best.safetensors']) {
      const p = join(this.dir, link);
      if (existsSync(p)) keep.add(basename(readlinkSync(p)));
    }
    const steps = readdirSync(this.dir).filter((f) => /^step-\d+\.safetensors$/.test(f)).sort();
    for (const f of steps.slice(0, Math.max(0, steps.length - this.keepLast))) if (!keep.has(f)) rmSync(join(this.dir, f), { force: true });
  }

  /** Removes what checkpoint writes and link switches of a killed run left behind; only under the run's lock. */
  removeStaleTemp(): string[] {
    return removeStaleTemp(this.dir, /step-\d+\.safetensors|last\.safetensors|best\.safetensors/);
  }

  /** The newest checkpoint (the file `last` points at), or null when the run has none. */
  latest(): string | null {
    const p = join(this.dir, 'last.safetensors');
    return existsSync(p) ? join(this.dir, readlinkSync(p)) : null;
  }
}

/**
 * Reads a checkpoint, refusing a corrupt file, one made by another config, or one missing any of `expected`
 * (name → shape). The message names the file and what is wrong.
 */
export function loadCheckpoint(path: string, configHash: string, expected: ReadonlyMap<string, readonly number[]>): Checkpoint {
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new UserError(path, `not a vhssl checkpoint (format "${metadata.format ?? 'missing'}")`);
  if (metadata.config_hash !== configHash) {
    throw new UserError(path, `made for config ${metadata.config_hash}, this run's config is ${configHash}`, 'resume with the config the run was started with');
  }
  let progress: TrainProgress;
  try {
    progress = JSON.parse(metadata.progress ?? '') as TrainProgress;
  } catch {
    throw new UserError(path, 'its progress metadata is not valid JSON');
  }
  for (const [name, shape] of expected) {
    const t = tensors.get(name);
    if (!t) throw new UserError(path, `has no tensor "${name}"`);
    if (t.shape.join(',') !== shape.join(',')) throw new UserError(path, `tensor "${name}" has shape [${t.shape.join(',')}], expected [${shape.join(',')}]`);
  }
  return { progress, configHash, tensors };
}
