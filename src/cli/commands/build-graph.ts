// `vhssl build-graph --config FILE [--out DIR] [--set key=value]...`: writes the artifacts directory of a config.
import { dirname, join } from 'node:path';
import { loadConfig } from '../../config/index.ts';
import { writingInto } from '../../fs-errors.ts';
import { buildArtifacts, readManifest } from '../../graph/artifacts.ts';
import { checkOutputDir } from '../../out-path.ts';
import { parseCommandArgs, requireOption } from '../args.ts';
import type { Command } from '../command.ts';

const options = {
  config: { type: 'string' },
  out: { type: 'string' },
  set: { type: 'string', multiple: true },
  force: { type: 'boolean' },
} as const;

export const command: Command = {
  summary: 'write the ONNX graphs, initial parameters and manifest of a config',
  usage: [
    'vhssl build-graph --config FILE [--out DIR] [--set key.path=value]... [--force]',
    '',
    '  --config FILE   a YAML config (a path, or a name in config/ such as bench-st)',
    '  --out DIR       output directory (default artifacts/<config hash>)',
    '  --set k=v       override one config value (repeatable), e.g. --set train.batch_size=16',
    '  --force         rebuild even when DIR already holds the artifacts of this config',
  ].join('\n'),
  async run(argv) {
    const { values: v } = parseCommandArgs('build-graph', argv, options);
    const file = requireOption('build-graph', v.config, 'config');
    const { config, hash } = loadConfig({ file, set: v.set ?? [] });
    const out = v.out ?? join('artifacts', hash);
    // The artifacts are written to a temp sibling of DIR and renamed over it: DIR's parent must take new entries too.
    checkOutputDir(out, '--out');
    checkOutputDir(dirname(out), '--out');
    if (!v.force && readManifest(out, hash)) {
      console.log(`${out}: up to date (config ${hash})`);
      return 0;
    }
    console.error(`building the graphs of config ${hash} (${config.arch.task}, groups ${config.arch.groups.join(', ')}) into ${out}`);
    const t0 = performance.now();
    const m = await writingInto(out, async () => buildArtifacts(config, hash, out, (line) => console.error(line)));
    console.log(`${out}: ${Object.keys(m.graphs).length} graphs, groups ${Object.keys(m.groups).join(', ')} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  },
};
