// Checks bench/torch_step.py (the PyTorch port of config/bench-st.yaml's and bench-s3d.yaml's training step, the reference
// of bench/step.ts) against vhssl: builds the config's artifacts into a temp folder, draws one batch (a seeded random video and the prediction positions),
// runs the fused step.onnx once on onnxruntime-node from the initial state (lr.<group> = 0.1, step.<group> = 1),
// writes init.safetensors, batch.safetensors and expected.json (the encoder's embedding of the video before the step;
// every loss, monitor and gradient norm output; per
// parameter, BatchNorm buffer and momentum slot: sum, Σx², Σ|x| of its value after the step, and per parameter and
// buffer of its change), then runs `python3 bench/torch_step.py --config <config> --check DIR` and exits with its status.
// Run: npx tsx bench/torch-check.ts [--config bench-st|bench-s3d] [--keep] [--float64: also the step in float64, and each side's
// distance from it for the S3D stem's parameters]   (PYTHON=… picks the interpreter; else bench/torch.ts's torchPython)
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as ort from 'onnxruntime-node';
import { loadConfig } from '../src/config/index.ts';
import { NO_TORCH, TORCH_CONFIGS, TORCH_STEP, torchPython } from './torch.ts';
import { buildArtifacts } from '../src/graph/artifacts.ts';
import { samplePositions } from '../src/graph/model/positions.ts';
import { EMBEDDING, gradNormName, lossName, VIDEO } from '../src/graph/names.ts';
import { EncoderSession } from '../src/runtime/encoder.ts';
import { writeSafetensors } from '../src/graph/safetensors.ts';
import type { Tensor } from '../src/graph/tensor.ts';
import { toOrt } from '../src/runtime/session.ts';
import { initialState } from '../src/runtime/state.ts';
import { FusedStepper } from '../src/runtime/stepper.ts';
import { Rng } from '../src/rng.ts';

const { values: args } = parseArgs({ options: { keep: { type: 'boolean' }, float64: { type: 'boolean' }, config: { type: 'string', default: 'bench-st' } } });
if (!(TORCH_CONFIGS as readonly string[]).includes(args.config)) throw new Error(`--config: expected one of ${TORCH_CONFIGS.join(', ')}, got ${args.config}`);

interface Checksum {
  sum: number;
  sumsq: number;
  sumabs: number;
}

/** Σx, Σx², Σ|x| in float64. */
function checksum(data: ArrayLike<number>): Checksum {
  let sum = 0;
  let sumsq = 0;
  let sumabs = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    sum += x;
    sumsq += x * x;
    sumabs += Math.abs(x);
  }
  return { sum, sumsq, sumabs };
}

const floats = (t: ort.Tensor): Float32Array => t.data as Float32Array;

function pickPython(): string {
  const py = torchPython();
  if (!py) throw new Error(NO_TORCH);
  return py;
}

const { config, hash } = loadConfig({ file: args.config });
const dir = mkdtempSync(join(os.tmpdir(), 'vhssl-torch-check-'));
const art = join(dir, 'artifacts');
const m = buildArtifacts(config, hash, art);
const state = initialState(art, m);
const before = new Map([...state].map(([n, t]) => [n, Float32Array.from(floats(t))]));

// One batch: a normal(0, 1) video (already "normalised") and the positions, each from its own seeded stream.
const B = config.train.batch_size;
const { frames, height, width } = m.video;
const vrng = Rng.fromSeed(7, 'torch-check video');
const video: Tensor = { dtype: 'float32', shape: [B, frames, height, width, 3], data: new Float32Array(B * frames * height * width * 3).map(() => vrng.normal()) };
const positions = samplePositions(m.positions, Rng.fromSeed(7, 'torch-check positions'));
const batch: Record<string, Tensor> = { [VIDEO]: video, ...positions };

// The encoder's embedding of the video at the initial state (artifacts' encoder.onnx, evaluation-mode batch norms).
const encoder = await EncoderSession.open(join(art, m.graphs.encoder!.file), [EMBEDDING], { threads: 1 });
const embedding = Array.from((await encoder.run(toOrt(video), [EMBEDDING], state)).get(EMBEDDING)!.data as Float32Array);
await encoder.release();

const groups = Object.keys(m.groups);
const stepper = await FusedStepper.open(art, m, state, { threads: 1 });
const t0 = performance.now();
const r = await stepper.step(
  [Object.fromEntries(Object.entries(batch).map(([n, t]) => [n, toOrt(t)]))],
  Object.fromEntries(groups.map((g) => [g, 0.1])),
  Object.fromEntries(groups.map((g) => [g, 0])), // steps taken before: step.<group> = 1
);
const runMs = performance.now() - t0;
await stepper.release();

const scalars: Record<string, number> = {};
for (const l of r.losses) scalars[lossName(l)] = l.value;
Object.assign(scalars, r.monitors);
for (const [g, v] of Object.entries(r.gradNorms)) scalars[gradNormName(g)] = v;

// Changes of the parameters and of the BatchNorms' running statistics (the latter mostly keep their initial values:
// their change is the batch statistics' share, which the values alone show only to a few digits).
const changing = new Set(groups.flatMap((g) => [...m.groups[g]!.params, ...m.groups[g]!.buffers]));
const values: Record<string, Checksum> = {};
const deltas: Record<string, Checksum> = {};
for (const [n, t] of state) {
  values[n] = checksum(floats(t));
  if (changing.has(n)) {
    const a = floats(t);
    const b = before.get(n)!;
    deltas[n] = checksum(a.map((x, i) => x - b[i]!));
  }
}

copyFileSync(join(art, m.initial), join(dir, 'init.safetensors'));
writeSafetensors(join(dir, 'batch.safetensors'), batch);
writeFileSync(join(dir, 'expected.json'), JSON.stringify({ scalars, values, deltas, embedding }, null, 1));
console.log(`vhssl step.onnx (onnxruntime-node, 1 thread, first run): ${runMs.toFixed(0)} ms; ${Object.keys(values).length} state tensors; files in ${dir}`);

const py = spawnSync(pickPython(), [TORCH_STEP, '--config', args.config, '--check', dir, ...(args.float64 ? ['--float64'] : [])], { stdio: 'inherit' });
if (!args.keep) rmSync(dir, { recursive: true, force: true });
process.exit(py.status ?? 1);
