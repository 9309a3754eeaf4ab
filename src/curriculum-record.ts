// RUN_DIR/curriculum.json: the record of a curriculum run's stages (src/train/curriculum.ts), read by whatever needs
// to find a curriculum run's newest checkpoint.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from './errors.ts';

export const CURRICULUM_FILE = 'curriculum.json';
export const FORMAT = 'vhssl-curriculum/1';

export interface StageRecord {
  index: number;
  name: string;
  dir: string;
  config_hash: string;
  status: 'pending' | 'running' | 'finished';
  /** The checkpoint the stage started from, relative to the curriculum's directory when inside it (null: the seed's initialisation). */
  parent: { file: string; sha256: string; step: number | null } | null;
  /** Steps the stage trained, once finished. */
  steps: number | null;
}

export interface CurriculumRecord {
  format: typeof FORMAT;
  config_hash: string;
  optimizer_state: string;
  stages: StageRecord[];
}

/** RUN_DIR/curriculum.json, or null where RUN_DIR is not a curriculum. */
export function readCurriculum(runDir: string): CurriculumRecord | null {
  const file = join(runDir, CURRICULUM_FILE);
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as CurriculumRecord;
    if (r.format !== FORMAT || !Array.isArray(r.stages)) throw new Error(`format "${String(r.format)}"`);
    return r;
  } catch (e) {
    throw new UserError(file, `not a curriculum record: ${(e as Error).message}`);
  }
}

/** The newest checkpoint of a curriculum run: its latest stage that has one; null when none has. */
export function curriculumCheckpointDir(runDir: string, r: CurriculumRecord): string | null {
  for (const s of [...r.stages].reverse()) if (existsSync(join(runDir, s.dir, 'checkpoints', 'last.safetensors'))) return join(runDir, s.dir);
  return null;
}

