// Training-step benchmark: the fused step graph of config/bench-st.yaml (and bench-s3d.yaml) on onnxruntime-node, fed
// the way `vhssl train` feeds it (same stepper), with a synthetic batch so the data pipeline is not measured here
// (bench/data.ts does that), side by side with the same step in eager PyTorch (bench/torch_step.py --config bench-st or
// bench-s3d; checked against vhssl's losses and gradients by bench/torch-check.ts) when a python3 with torch is there:
// interleaved rounds, each vhssl's STEPS steps then PyTorch's, on the same number of threads. Prints per engine median
// and best step time, clips/s, GFLOP/s, the ratio to ORT's own 1024³ MatMul GFLOP/s measured in this process, and peak RSS;
// the last line is `step clips_per_s=<vhssl> torch_clips_per_s=<pytorch> ratio=<vhssl/pytorch> peak_rss_mb=<vhssl>`, of
// bench-st (of bench-s3d with --only s3d).
// With --steps-per-run 1,4 it instead times bench-st with train.steps_per_run = each K (K = 1: step.onnx once per step;
// K > 1: blocks of K steps in one run of step.loop.onnx), in interleaved rounds of the same number of steps, and prints
// per K the best and median time per step and the ratio to the first K.
// With --scale: bench-st at 8, 16, 32 frames of 64² and 8 frames of 128² (each in its own process), the exponent of the
// step time in frames and the cost of 4× the pixels, vhssl and PyTorch.
// With --infer: the exported encoder's forward (8 clips) against PyTorch's no-grad evaluation forward.
// vhssl runs as `vhssl train` runs it: the script re-executes itself once with src/runtime/node-flags.ts's node flags
// and malloc settings; --plain-node measures it without them (the PyTorch reference keeps its own, bench/torch.ts).
// Run: npx tsx bench/step.ts [--steps N] [--rounds R] [--threads T] [--only st|s3d] [--no-torch] [--scale] [--infer] [--steps-per-run 1,4] [--plain-node]
//   [--torch-compile: the reference under torch.compile, PyTorch 2.x]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../src/config/index.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { buildArtifacts } from '../src/graph/artifacts.ts';
import { countFlops } from '../src/graph/flops.ts';
import { encodeModel } from '../src/graph/onnx.ts';
import { batchFeeds } from '../src/runtime/feeds.ts';
import { createSession } from '../src/runtime/session.ts';
import { initialState, tensorsOf } from '../src/runtime/state.ts';
import { frozenEncoderSession } from '../src/eval/encoder.ts';
import { EMBEDDING } from '../src/graph/names.ts';
import { mallocEnv, NODE_FLAGS } from '../src/runtime/node-flags.ts';
import { FusedStepper, LoopStepper } from '../src/runtime/stepper.ts';
import { Rng } from '../src/rng.ts';
import { readFileSync } from 'node:fs';
import { modelSpec } from '../src/graph/model/from-config.ts';
import { stepGraph } from '../src/graph/model/graphs.ts';
import { NO_TORCH, torchPython, TorchServer, type TorchConfig } from './torch.ts';

const { values: args } = parseArgs({ options: { 'plain-node': { type: 'boolean' }, 'torch-compile': { type: 'boolean' }, steps: { type: 'string' }, threads: { type: 'string' }, only: { type: 'string' }, 'steps-per-run': { type: 'string' }, rounds: { type: 'string' }, 'no-torch': { type: 'boolean' }, scale: { type: 'boolean' }, infer: { type: 'boolean' }, geometry: { type: 'string' } } });
if (!args['plain-node'] && !NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...NODE_FLAGS, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, ...mallocEnv(process.env) } });
  process.exit(r.status ?? 1);
}
const STEPS = Number(args.steps ?? 20);
const threads = Number(args.threads ?? os.availableParallelism());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** ORT's own MatMul speed on this machine: (1024×1024)·(1024×1024), median of 10 runs. */
async function matmulGflops(): Promise<number> {
  const b = new GraphBuilder('matmul');
  b.output(b.MatMul(b.input('a', 'float32', [1024, 1024]), b.input('b', 'float32', [1024, 1024])), 'c');
  const s = await createSession(encodeModel(b.graph).model, { threads });
  const x = new ort.Tensor('float32', new Float32Array(1024 * 1024).fill(0.5), [1024, 1024]);
  const times: number[] = [];
  for (let i = 0; i < 12; i++) {
    const t0 = performance.now();
    await s.run({ a: x, b: x });
    times.push(performance.now() - t0);
  }
  return (2 * 1024 ** 3) / (median(times.slice(2)) / 1000) / 1e9;
}

