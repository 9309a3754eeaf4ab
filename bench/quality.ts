// Does training learn motion? Trains each objective on generated Moving MNIST (motion classes: direction × speed; a
// single frame cannot tell them) over several seeds and evaluates the last checkpoint's final embedding on the test
// split, one view per video: weighted k-NN top-1 (k = 20, T = 0.07), linear-probe top-1, and direction sensitivity
// (mean cosine between a clip's embedding and its time-reversed clip's; 1 = blind to the direction of time).
//
//   tsx bench/quality.ts [--out DIR] [--objectives mine,vicreg,cls] [--seeds 0,1,2] [--steps N]
//                        [--videos N] [--size S] [--data-seed N] [--set key=value]... [--set-<objective> key=value]...
//
// Objectives: `mine` is config/moving-mnist.yaml as it is; `vicreg` and `cls` are the same config (encoder, data,
// batch, steps) with the task and the settings that suit them (OBJECTIVES below). `init` is the same encoder at
// initialisation (seed s: the values run s started from), always evaluated: the floor. `cls` is supervised, with
// the same encoder and budget: how far from supervised we are. `--set` applies to every objective, `--set-mine`
// (etc.) to one.
//
// The dataset is prepared once into DIR/data-<videos>v-<size>px-seed<data-seed> and reused; runs go to
// DIR/<objective>-s<seed>, results to DIR/results.jsonl (one row per run). The last line is exactly
//   quality mine=<mean>±<sd> vicreg=<mean>±<sd> cls=<mean>±<sd> init=<mean>±<sd>
// (k-NN top-1 in percent, mean ± sample sd over seeds, for the objectives run).
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/index.ts';
import { directionSensitivity } from '../src/eval/direction.ts';
import { labeledLevel } from '../src/eval/features.ts';
import { knnClassify } from '../src/eval/knn.ts';
import { linearProbe } from '../src/eval/probe.ts';
import { encoderInits, loadRun } from '../src/eval/run.ts';
import { splitFeatures } from '../src/eval/validate.ts';
import { modelSpec } from '../src/graph/model/from-config.ts';
import { EMBEDDING } from '../src/graph/names.ts';
import { writeSafetensors } from '../src/graph/safetensors.ts';

const BIN = fileURLToPath(new URL('../bin/vhssl.js', import.meta.url));

/** Per objective: overrides of config/moving-mnist.yaml. */
const OBJECTIVES: Record<string, string[]> = {
  mine: [],
  // Two views with mild independent crops (stronger ones change the apparent speed, half of the class). SGD lr 0.01
  // for 3000 steps (0.02 ends at the floor; docs/quality.md).
  vicreg: ['arch.task=vicreg', 'train.optimizer={name: sgd, lr: 0.01}'],
  cls: ['arch.task=cls', 'train.optimizer={name: sgd, lr: 0.02}'],
};

const { values: v } = parseArgs({
  options: {
    out: { type: 'string', default: 'artifacts/quality' },
    objectives: { type: 'string', default: 'mine,vicreg,cls' },
    seeds: { type: 'string', default: '0,1,2' },
    steps: { type: 'string', default: '3000' },
    videos: { type: 'string', default: '8000' },
    size: { type: 'string', default: '32' },
    'data-seed': { type: 'string', default: '0' },
    set: { type: 'string', multiple: true, default: [] },
    ...Object.fromEntries(Object.keys(OBJECTIVES).map((o) => [`set-${o}`, { type: 'string' as const, multiple: true as const, default: [] }])),
  },
});

function intList(flag: string, text: string): number[] {
  const xs = text.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`--${flag}: expected a comma list of integers ≥ 0, got "${text}"`);
  return xs;
}
const objectives = v.objectives!.split(',').map((s) => s.trim());
for (const o of objectives) if (!(o in OBJECTIVES)) throw new Error(`--objectives: unknown objective "${o}" (known: ${Object.keys(OBJECTIVES).join(', ')})`);
const seeds = intList('seeds', v.seeds!);
const [steps] = intList('steps', v.steps!);
if (steps! < 100 || steps! % 100 !== 0) throw new Error(`--steps: a multiple of 100 (the config's epoch), got ${steps}`);

function vhssl(args: string[]): void {
  console.error(`$ vhssl ${args.join(' ')}`);
  const t = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`vhssl ${args[0]} failed with exit code ${r.status}`);
  console.error(`  (${((performance.now() - t) / 1000).toFixed(1)} s)`);
}

const out = v.out!;
mkdirSync(out, { recursive: true });
const data = join(out, `data-${v.videos}v-${v.size}px-seed${v['data-seed']}`);
vhssl(['prepare', '--dataset', 'moving-mnist', '--videos', v.videos!, '--frames', '8', '--size', v.size!, '--seed', v['data-seed']!, '--out', data]);

