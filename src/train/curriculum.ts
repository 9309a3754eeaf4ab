// `vhssl train` on a config with `train.curriculum`: the stages in order, each a normal run in RUN_DIR/stage-<k>,
// each after the first starting from the previous stage's last checkpoint (src/train/init-from.ts). RUN_DIR holds
// the whole config and curriculum.json, the record of every stage: its config hash, status and parent checkpoint.
// A killed curriculum resumes inside the stage it was in: that stage's own checkpoints make it exact.
import { join, relative } from 'node:path';
import { removeStaleTemp, writeFileAtomic } from '../atomic.ts';
import { saveConfig, type Stage } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { Checkpoints } from './checkpoint.ts';
import { CURRICULUM_FILE, FORMAT, readCurriculum, type CurriculumRecord } from '../curriculum-record.ts';
import { readParent, type Parent } from './init-from.ts';
import { RunLock } from './lock.ts';
import { train, type TrainOptions, type TrainResult } from './trainer.ts';

export interface CurriculumResult extends TrainResult {
  /** The stage the curriculum stopped in (the last one when finished). */
  stage: Stage;
}

const save = (runDir: string, r: CurriculumRecord) => writeFileAtomic(join(runDir, CURRICULUM_FILE), `${JSON.stringify(r, null, 2)}\n`);

/**
 * Runs the stages not yet finished. `--max-steps` counts the steps of the whole curriculum; `o.init` (--init-from)
 * is where stage 1 starts from.
 */
export async function trainCurriculum(o: TrainOptions, stages: readonly Stage[]): Promise<CurriculumResult> {
  const { runDir } = o;
  const log = o.log ?? ((line: string) => console.error(line));
  const cur = o.config.train.curriculum!;
  using _lock = RunLock.acquire(runDir, log);
  const stale = removeStaleTemp(runDir, /config\.yaml|curriculum\.json/);
  if (stale.length) log(`removed ${stale.length} temp file${stale.length > 1 ? 's' : ''} of an interrupted write: ${stale.join(', ')}`);
  let record = readCurriculum(runDir);
  if (!o.resume && record) throw new UserError(runDir, 'already holds a curriculum', 'continue it with --resume, or choose another --out');
  if (o.resume && !record) throw new UserError(runDir, `has no ${CURRICULUM_FILE} to resume from`, 'start a new run without --resume');
  if (record && record.config_hash !== o.hash) {
    throw new UserError(join(runDir, CURRICULUM_FILE), `made for config ${record.config_hash}, this config is ${o.hash}`, 'resume with the config the curriculum was started with (its config.yaml)');
  }
  if (!record) {
    saveConfig(o.config, join(runDir, 'config.yaml'));
    record = {
      format: FORMAT, config_hash: o.hash, optimizer_state: cur.optimizer_state,
      stages: stages.map((s) => ({ index: s.index, name: s.name, dir: s.dir, config_hash: s.hash, status: 'pending', parent: null, steps: null })),
    };
    save(runDir, record);
  }

  let done = 0;
  let trained = 0;
  let result: TrainResult | null = null;
  for (const [i, stage] of stages.entries()) {
    const rec = record.stages[i]!;
    if (rec.status === 'finished') {
      done += rec.steps ?? 0;
      continue;
    }
    const budget = o.maxSteps === undefined ? undefined : o.maxSteps - done;
    if (budget !== undefined && budget <= 0) break;
    const dir = join(runDir, stage.dir);
    // A stage killed before its first checkpoint starts again (train() clears what the kill left).
    const resume = new Checkpoints(join(dir, 'checkpoints'), 1).latest() !== null;
    const parent = i === 0 ? (o.init?.parent ?? null) : lastCheckpoint(join(runDir, stages[i - 1]!.dir), stages[i - 1]!);
    if (!resume) {
      record.stages[i] = { ...rec, status: 'running', parent: parent && { file: relative(runDir, parent.file), sha256: parent.sha256, step: typeof parent.progress.step === 'number' ? parent.progress.step : null } };
      save(runDir, record);
    }
    log(`curriculum stage ${stage.index}/${stages.length} (${stage.name}): ${resume ? 'resuming' : 'starting'} in ${dir}`);
    result = await train({
      ...o, config: stage.config, hash: stage.hash, runDir: dir, resume, maxSteps: budget,
      init: parent ? { parent, optimizerState: i === 0 ? (o.init?.optimizerState ?? cur.optimizer_state) : cur.optimizer_state } : undefined,
    });
    trained += result.trained;
    if (!result.finished) return { ...result, trained, stage };
    record.stages[i] = { ...record.stages[i]!, status: 'finished', steps: result.step };
    save(runDir, record);
    done += result.step;
  }
  const last = stages[stages.length - 1]!;
  const finished = record.stages.every((s) => s.status === 'finished');
  const stopped = stages.find((_, i) => record.stages[i]!.status !== 'finished') ?? last;
  return result
    ? { ...result, trained, finished, stage: finished ? last : stopped }
    : { step: done, finished, trained, interrupted: false, signal: null, exitCode: 0, checkpoint: new Checkpoints(join(runDir, stopped.dir, 'checkpoints'), 1).latest(), stage: stopped };
}

/** A finished stage's last checkpoint, the next stage's parent. */
function lastCheckpoint(dir: string, stage: Stage): Parent {
  const file = new Checkpoints(join(dir, 'checkpoints'), 1).latest();
  if (!file) throw new UserError(dir, `stage ${stage.index} (${stage.name}) is marked finished but has no checkpoint`, 'was the stage directory changed by hand? remove it and resume to train the stage again');
  return readParent(file, stage.config);
}
