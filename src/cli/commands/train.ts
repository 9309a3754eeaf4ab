// `vhssl train --config FILE [--out RUN_DIR] [--resume] [--ep cpu|cuda|webgpu] [--set key=value]...`
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../config/index.ts';
import { UserError } from '../../errors.ts';
import type { ExecutionProvider } from '../../train/session.ts';
import { train } from '../../train/trainer.ts';
import { intOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../main.ts';

const options = {
  config: { type: 'string' },
  out: { type: 'string' },
  set: { type: 'string', multiple: true },
  resume: { type: 'boolean' },
  ep: { type: 'string' },
  threads: { type: 'string' },
  'max-steps': { type: 'string' },
} as const;

const EPS = ['cpu', 'cuda', 'webgpu'] as const;


export const command: Command = {
  summary: 'train a model (per-group graphs and optimizers on ONNX Runtime)',
  usage: [
    'vhssl train --config FILE [--out RUN_DIR] [--set key.path=value]... [--ep cpu|cuda|webgpu] [--threads N]',
    'vhssl train --resume --out RUN_DIR [--config FILE]',
    '',
    '  --config FILE    a YAML config (a path or a name in config/); with --resume, defaults to RUN_DIR/config.yaml',
    '  --out RUN_DIR    run directory: config.yaml, artifacts/, checkpoints/, metrics.jsonl (default runs/<config hash>)',
    '  --resume         continue the run in RUN_DIR exactly from its last checkpoint',
    '  --ep NAME        execution provider (default cpu); cuda needs the CUDA provider (README, "GPU")',
    '  --threads N      intra-op threads (default: all cores)',
    '  --max-steps N    stop after N steps in total (the schedule still spans the configured epochs)',
  ].join('\n'),
  async run(argv) {
    const { values: v } = parseCommandArgs('train', argv, options);
    const ep = v.ep ?? 'cpu';
    if (!(EPS as readonly string[]).includes(ep)) throw new UserError('--ep', `unknown execution provider "${ep}"`, `use one of ${EPS.join(', ')}`);
    if (v.resume && !v.out) throw new UserError('--resume', 'needs --out RUN_DIR, the run to continue');
    const file = v.config ?? (v.resume ? join(v.out!, 'config.yaml') : undefined);
    if (!file) throw new UserError('arguments', '--config is required', 'see vhssl train --help');
    if (v.resume && !existsSync(v.out!)) throw new UserError(v.out!, 'no such run directory');
    const { config, hash } = loadConfig({ file, set: v.set ?? [] });
    const runDir = v.out ?? join('runs', hash);
    const r = await train({
      config, hash, runDir,
      ep: ep as ExecutionProvider,
      threads: intOption('threads', v.threads),
      resume: v.resume ?? false,
      maxSteps: intOption('max-steps', v['max-steps']),
    });
    console.log(`${runDir}: ${r.interrupted ? 'interrupted' : 'finished'} at step ${r.step}; checkpoint ${r.checkpoint}`);
    return r.interrupted ? 130 : 0;
  },
};
