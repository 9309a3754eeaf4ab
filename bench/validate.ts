// Time per k-NN validation during training (not a test). `artifacts`: what `vhssl train` does, the run's
// encoder.onnx opened once per run and fed the parameters the run holds. `rebuild`: what it did before, per
// validation and split the model spec, the encoder graph with the parameters baked in, and a new session. The two
// alternate (interleaved, the order flipping every round) on the same parameters and store, and must agree.
// Run: npx tsx bench/validate.ts --data DIR [--config tiny] [--rounds 5] [--threads N] [--set key=value]...
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../src/config/index.ts';
import { DEFAULT_TEST_VIEWS, DEFAULT_TRAIN_VIEWS, extractFeatures, labeledLevel, storeOf, type Views } from '../src/eval/features.ts';
import { knnClassify } from '../src/eval/knn.ts';
import { matchEncoder } from '../src/eval/run.ts';
import { evalSplits, Validation } from '../src/eval/validate.ts';
import { buildArtifacts } from '../src/graph/artifacts.ts';
import { modelSpec } from '../src/graph/model/from-config.ts';
import { EMBEDDING } from '../src/graph/names.ts';
import { initialState, tensorsOf, type State } from '../src/runtime/state.ts';

const { values: v } = parseArgs({
  options: { data: { type: 'string' }, config: { type: 'string', default: 'tiny' }, rounds: { type: 'string', default: '5' }, threads: { type: 'string' }, set: { type: 'string', multiple: true, default: [] } },
});
if (!v.data) throw new Error('--data DIR: a prepared store (e.g. vhssl prepare --dataset moving-mnist --videos 80 --frames 8 --size 32)');
const threads = v.threads === undefined ? undefined : Number(v.threads);
const { config, hash } = loadConfig({ file: v.config!, set: [`data.root=${v.data}`, ...v.set!] });

/** The validation as the trainer ran it before: everything rebuilt from the config, per validation and split. */
async function rebuild(c: Config, state: State): Promise<number> {
  const spec = modelSpec(c, 1);
  const store = storeOf(c);
  const splits = evalSplits(store);
  const params = tensorsOf(state);
  const features = (split: string, views: Views) =>
    extractFeatures({ config: c, spec, params: matchEncoder('parameters', spec, c.train.seed, params), split, views, store, threads });
  const train = await features(splits.train, DEFAULT_TRAIN_VIEWS);
  const test = await features(splits.test, DEFAULT_TEST_VIEWS);
  const classes = train.classes.length;
  const r = await knnClassify(labeledLevel(train, EMBEDDING), labeledLevel(test, EMBEDDING), { k: c.eval.knn.k, temperature: c.eval.knn.temperature, numClasses: classes > 0 ? classes : undefined, threads });
  return r[0]!.clip.top1;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const dir = mkdtempSync(join(os.tmpdir(), 'vhssl-bench-validate-'));
try {
  const m = buildArtifacts(config, hash, join(dir, 'artifacts'));
  const state = initialState(join(dir, 'artifacts'), m);
  let t0 = performance.now();
  await using validation = await Validation.open(config, join(dir, 'artifacts', m.graphs.encoder!.file), { threads });
  const openMs = performance.now() - t0;
  const times: Record<'artifacts' | 'rebuild', number[]> = { artifacts: [], rebuild: [] };
  const top1: Record<'artifacts' | 'rebuild', number[]> = { artifacts: [], rebuild: [] };
  for (let round = 0; round < Number(v.rounds); round++) {
    for (const way of round % 2 === 0 ? (['artifacts', 'rebuild'] as const) : (['rebuild', 'artifacts'] as const)) {
      t0 = performance.now();
      top1[way].push(way === 'artifacts' ? (await validation.knn(state)).top1 : await rebuild(config, state));
      times[way].push(performance.now() - t0);
    }
  }
  console.log(`config ${v.config} (${hash}), store ${v.data}, ${threads ?? os.availableParallelism()} intra-op threads, ${v.rounds} rounds, ${os.cpus()[0]?.model}`);
  console.log(`  artifacts: encoder.onnx opened once in ${openMs.toFixed(0)} ms; per validation ${times.artifacts.map((t) => t.toFixed(0)).join(' ')} ms`);
  console.log(`  rebuild:   per validation ${times.rebuild.map((t) => t.toFixed(0)).join(' ')} ms`);
  if (top1.artifacts.join() !== top1.rebuild.join()) console.log(`  top-1 differs: ${top1.artifacts.join(' ')} vs ${top1.rebuild.join(' ')}`);
  console.log(`validate_ms artifacts=${median(times.artifacts).toFixed(0)} rebuild=${median(times.rebuild).toFixed(0)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
