// `vhssl train --config FILE [--out RUN_DIR] [--resume] [--ep cpu|cuda|webgpu] [--set key=value]...`
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkNumClasses, loadConfig, userError, type Config } from '../../config/index.ts';
import { storeRoot } from '../../data/from-config.ts';
import { StoreReader } from '../../data/store.ts';
import { UserError } from '../../errors.ts';
import { writingInto } from '../../fs-errors.ts';
import { checkOutputDir } from '../../out-path.ts';
import { train } from '../../train/trainer.ts';
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
} as const;

/** The cls head against the classes of the store it trains on: fewer is an error, more a warning. */
function checkClasses(config: Config): void {
  if (config.arch.task !== 'cls') return;
  const root = storeRoot(config);
  const reader = new StoreReader(root);
  const classes = reader.classes.length;
  reader.close();
  const p = checkNumClasses(config, root, classes);
  if (p?.severity === 'error') throw userError(p);
  if (p) console.error(`vhssl train: warning: ${userError(p).message}`);
}

export const command: Command = {
  summary: 'train a model (per-group graphs and optimizers on ONNX Runtime)',
  usage: [
    `vhssl train --config FILE [--out RUN_DIR] [--set key.path=value]... [${EP_USAGE}] [--threads N]`,
    'vhssl train --resume --out RUN_DIR [--config FILE]',
    '',
    '  --config FILE    a YAML config (a path or a name in config/); with --resume, defaults to RUN_DIR/config.yaml',
    '  --out RUN_DIR    run directory: config.yaml, artifacts/, checkpoints/, metrics.jsonl (default runs/<config hash>)',
    '  --resume         continue the run in RUN_DIR exactly from its last checkpoint',
    `  --ep NAME        execution provider: ${EXECUTION_PROVIDERS.join(', ')} (default cpu); cuda needs the CUDA provider (README, "GPU")`,
    '  --threads N      intra-op threads (default: all cores)',
    '  --max-steps N    stop after N steps in total (the schedule still spans the configured epochs)',
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
    checkClasses(config);
    const last = join(runDir, 'checkpoints', 'last.safetensors');
    const r = await writingInto(runDir, () => train({
      config, hash, runDir, ep,
      threads: intOption('threads', v.threads),
      resume: v.resume ?? false,
      maxSteps: intOption('max-steps', v['max-steps']),
    }), () => (existsSync(last) ? `the last checkpoint is intact: continue with vhssl train --resume --out ${runDir}` : undefined));
    console.log(`${runDir}: ${r.interrupted ? 'interrupted' : 'finished'} at step ${r.step}; checkpoint ${r.checkpoint}`);
    return r.exitCode;
  },
};