interface Row {
  objective: string;
  seed: number;
  knn: number;
  probe: number;
  /** mean cosine between a test clip's embedding and its time-reversed clip's, after removing the mean embedding */
  reversed: number;
  testClips: number;
}

const ONE_VIEW = { kind: 'multiview', temporal: 1, spatial: 1 } as const;

/** k-NN and linear-probe top-1 of a run's checkpoint, final embedding, one view per video. */
async function evaluate(runDir: string, checkpoint: string): Promise<Omit<Row, 'objective' | 'seed'>> {
  const run = loadRun(runDir, { checkpoint });
  const f = await splitFeatures(run, { trainViews: ONE_VIEW, testViews: ONE_VIEW, cache: false });
  const [train, test] = [labeledLevel(f.train, EMBEDDING), labeledLevel(f.test, EMBEDDING)];
  const numClasses = f.train.classes.length;
  const { k, temperature } = run.config.eval.knn;
  const [knn] = await knnClassify(train, test, { k: [k[0]!], temperature, numClasses });
  // The config's probe at batch 64 (its batch 512 makes too few steps on a few thousand clips).
  const probe = await linearProbe(train, test, { numClasses, epochs: run.config.eval.probe.epochs, lr: run.config.eval.probe.lr, batchSize: 64, seed: run.config.train.seed });
  const reversed = (await directionSensitivity(runDir, { checkpoint })).centred[EMBEDDING]!;
  return { knn: knn!.clip.top1, probe: probe.clip.top1, reversed, testClips: f.test.count };
}

const rows: Row[] = [];
const record = (r: Row) => {
  rows.push(r);
  appendFileSync(join(out, 'results.jsonl'), `${JSON.stringify({ ...r, steps, videos: Number(v.videos), size: Number(v.size), dataSeed: Number(v['data-seed']), set: v.set })}\n`);
  console.error(`  ${r.objective} seed ${r.seed}: k-NN top-1 ${r.knn.toFixed(2)}%, probe top-1 ${r.probe.toFixed(2)}%, reversed-clip cosine ${r.reversed.toFixed(3)} (${r.testClips} test clips)`);
};

for (const seed of seeds) {
  for (const objective of objectives) {
    const runDir = join(out, `${objective}-s${seed}`);
    if (existsSync(runDir)) rmSync(runDir, { recursive: true });
    const sets = [
      `data.root=${data}`, `train.seed=${seed}`, `train.epochs=${steps! / 100}`, 'train.steps_per_epoch=100', 'eval.knn.every=0', 'eval.final=none',
      ...OBJECTIVES[objective]!, ...v.set!, ...((v as unknown as Record<string, string[] | undefined>)[`set-${objective}`] ?? []),
    ];
    vhssl(['train', '--config', 'moving-mnist', ...sets.flatMap((s) => ['--set', s]), '--out', runDir]);
    record({ objective, seed, ...(await evaluate(runDir, 'last')) });
    if (objective === objectives[0]) {
      // The encoder at initialisation: initial values depend on (seed, parameter name) only.
      // A curriculum's encoder is its last stage's.
      const dir = loadRun(runDir, { checkpoint: 'last' }).dir;
      const { config } = loadConfig({ file: join(dir, 'config.yaml') });
      writeSafetensors(join(dir, 'checkpoints', 'init.safetensors'), encoderInits(modelSpec(config, 1), seed), { step: '0', epoch: '0' });
      record({ objective: 'init', seed, ...(await evaluate(dir, 'init')) });
    }
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const pm = (xs: number[]) => `${mean(xs).toFixed(1)}±${sd(xs).toFixed(1)}`;
const names = [...objectives, 'init'];
console.error(`\n${steps} steps, seeds ${seeds.join(',')}, ${v.videos} videos of ${v.size}px (data seed ${v['data-seed']}), ${rows[0]?.testClips} test clips`);
console.error(`${'objective'.padEnd(10)} ${'k-NN top-1'.padEnd(12)} ${'probe top-1'.padEnd(12)} ${'reversed cos'.padEnd(13)} per seed (k-NN)`);
for (const o of names) {
  const mine = rows.filter((r) => r.objective === o);
  console.error(`${o.padEnd(10)} ${pm(mine.map((r) => r.knn)).padEnd(12)} ${pm(mine.map((r) => r.probe)).padEnd(12)} ${mean(mine.map((r) => r.reversed)).toFixed(3).padEnd(13)} ${mine.map((r) => r.knn.toFixed(1)).join(' ')}`);
}
console.log(`quality ${names.map((o) => `${o}=${pm(rows.filter((r) => r.objective === o).map((r) => r.knn))}`).join(' ')}`);
