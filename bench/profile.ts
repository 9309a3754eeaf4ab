// Where a training step's time goes: ONNX Runtime's own profiler on a config's fused step graph (default bench-s3d),
// fed as `vhssl train` feeds it, with a synthetic batch. After warmup steps it profiles STEPS steps and prints the
// kernel time per operator type and the slowest nodes (median over the profiled steps), as shares of the step's
// summed kernel time. A measurement aid for choosing what to optimise, not a test.
// Run: npx tsx bench/profile.ts [--config bench-s3d] [--steps N] [--threads T] [--top K] [--set key=value ...]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../src/config/index.ts';
import { buildArtifacts } from '../src/graph/artifacts.ts';
import { lrName, newName, stepName } from '../src/graph/names.ts';
import { batchFeeds, f32, feedsOf, i64, type Feeds } from '../src/runtime/feeds.ts';
import { initialState } from '../src/runtime/state.ts';
import { Rng } from '../src/rng.ts';

const { values: args } = parseArgs({ options: { config: { type: 'string' }, steps: { type: 'string' }, threads: { type: 'string' }, top: { type: 'string' }, set: { type: 'string', multiple: true } } });
const STEPS = Number(args.steps ?? 5);
const WARMUP = 3;
const threads = Number(args.threads ?? os.availableParallelism());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const { config, hash } = loadConfig({ file: args.config ?? 'bench-s3d', set: args.set ?? [] });
const dir = mkdtempSync(join(os.tmpdir(), 'vhssl-profile-'));
try {
  const m = buildArtifacts(config, hash, join(dir, 'a'));
  const state = initialState(join(dir, 'a'), m);
  const session = await ort.InferenceSession.create(join(dir, 'a', m.graphs.step!.file), {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: join(dir, 'profile'),
  });
  const B = config.train.batch_size;
  const { frames, height, width } = m.video;
  const rng = Rng.fromSeed(1, 'bench');
  const video = new Float32Array(B * frames * height * width * 3).map(() => rng.normal());
  const group: Feeds = {};
  for (const g of Object.keys(m.groups)) {
    group[lrName(g)] = f32(0.01);
    group[stepName(g)] = i64(1);
  }
  const walls: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    const out = await session.run(feedsOf(session.inputNames, batchFeeds(m, rng, { x: video, labels: new Int32Array(B) }, null), group, state));
    walls.push(performance.now() - t0);
    for (const n of state.keys()) if (out[newName(n)]) state.set(n, out[newName(n)]!);
  }
  session.endProfiling(); // writes <prefix>_<time>.json (onnxruntime-node returns no name)
  await session.release();
  const file = join(dir, readdirSync(dir).find((f) => f.startsWith('profile') && f.endsWith('.json'))!);
  interface Event { cat: string; name: string; dur: number; args?: { op_name?: string } }
  const events = (JSON.parse(readFileSync(file, 'utf8')) as Event[]).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  // One run = one pass over the nodes; keep the last STEPS runs.
  const runs: Event[][] = [];
  let current: Event[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    if (seen.has(e.name)) {
      runs.push(current);
      current = [];
      seen.clear();
    }
    seen.add(e.name);
    current.push(e);
  }
  runs.push(current);
  const profiled = runs.slice(-STEPS);
  const perNode = new Map<string, { op: string; us: number[] }>();
  for (const run of profiled) {
    for (const e of run) {
      const name = e.name.replace(/_kernel_time$/, '');
      const entry = perNode.get(name) ?? { op: e.args?.op_name ?? '?', us: [] };
      entry.us.push(e.dur);
      perNode.set(name, entry);
    }
  }
  const nodes = [...perNode.entries()].map(([name, e]) => ({ name, op: e.op, us: median(e.us) }));
  const total = nodes.reduce((a, n) => a + n.us, 0);
  const byOp = new Map<string, { us: number; count: number }>();
  for (const n of nodes) {
    const o = byOp.get(n.op) ?? { us: 0, count: 0 };
    o.us += n.us;
    o.count++;
    byOp.set(n.op, o);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)} %`;
  console.log(`${args.config ?? 'bench-s3d'}: ${nodes.length} nodes, summed kernel time ${(total / 1000).toFixed(1)} ms per step (median per node over ${profiled.length} profiled steps), wall ${median(walls.slice(WARMUP)).toFixed(1)} ms, ${threads} threads`);
  console.log('by operator type:');
  for (const [op, o] of [...byOp.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 20)) {
    console.log(`  ${op.padEnd(28)} ${(o.us / 1000).toFixed(2).padStart(8)} ms ${pct(o.us)}  ${String(o.count).padStart(4)} nodes`);
  }
  console.log('slowest nodes:');
  for (const n of nodes.sort((a, b) => b.us - a.us).slice(0, Number(args.top ?? 25))) {
    console.log(`  ${(n.us / 1000).toFixed(2).padStart(8)} ms ${pct(n.us)}  ${n.op.padEnd(20)} ${n.name}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
