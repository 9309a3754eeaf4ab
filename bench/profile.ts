// Where a training step's time goes: ONNX Runtime's own profiler on a config's fused step graph (default bench-s3d),
// fed as `vhssl train` feeds it, with a synthetic batch. After warmup steps it profiles STEPS steps and prints the
// kernel time per operator type and the slowest nodes (median over the profiled steps), as shares of the step's
// summed kernel time. A measurement aid for choosing what to optimise, not a test.
// Run: npx tsx bench/profile.ts [--config bench-s3d] [--steps N] [--threads T] [--top K] [--set key=value ...]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/index.ts';
import { buildArtifacts } from '../src/graph/artifacts.ts';
import { batchFeeds } from '../src/runtime/feeds.ts';
import { initialState } from '../src/runtime/state.ts';
import { FusedStepper } from '../src/runtime/stepper.ts';
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
  const runner = await FusedStepper.open(join(dir, 'a'), m, state, { threads, profile: join(dir, 'profile') });
  const B = config.train.batch_size;
  const { frames, height, width } = m.video;
  const rng = Rng.fromSeed(1, 'bench');
  const video = new Float32Array(B * frames * height * width * 3).map(() => rng.normal());
  const groups = Object.keys(m.groups);
  const walls: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const feeds = batchFeeds(m, rng, { x: video, labels: new Int32Array(B) }, null);
    await runner.step([feeds], Object.fromEntries(groups.map((g) => [g, 0.01])), Object.fromEntries(groups.map((g) => [g, 0])));
    walls.push(runner.lastRunMs);
  }
  await runner.release(); // ORT writes <prefix>_<time>.json as the session ends
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
  // The graph's parts by the first segment of a node's name: forward groups, grad/…, the optimizers.
  const byPart = new Map<string, { us: number; count: number }>();
  for (const n of nodes) {
    const part = n.name.split('/')[0]!;
    const o = byPart.get(part) ?? { us: 0, count: 0 };
    o.us += n.us;
    o.count++;
    byPart.set(part, o);
  }
  console.log('by part of the graph:');
  for (const [part, o] of [...byPart.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 12)) {
    console.log(`  ${part.padEnd(28)} ${(o.us / 1000).toFixed(2).padStart(8)} ms ${pct(o.us)}  ${String(o.count).padStart(4)} nodes`);
  }
  console.log('slowest nodes:');
  for (const n of nodes.sort((a, b) => b.us - a.us).slice(0, Number(args.top ?? 25))) {
    console.log(`  ${(n.us / 1000).toFixed(2).padStart(8)} ms ${pct(n.us)}  ${n.op.padEnd(20)} ${n.name}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