interface Geometry {
  frames: number;
  size: number;
}

interface Measured {
  clips: number;
  ratio: number;
  torch: { clips: number; ratio: number; peakRssMb: number } | null;
  peakRssMb: number;
}

/**
 * `file`'s fused step on onnxruntime-node, in `rounds` rounds of STEPS steps (after 5 warmup steps); with `python`,
 * each round is followed by STEPS steps of its PyTorch reference (bench/torch_step.py --config `file` in one process
 * kept running, after 3 warmup steps), so both are measured side by side under the same load, both warm. Per-step times over all rounds: median and best.
 */
async function bench(name: string, file: TorchConfig, reference: number, rounds: number, python: string | null, geometry?: Geometry): Promise<Measured> {
  const { config, hash } = loadConfig({ file, set: geometry ? [`data.frames=${geometry.frames}`, `data.height=${geometry.size}`, `data.width=${geometry.size}`] : [] });
  const dir = mkdtempSync(join(os.tmpdir(), 'vhssl-bench-'));
  const m = buildArtifacts(config, hash, join(dir, 'a'));
  // The same step graph as the artifact, in IR form for its shapes.
  const flops = countFlops(stepGraph(modelSpec(config), config.train, config.train.seed).builder.graph);
  const state = initialState(join(dir, 'a'), m);
  const runner = await FusedStepper.open(join(dir, 'a'), m, state, { threads });
  const B = config.train.batch_size;
  const { frames, height, width } = m.video;
  const rng = Rng.fromSeed(1, 'bench');
  const video = new Float32Array(B * frames * height * width * 3).map(() => rng.normal());
  const labels = new Int32Array(B);
  const groups = Object.keys(m.groups);
  const lr = Object.fromEntries(groups.map((g) => [g, 0.01]));
  const steps = Object.fromEntries(groups.map((g) => [g, 0]));
  const total: number[] = [];
  const run: number[] = [];
  const torchMs: number[] = [];
  let torchRss = 0;
  let torchVersion = '';
  const server = python ? TorchServer.start(python, file, { threads, warmup: 3, geometry, compile: args['torch-compile'] }) : null;
  for (let round = 0; round < rounds; round++) {
    const warmup = round === 0 ? 5 : 0;
    for (let i = 0; i < STEPS + warmup; i++) {
      const t0 = performance.now();
      const feeds = batchFeeds(m, rng, { x: video, labels }, null);
      await runner.step([feeds], lr, steps);
      const t1 = performance.now();
      if (i >= warmup) {
        total.push(t1 - t0);
        run.push(runner.lastRunMs);
      }
    }
    if (server) {
      const t = await server.steps(STEPS);
      torchMs.push(...t.steps_ms);
      torchRss = Math.max(torchRss, t.peak_rss_mb);
      torchVersion = t.torch;
    }
  }
  await server?.close();
  await runner.release();
  rmSync(dir, { recursive: true, force: true });
  const med = median(total);
  const clips = (B / med) * 1000;
  const gflops = flops / (med / 1000) / 1e9;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(`${name}: ${file}, batch ${B}, ${(flops / 1e9).toFixed(3)} GFLOP per step (forward + backward, products and convolutions); ${rounds} round${rounds > 1 ? 's' : ''} of ${STEPS} steps`);
  console.log(`  vhssl  step median ${med.toFixed(2)} ms   best ${Math.min(...total).toFixed(2)} ms   → ${clips.toFixed(1)} clips/s   ${gflops.toFixed(1)} GFLOP/s = ${(gflops / reference).toFixed(3)} × ORT's 1024³ MatMul   peak RSS ${peakRssMb.toFixed(0)} MB (this process)`);
  console.log(`         split: graph run ${median(run).toFixed(2)} ms   JS work ${(med - median(run)).toFixed(2)} ms (positions, feeds, state swap)`);
  if (!python) return { clips, ratio: gflops / reference, torch: null, peakRssMb };
  const tmed = median(torchMs);
  const tclips = (B / tmed) * 1000;
  const tgflops = flops / (tmed / 1000) / 1e9;
  console.log(`  torch  step median ${tmed.toFixed(2)} ms   best ${Math.min(...torchMs).toFixed(2)} ms   → ${tclips.toFixed(1)} clips/s   ${tgflops.toFixed(1)} GFLOP/s = ${(tgflops / reference).toFixed(3)} × ORT's 1024³ MatMul   peak RSS ${torchRss.toFixed(0)} MB (PyTorch ${torchVersion}, ${args['torch-compile'] ? 'torch.compile' : 'eager'}, ${threads} threads)`);
  console.log(`  vhssl / PyTorch: median ${(tmed / med).toFixed(3)}×   best ${(Math.min(...torchMs) / Math.min(...total)).toFixed(3)}×`);
  return { clips, ratio: gflops / reference, torch: { clips: tclips, ratio: tgflops / reference, peakRssMb: torchRss }, peakRssMb };
}

