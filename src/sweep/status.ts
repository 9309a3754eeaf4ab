// Where a sweep's run stands, read from its directory:
//   finished     DIR/<name>/sweep-status.json says so (its `vhssl train` exited 0), or RUN_DIR/summary.json does
//                ({status: 'finished'}, written by `vhssl train` itself)
//   failed       sweep-status.json says the last attempt exited non-zero without being interrupted
//   partial      a checkpoint to resume from (checkpoints/last.safetensors), or a curriculum begun (curriculum.json),
//                and not finished; a curriculum's checkpoint, metrics and summary are its newest stage's
//   not started  none of these
// A failed run is retried by the next `vhssl sweep`: resumed when it has a checkpoint, else started again.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic.ts';
import { curriculumCheckpointDir, readCurriculum } from '../curriculum-record.ts';
import { SUMMARY_FILE } from '../eval/final.ts';

export const STATUS_FILE = 'sweep-status.json';

export type RunStatus = 'finished' | 'failed' | 'partial' | 'not started';

/** How one attempt at a run ended, as sweep-status.json records it. */
export interface Attempt {
  status: 'finished' | 'failed' | 'interrupted';
  /** The exit status of `vhssl train`, or null when a signal killed it. */
  exit: number | null;
  signal: string | null;
  /** The step of the run's last checkpoint afterwards, or null. */
  step: number | null;
  time: string;
  log: string;
}

const readJson = (file: string): Record<string, unknown> | null => {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
};

export function readAttempt(runDir: string): Attempt | null {
  const v = readJson(join(runDir, STATUS_FILE));
  return v && typeof v.status === 'string' ? (v as unknown as Attempt) : null;
}

export const writeAttempt = (runDir: string, a: Attempt): void => writeFileAtomic(join(runDir, STATUS_FILE), `${JSON.stringify(a)}\n`);

/** Where a run's newest checkpoint and metrics are: the run itself, or a curriculum's newest stage that has one. */
export function trainedDir(runDir: string): string {
  const cur = readCurriculum(runDir);
  return (cur && curriculumCheckpointDir(runDir, cur)) ?? runDir;
}

/** Whether `vhssl train --resume` continues the run: it has a checkpoint, or it is a curriculum already started. */
export const resumable = (runDir: string): boolean => checkpointStep(runDir) !== null || readCurriculum(runDir) !== null;

/**
 * The step of the checkpoint `last.safetensors` points at (`step-00000040.safetensors` → 40), or null; of a
 * curriculum, its newest stage's (a step of that stage).
 */
export function checkpointStep(runDir: string): number | null {
  const link = join(trainedDir(runDir), 'checkpoints', 'last.safetensors');
  if (!existsSync(link)) return null;
  let target: string;
  try {
    target = readlinkSync(link);
  } catch {
    return null;
  }
  const m = /step-(\d+)\.safetensors$/.exec(target);
  return m ? Number(m[1]) : null;
}

export function runStatus(runDir: string): RunStatus {
  const attempt = readAttempt(runDir);
  if (attempt?.status === 'finished' || readJson(join(trainedDir(runDir), SUMMARY_FILE))?.status === 'finished') return 'finished';
  if (attempt?.status === 'failed') return 'failed';
  return resumable(runDir) ? 'partial' : 'not started';
}
