// Does training help? A short CPU training run on Moving MNIST (motion classes: a single frame cannot tell them), then
// k-NN top-1 (k = the config's first k, T = 0.07, clip level, test split) of the trained encoder against the same
// encoder at initialisation (same seed, same parameter names: the values the run started from).
//
//   tsx bench/quality.ts [--out DIR] [--videos N] [--epochs E] [--set key=value]...
//
// Leaves the dataset in DIR/data (reused by later runs), the trained run in DIR/run (its init checkpoint in
// DIR/run/checkpoints/init.safetensors). The last line is exactly `knn_top1 trained=<percent> init=<percent>`.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/index.ts';
import { encoderInits } from '../src/eval/run.ts';
import { evaluateKnn } from '../src/eval/validate.ts';
import { modelSpec } from '../src/graph/model/from-config.ts';
import { writeSafetensors } from '../src/graph/safetensors.ts';

const BIN = fileURLToPath(new URL('../bin/vhssl.js', import.meta.url));

const { values: v } = parseArgs({
  options: {
    out: { type: 'string', default: 'artifacts/quality' },
    videos: { type: 'string', default: '1000' },
    epochs: { type: 'string', default: '10' },
    set: { type: 'string', multiple: true, default: [] },
  },
});
const out = v.out!;
const data = join(out, 'data');
const runDir = join(out, 'run');

function vhssl(args: string[]): void {
  console.error(`$ vhssl ${args.join(' ')}`);
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`vhssl ${args[0]} failed with exit code ${r.status}`);
  console.error(`  (${((performance.now() - t) / 1000).toFixed(1)} s)`);
}

vhssl(['prepare', '--dataset', 'moving-mnist', '--videos', v.videos!, '--frames', '8', '--size', '32', '--seed', '0', '--out', data]);
if (existsSync(runDir)) rmSync(runDir, { recursive: true });
const sets = [`data.root=${data}`, `train.epochs=${v.epochs}`, ...v.set!];
vhssl(['train', '--config', 'moving-mnist', ...sets.flatMap((s) => ['--set', s]), '--out', runDir]);

// The encoder at initialisation: initial values depend on (seed, parameter name) only.
const { config } = loadConfig({ file: join(runDir, 'config.yaml') });
writeSafetensors(join(runDir, 'checkpoints', 'init.safetensors'), encoderInits(modelSpec(config, 1), config.train.seed), { step: '0', epoch: '0' });

const t = performance.now();
const trained = await evaluateKnn(runDir, { checkpoint: 'last' });
const init = await evaluateKnn(runDir, { checkpoint: 'init' });
console.error(`k-NN (${((performance.now() - t) / 1000).toFixed(1)} s for both), k=${trained.results[0]!.k}, ${trained.results[0]!.clip.count} test clips:`);
for (const [name, r] of [['trained', trained], ['init', init]] as const) {
  console.error(`  ${name.padEnd(8)} top-1 ${r.top1.toFixed(2)}%  top-5 ${r.top5.toFixed(2)}%`);
}
console.log(`knn_top1 trained=${trained.top1.toFixed(2)} init=${init.top1.toFixed(2)}`);