/**
 * bench-st at each of `ks` steps per run: per round, every K trains the same number of steps (a multiple of every K)
 * on its own state, the Ks in turn; per K the best and median ms per step over the rounds (the first round is warmup).
 */
async function stepsPerRun(ks: number[], rounds: number): Promise<void> {
  const { config, hash } = loadConfig({ file: 'bench-st', set: [`train.steps_per_run=${Math.max(...ks)}`] });
  const dir = mkdtempSync(join(os.tmpdir(), 'vhssl-bench-'));
  const m = buildArtifacts(config, hash, join(dir, 'a'));
  const B = config.train.batch_size;
  const { frames, height, width } = m.video;
  const rng = Rng.fromSeed(1, 'bench');
  const video = new Float32Array(B * frames * height * width * 3).map(() => rng.normal());
  const groups = Object.keys(m.groups);
  const perRound = ks.reduce((a, k) => (a * k) / gcd(a, k), 1) * Math.max(1, Math.ceil(8 / Math.max(...ks)));
  const steppers = await Promise.all(ks.map((k) => {
    const state = initialState(join(dir, 'a'), m);
    return k === 1 ? FusedStepper.open(join(dir, 'a'), m, state, { threads }) : LoopStepper.open(join(dir, 'a'), m, state, { threads });
  }));
  const times: number[][] = ks.map(() => []);
  let step = 0;
  for (let r = 0; r <= rounds; r++) {
    for (const [i, k] of ks.entries()) {
      const t0 = performance.now();
      for (let done = 0; done < perRound; done += k) {
        const block = Array.from({ length: k }, (_, j) => ({
          micro: [batchFeeds(m, rng, { x: video, labels: new Int32Array(B) }, null)],
          lr: Object.fromEntries(groups.map((g) => [g, 0.01])),
          steps: Object.fromEntries(groups.map((g) => [g, step + j])),
        }));
        await steppers[i]!.block(block);
      }
      if (r > 0) times[i]!.push((performance.now() - t0) / perRound);
    }
    step += perRound;
  }
  for (const s of steppers) await s.release();
  rmSync(dir, { recursive: true, force: true });
  console.log(`steps per run on ${m.configHash} (bench-st, batch ${B}): ${rounds} rounds of ${perRound} steps per K, interleaved`);
  const [best0, med0] = [Math.min(...times[0]!), median(times[0]!)];
  for (const [i, k] of ks.entries()) {
    const [best, med] = [Math.min(...times[i]!), median(times[i]!)];
    console.log(`  K=${String(k).padEnd(3)} step best ${best.toFixed(2)} ms  median ${med.toFixed(2)} ms   ratio to K=${ks[0]}: best ${(best0 / best).toFixed(3)}×  median ${(med0 / med).toFixed(3)}×`);
  }
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

console.log(`onnxruntime-node ${JSON.parse(readFileSync(new URL('../node_modules/onnxruntime-node/package.json', import.meta.url), 'utf8')).version}, ${threads} intra-op threads, ${os.cpus()[0]?.model}`);
if (args['steps-per-run'] !== undefined) {
  const ks = args['steps-per-run'].split(',').map(Number);
  if (ks.some((k) => !Number.isInteger(k) || k < 1)) throw new Error(`--steps-per-run: expected a comma list of positive integers, got ${args['steps-per-run']}`);
  await stepsPerRun(ks, Number(args.rounds ?? 10));
  process.exit(0);
}

/**
 * Cost against clip length and frame size: bench-st at 8, 16 and 32 frames of 64×64 and at 8 frames of 128×128, each
 * point in a process of its own (so its peak RSS is its own), vhssl and PyTorch side by side; the exponent of ms/step
 * in frames (least squares over the three lengths; 1 = linear, as the factorised model should be) and the cost of
 * four times the pixels.
 */
function scale(rounds: number): void {
  const points: Geometry[] = [{ frames: 8, size: 64 }, { frames: 16, size: 64 }, { frames: 32, size: 64 }, { frames: 8, size: 128 }];
  const rows = points.map((g) => {
    const argv = [...process.execArgv, fileURLToPath(import.meta.url), '--only', 'st', '--geometry', `${g.frames},${g.size}`, '--rounds', String(rounds), '--steps', String(STEPS), '--threads', String(threads), ...(args['no-torch'] ? ['--no-torch'] : []), ...(args['torch-compile'] ? ['--torch-compile'] : [])];
    const r = spawnSync(process.execPath, argv, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench-st at ${g.frames} frames of ${g.size}²: ${r.stderr}`);
    const num = (re: RegExp) => Number(re.exec(r.stdout)?.[1] ?? NaN);
    return {
      ...g,
      ms: num(/vhssl {2}step median ([\d.]+) ms/), rss: num(/vhssl .*peak RSS (\d+) MB/),
      torchMs: num(/torch {2}step median ([\d.]+) ms/), torchRss: num(/torch .*peak RSS (\d+) MB/),
    };
  });
  console.log(`bench-st against clip length and frame size (${rounds} rounds of ${STEPS} steps each, median ms/step, peak RSS):`);
  for (const r of rows) {
    console.log(`  ${String(r.frames).padStart(2)} frames of ${r.size}×${r.size}: vhssl ${r.ms.toFixed(1).padStart(7)} ms ${String(r.rss).padStart(5)} MB   PyTorch ${Number.isNaN(r.torchMs) ? '   n/a' : r.torchMs.toFixed(1).padStart(7)} ms ${Number.isNaN(r.torchRss) ? '  n/a' : String(r.torchRss).padStart(5)} MB`);
  }
  const slope = (ys: number[]) => {
    const xs = rows.slice(0, 3).map((r) => Math.log(r.frames));
    const ls = ys.map(Math.log);
    const mx = xs.reduce((a, b) => a + b, 0) / 3;
    const my = ls.reduce((a, b) => a + b, 0) / 3;
    return xs.reduce((a, x, i) => a + (x - mx) * (ls[i]! - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  };
  const three = rows.slice(0, 3);
  console.log(`  exponent in frames (8 → 32): vhssl ${slope(three.map((r) => r.ms)).toFixed(2)}, PyTorch ${slope(three.map((r) => r.torchMs)).toFixed(2)}`);
  console.log(`  64² → 128² (4× the pixels): vhssl ${(rows[3]!.ms / rows[0]!.ms).toFixed(2)}×, PyTorch ${(rows[3]!.torchMs / rows[0]!.torchMs).toFixed(2)}×`);
}

/**
 * Inference: the exported (frozen) encoder of bench-st on onnxruntime-node, a batch of 8 clips, against PyTorch's
 * no-grad evaluation forward of the same encoder, interleaved rounds of STEPS batches.
 */
async function infer(rounds: number, python: string | null): Promise<void> {
  const { config, hash } = loadConfig({ file: 'bench-st' });
  const spec = modelSpec(config);
  const dir = mkdtempSync(join(os.tmpdir(), 'vhssl-bench-'));
  const m = buildArtifacts(config, hash, join(dir, 'a'));
  const params = tensorsOf(initialState(join(dir, 'a'), m));
  const encoder = await frozenEncoderSession(spec, config.train.seed, params, { threads });
  rmSync(dir, { recursive: true, force: true });
  const B = config.train.batch_size;
  const { frames, height, width } = m.video;
  const rng = Rng.fromSeed(1, 'bench');
  const video = new ort.Tensor('float32', new Float32Array(B * frames * height * width * 3).map(() => rng.normal()), [B, frames, height, width, 3]);
  const ours: number[] = [];
  const theirs: number[] = [];
  const server = python ? TorchServer.start(python, 'bench-st', { threads, warmup: 3, infer: true, compile: args['torch-compile'] }) : null;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < STEPS + (r === 0 ? 5 : 0); i++) {
      const t0 = performance.now();
      await encoder.run(video, [EMBEDDING]);
      if (r > 0 || i >= 5) ours.push(performance.now() - t0);
    }
    if (server) theirs.push(...(await server.steps(STEPS)).steps_ms);
  }
  await server?.close();
  await encoder.release();
  console.log(`bench-st encoder, no-grad forward of ${B} clips (${rounds} rounds of ${STEPS}, ${threads} threads):`);
  console.log(`  vhssl (exported encoder, onnxruntime-node)  median ${median(ours).toFixed(2)} ms   best ${Math.min(...ours).toFixed(2)} ms   → ${((B / median(ours)) * 1000).toFixed(0)} clips/s`);
  if (!python) return;
  console.log(`  PyTorch eval forward                        median ${median(theirs).toFixed(2)} ms   best ${Math.min(...theirs).toFixed(2)} ms   → ${((B / median(theirs)) * 1000).toFixed(0)} clips/s`);
  console.log(`  vhssl / PyTorch: median ${(median(theirs) / median(ours)).toFixed(3)}×   best ${(Math.min(...theirs) / Math.min(...ours)).toFixed(3)}×`);
}

if (args.infer) {
  const python = args['no-torch'] ? null : torchPython();
  await infer(Number(args.rounds ?? 5), python);
  process.exit(0);
}

if (args.scale) {
  scale(Number(args.rounds ?? 3));
  process.exit(0);
}

const reference = await matmulGflops();
console.log(`ORT MatMul 1024³: ${reference.toFixed(1)} GFLOP/s`);
const rounds = Number(args.rounds ?? 5);
// The PyTorch reference of both configs (bench/torch_step.py, checked by bench/torch-check.ts --config <config>).
const python = args['no-torch'] ? null : torchPython();
if (!python && !args['no-torch']) console.log(`PyTorch reference skipped: ${NO_TORCH}`);
const geometry = args.geometry ? (([frames, size]) => ({ frames: frames!, size: size! }))(args.geometry.split(',').map(Number)) : undefined;
let last: Measured | null = null;
if (args.only !== 's3d') {
  last = await bench('space-time, linear patch embedding', 'bench-st', reference, rounds, python, geometry);
}
if (args.only !== 'st') {
  const s3d = await bench('space-time, S3D conv stem', 'bench-s3d', reference, rounds, python);
  if (args.only === 's3d') last = s3d;
}
const t = last!.torch;
console.log(`step clips_per_s=${last!.clips.toFixed(1)} torch_clips_per_s=${t ? t.clips.toFixed(1) : 'n/a'} ratio=${t ? (last!.clips / t.clips).toFixed(3) : 'n/a'} peak_rss_mb=${last!.peakRssMb.toFixed(0)}`);
