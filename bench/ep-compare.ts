// Provider comparison: trains the same config for N steps with `vhssl train` on a reference execution provider (cpu)
// and on another (webgpu, cuda), from the same seed and data, then prints per checkpoint tensor the max |a − b| of the
// step-N checkpoints (parameters, buffers, optimizer state), the overall maxima, and each provider's ms per step (the
// median over steps 2..N of batch·1000 / clips_per_s, logged every step; step 1 carries session start and, on a GPU,
// shader or kernel compilation, so it is shown apart; with train.steps_per_run K the K steps of a run share one
// throughput).
// Run: npx tsx bench/ep-compare.ts --config tiny --data /path/to/prepared/store [--steps 10] [--ep webgpu] [--ref cpu]
//        [--set key.path=value]... [--out DIR] [--top N] [--threads T] [--ref-threads T]
// The same provider twice with other thread counts (--ep cpu --threads 1 --ref-threads 2) shows whether it is itself
// deterministic.
// WebGPU without a GPU: VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json (Mesa lavapipe; README, "GPU").
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readSafetensors } from '../src/graph/safetensors.ts';
import { stepFile } from '../src/train/checkpoint.ts';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string', default: 'tiny' },
    data: { type: 'string' },
    steps: { type: 'string', default: '10' },
    ep: { type: 'string', default: 'webgpu' },
    ref: { type: 'string', default: 'cpu' },
    set: { type: 'string', multiple: true, default: [] },
    out: { type: 'string' },
    top: { type: 'string' },
    threads: { type: 'string' },
    'ref-threads': { type: 'string' },
  },
});
if (!args.data) throw new Error('--data: the prepared dataset store to train on (vhssl prepare --out …)');
const STEPS = Number(args.steps);
const VHSSL = fileURLToPath(new URL('../bin/vhssl.js', import.meta.url));
const out = args.out ?? mkdtempSync(join(os.tmpdir(), 'vhssl-ep-compare-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Run { ep: string; dir: string; wallS: number; firstMs: number; medianMs: number; dataWaitMs: number }

/** One `vhssl train` of STEPS steps on `ep`, logging every step; its ms per step from metrics.jsonl. */
function train(ep: string, threads: string | undefined, label: string): Run {
  const dir = join(out, label);
  rmSync(dir, { recursive: true, force: true });
  const sets = [
    `data.root=${args.data}`, 'train.epochs=1', `train.steps_per_epoch=${STEPS}`, 'train.log_every=1', 'eval.knn.every=0',
    ...args.set!,
  ];
  const argv = [VHSSL, 'train', '--config', args.config!, ...sets.flatMap((s) => ['--set', s]), '--ep', ep, ...(threads ? ['--threads', threads] : []), '--out', dir];
  process.stderr.write(`$ vhssl ${argv.slice(1).join(' ')}\n`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`vhssl train --ep ${ep} exited with ${r.status ?? r.signal}`);
  const { batch } = JSON.parse(readFileSync(join(dir, 'artifacts', 'manifest.json'), 'utf8')) as { batch: number };
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>).filter((row) => 'clips_per_s' in row);
  const ms = rows.map((row) => (batch * 1000) / row.clips_per_s!);
  return { ep: label, dir, wallS, firstMs: ms[0]!, medianMs: median(ms.length > 1 ? ms.slice(1) : ms), dataWaitMs: median(rows.map((row) => row.data_wait_ms!)) };
}

const label = (ep: string, threads: string | undefined, other: string) => (ep === other ? `${ep}-${threads ?? 'all'}t` : ep);
const labels = [label(args.ref!, args['ref-threads'], args.ep!), label(args.ep!, args.threads, args.ref!)] as const;
const runs = [train(args.ref!, args['ref-threads'], labels[0]), train(args.ep!, args.threads, labels[1] === labels[0] ? `${labels[1]}-b` : labels[1])];
const [a, b] = runs.map((r) => {
  const file = join(r.dir, 'checkpoints', stepFile(STEPS));
  if (!existsSync(file)) throw new Error(`${file}: no step-${STEPS} checkpoint`);
  return readSafetensors(file).tensors;
});
/** What each checkpoint tensor is, from the run's manifest: a parameter, a buffer (running statistics) or optimizer state. */
const manifest = JSON.parse(readFileSync(join(runs[0]!.dir, 'artifacts', 'manifest.json'), 'utf8')) as {
  groups: Record<string, { params: string[]; buffers: string[]; state: string[] }>;
  ema?: { params: string[]; buffers: string[] };
};
const kind = new Map<string, string>();
for (const e of [...Object.values(manifest.groups), ...(manifest.ema ? [{ ...manifest.ema, state: [] }] : [])]) {
  for (const [k, names] of [['parameters', e.params], ['buffers', e.buffers], ['optimizer state', e.state]] as const) for (const n of names) kind.set(n, k);
}

const rows = [...a!.keys()].sort().map((name) => {
  const [x, y] = [a!.get(name)!, b!.get(name)];
  if (!y) return { name, diff: Number.NaN, scale: 0 };
  const xs = Array.from(x.data as ArrayLike<number>, Number);
  const ys = Array.from(y.data as ArrayLike<number>, Number);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < xs.length; i++) {
    diff = Math.max(diff, Math.abs(xs[i]! - ys[i]!));
    scale = Math.max(scale, Math.abs(xs[i]!));
  }
  return { name, diff, scale };
});
const missing = [...rows.filter((r) => Number.isNaN(r.diff)).map((r) => r.name), ...[...b!.keys()].filter((n) => !a!.has(n))];
const sorted = rows.filter((r) => !Number.isNaN(r.diff)).sort((p, q) => q.diff - p.diff);
const top = args.top ? Number(args.top) : sorted.length;

console.log(`\n${args.config}, ${STEPS} steps: step-${STEPS} checkpoints, ${runs[1]!.ep} against ${runs[0]!.ep} (max |a − b| per tensor, max |${runs[0]!.ep}| beside it)`);
const width = Math.max(...sorted.map((r) => r.name.length));
for (const r of sorted.slice(0, top)) console.log(`  ${r.name.padEnd(width)}  ${r.diff.toExponential(2)}  (max ${r.scale.toExponential(2)})`);
if (top < sorted.length) console.log(`  … ${sorted.length - top} more`);
const overall = (keep: (n: string) => boolean) => Math.max(0, ...sorted.filter((r) => keep(r.name)).map((r) => r.diff));
console.log(`overall max |a − b|: ${overall(() => true).toExponential(2)} over ${sorted.length} tensors`);
for (const k of ['parameters', 'buffers', 'optimizer state']) {
  const n = sorted.filter((r) => kind.get(r.name) === k).length;
  if (n) console.log(`  ${k}: ${overall((name) => kind.get(name) === k).toExponential(2)} over ${n} tensors`);
}
if (missing.length) console.log(`in one checkpoint only: ${missing.join(', ')}`);
console.log('\nprovider   ms/step (median, steps 2..N)  step 1 ms  data wait ms/step  wall s (whole command)');
for (const r of runs) console.log(`${r.ep.padEnd(9)}  ${r.medianMs.toFixed(1).padStart(28)}  ${r.firstMs.toFixed(0).padStart(9)}  ${r.dataWaitMs.toFixed(1).padStart(17)}  ${r.wallS.toFixed(1).padStart(21)}`);
console.log(`\nruns in ${out}`);
