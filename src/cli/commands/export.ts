// `vhssl export --run RUN_DIR --out FILE.onnx [--levels] [--fp16] [--checkpoint C]`: the frozen encoder as a
// standalone ONNX model (parameters baked in, dynamic batch, metadata saying how to feed it).
import { exportEncoder, INPUT_LAYOUT } from '../../eval/export.ts';
import { loadRun } from '../../eval/run.ts';
import { parseCommandArgs, requireOption } from '../args.ts';
import type { Command } from '../command.ts';

const options = {
  run: { type: 'string' },
  out: { type: 'string' },
  checkpoint: { type: 'string' },
  levels: { type: 'boolean' },
  fp16: { type: 'boolean' },
} as const;

const size = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);

export const command: Command = {
  summary: 'export a run\'s encoder as a standalone ONNX model (dynamic batch, weights baked in)',
  usage: [
    'vhssl export --run RUN_DIR --out FILE.onnx [--checkpoint best|last|PATH] [--levels] [--fp16]',
    '',
    `  input   video: (B, F, H, W, 3) = ${INPUT_LAYOUT}, B dynamic; x = (rgb/255 − mean)/std (see metadata)`,
    '  output  embedding (B, D); with --levels also level.<group> (B, S, D) for every level',
    '  --checkpoint C   best | last | PATH (default: best, else last)',
    '  --fp16           float16 weights, cast to float32 inside the graph (half the file, float32 arithmetic)',
    '  metadata_props: input layout and size, frames, normalisation mean/std, config and its hash, checkpoint, vhssl version',
  ].join('\n'),
  async run(argv) {
    const { values: v } = parseCommandArgs('export', argv, options);
    const runDir = requireOption('export', v.run, 'run');
    const out = requireOption('export', v.out, 'out');
    const run = loadRun(runDir, { checkpoint: v.checkpoint });
    const r = exportEncoder(run, out, { levels: v.levels ?? false, fp16: v.fp16 ?? false });
    const c = run.checkpoint;
    console.log(`${r.path}: ${size(r.bytes)}${r.external ? ` (weights in ${r.external})` : ''}, outputs ${r.outputs.join(', ')}; checkpoint ${c.name}${c.step !== null ? ` (step ${c.step})` : ''}, config ${run.hash}${v.fp16 ? ', float16 weights' : ''}`);
    return 0;
  },
};
