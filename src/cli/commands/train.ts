// `vhssl train --config FILE [--out RUN_DIR] [--resume] [--ep cpu|cuda|webgpu] [--set key=value]...`
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkNumClasses, curriculumStages, loadConfig, OPTIMIZER_STATE, userError, validateConfig, type Config, type OptimizerState } from '../../config/index.ts';
import { storeRoot } from '../../data/from-config.ts';
import { StoreReader } from '../../data/store.ts';
import { UserError } from '../../errors.ts';
import { writingInto } from '../../fs-errors.ts';
import { checkOutputDir } from '../../out-path.ts';
import { finalEvaluation, SUMMARY_FILE } from '../../eval/final.ts';
import { trainCurriculum } from '../../train/curriculum.ts';
import { parentOf } from '../../train/init-from.ts';
import { train, type TrainResult } from '../../train/trainer.ts';
import { EP_USAGE, epOption, EXECUTION_PROVIDERS, intOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

const options = {
  config: { type: 'string' },
  out: { type: 'string' },
  set: { type: 'string', multiple: true },
  resume: { type: 'boolean' },
  ep: { type: 'string' },
  threads: { type: 'string' },
  'max-steps': { type: 'string' },
  'init-from': { type: 'string' },
  'optimizer-state': { type: 'string' },
} as const;

/**
 * The store a config trains on opens (so that a curriculum's later stage fails before the first starts), and the cls
 * head against its classes: fewer is an error, more a warning.
 */
function checkStore(config: Config): void {
  const root = storeRoot(config);
  const reader = new StoreReader(root);
  const classes = reader.classes.length;
  reader.close();
  if (config.arch.task !== 'cls') return;
  const p = checkNumClasses(config, root, classes);
  if (p?.severity === 'error') throw userError(p);
  if (p) console.error(`vhssl train: warning: ${userError(p).message}`);
}

function optimizerState(v: string | undefined): OptimizerState {
  if (v === undefined) return 'reset';
  if (!(OPTIMIZER_STATE as readonly string[]).includes(v)) throw new UserError('--optimizer-state', `expected ${OPTIMIZER_STATE.join(' or ')}, got "${v}"`);
  return v as OptimizerState;
}

export const command: Command = {
  summary: 'train a model (per-group graphs and optimizers on ONNX Runtime)',
  usage: [
    `vhssl train --config FILE [--out RUN_DIR] [--set key.path=value]... [${EP_USAGE}] [--threads N]`,
    'vhssl train --config FILE --init-from RUN[:CHECKPOINT] [--optimizer-state keep|reset] [...]',
    'vhssl train --resume --out RUN_DIR [--config FILE]',
    '',
    '  --config FILE    a YAML config (a path or a name in config/); with --resume, defaults to RUN_DIR/config.yaml',
    '  --out RUN_DIR    run directory: config.yaml, artifacts/, checkpoints/, metrics.jsonl (default runs/<config hash>)',
    '  --resume         continue the run in RUN_DIR exactly from its last checkpoint',
    `  --ep NAME        execution provider: ${EXECUTION_PROVIDERS.join(', ')} (default cpu); cuda needs the CUDA provider (README, "GPU")`,
    '  --threads N      intra-op threads (default: all cores)',
    '  --max-steps N    stop after N steps in total, over all stages of a curriculum (the schedule still spans the configured epochs)',
    '  --init-from RUN[:CHECKPOINT]  start a new run from another run\'s checkpoint (last by default, or best, or a file):',
    '                   tensors carried by name, learned positional tables resized when frames or size grew, new groups',
    '                   initialised from the seed; RUN_DIR/init.json records what came from where',
    '  --optimizer-state keep|reset  with --init-from: carry the optimizer state of carried groups, or start it at zero (default reset)',
    '',
    'A config with train.curriculum runs its stages in order, each a run in RUN_DIR/stage-<k> started from the stage',
    'before; --resume continues inside the stage it stopped in.',
  ].join('\n'),
  async run(argv) {
    const { values: v } = parseCommandArgs('train', argv, options);
    const ep = epOption(v.ep) ?? 'cpu';
    if (v.resume && !v.out) throw new UserError('--resume', 'needs --out RUN_DIR, the run to continue');
    const file = v.config ?? (v.resume ? join(v.out!, 'config.yaml') : undefined);
    if (!file) throw new UserError('arguments', '--config is required', 'see vhssl train --help');
    if (v.resume && !existsSync(v.out!)) throw new UserError(v.out!, 'no such run directory');
    const { config, hash } = loadConfig({ file, set: v.set ?? [] });
    const runDir = v.out ?? join('runs', hash);
    checkOutputDir(runDir, '--out');
    const stages = curriculumStages(config, (t) => validateConfig(t));
    for (const c of stages.length ? stages.map((s) => s.config) : [config]) {
      checkStore(c);
    }
    if (v['init-from'] !== undefined && v.resume) throw new UserError('--init-from', 'starts a new run; --resume continues one from its own checkpoint', 'drop one of the two');
    if (v['optimizer-state'] !== undefined && v['init-from'] === undefined) throw new UserError('--optimizer-state', 'only applies with --init-from', 'a curriculum sets it with train.curriculum.optimizer_state');
    const init = v['init-from'] === undefined ? undefined : { parent: parentOf(v['init-from']), optimizerState: optimizerState(v['optimizer-state']) };
    const o = { config, hash, runDir, ep, threads: intOption('threads', v.threads), resume: v.resume ?? false, maxSteps: intOption('max-steps', v['max-steps']), init };
    const last = join(runDir, 'checkpoints', 'last.safetensors');
    let r: TrainResult;
    let where = runDir;
    if (stages.length) {
      const c = await writingInto(runDir, () => trainCurriculum(o, stages), () => `continue with vhssl train --resume --out ${runDir}`);
      where = `${runDir} stage ${c.stage.index}/${stages.length} (${c.stage.name})`;
      r = c;
    } else {
      r = await writingInto(runDir, () => train(o), () => (existsSync(last) ? `the last checkpoint is intact: continue with vhssl train --resume --out ${runDir}` : undefined));
    }
    const finalDir = stages.length ? join(runDir, stages[stages.length - 1]!.dir) : runDir;
    // The final evaluation of a finished run, once: again only when it did not complete (no summary.json).
    if (r.finished && (r.trained > 0 || !existsSync(join(finalDir, SUMMARY_FILE)))) {
      await writingInto(finalDir, () => finalEvaluation({ runDir: finalDir, config: stages.length ? stages[stages.length - 1]!.config : config, ep: o.ep, threads: o.threads }));
    }
    console.log(`${where}: ${r.interrupted ? 'interrupted' : r.finished ? 'finished' : 'stopped'} at step ${r.step}${!r.interrupted && !r.finished ? ' (--max-steps)' : ''}; checkpoint ${r.checkpoint}`);
    return r.exitCode;
  },
};
