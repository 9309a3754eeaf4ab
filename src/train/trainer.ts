// `vhssl train`: the training loop, readable top to bottom. Each step: a batch from the loader, positions from the
// seeded stream, learning rates from the schedule, one runner step on ORT, then metrics, checks and checkpoints.
// The run directory is written under its lock only (one writer per run).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { saveConfig, type Config } from '../config/index.ts';
import { loaderFromConfig, storeRoot } from '../data/from-config.ts';
import { UserError } from '../errors.ts';
import { buildArtifacts, readManifest, type Manifest } from '../graph/artifacts.ts';
import { evaluateKnn, knnSchedule } from '../eval/validate.ts';
import { EMA_DECAY } from '../graph/model/graphs.ts';
import { DROPOUT_SEED } from '../graph/nn/dropout.ts';
import { samplePositions } from '../graph/model/positions.ts';
import { Rng } from '../rng.ts';
import { Checkpoints, loadCheckpoint, stepFile, type TrainProgress } from './checkpoint.ts';
import { DivergedError, DivergenceCheck } from './divergence.ts';
import { RunLock } from './lock.ts';
import { MetricsLog, Progress } from './metrics.ts';
import { FusedRunner, GroupRunner, type BatchFeeds, type Runner, type State } from './runner.ts';
import { readSafetensors } from './safetensors.ts';
import { learningRate } from './schedule.ts';
import { ensureProvider, fromOrt, toOrt, type ExecutionProvider } from './session.ts';
import { StopRequests, stopExitCode, type StopSignal } from './stop.ts';
import { removeStaleTemp } from '../atomic.ts';

export interface TrainOptions {
  config: Config;
  hash: string;
  runDir: string;
  ep: ExecutionProvider;
  threads?: number;
  resume: boolean;
  /** Stop after this many steps in total (the schedule still spans the configured epochs). */
  maxSteps?: number;
  log?: (line: string) => void;
}

export interface TrainResult {
  step: number;
  /** Stopped early by a signal, after saving a checkpoint. */
  interrupted: boolean;
  signal: StopSignal | null;
  /** The command's exit status: 0, or 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). */
  exitCode: number;
  checkpoint: string | null;
}

/** Which groups train at `step`: all, or (alternation) every other group, flipping every `interval` steps. */
export function activeGroups(groups: readonly string[], step: number, stepsPerEpoch: number, intervalPct: number): string[] {
  if (intervalPct <= 0 || groups.length < 2) return [...groups];
  const interval = Math.max(1, Math.round((stepsPerEpoch * intervalPct) / 100));
  // A pure function of the step: flags and frozen state can never drift apart (in the original they did).
  const phase = Math.floor((step % stepsPerEpoch) / interval) % 2;
  return groups.filter((_, i) => i % 2 === phase);
}

function batchFeeds(m: Manifest, x: Float32Array, labels: Int32Array, positions: Record<string, ort.Tensor>): BatchFeeds {
  const { frames, height, width } = m.video;
  const feeds: BatchFeeds = { video: new ort.Tensor('float32', x, [labels.length, frames, height, width, 3]), ...positions };
  if (m.task === 'cls') feeds.labels = new ort.Tensor('int64', BigInt64Array.from(labels, (l) => BigInt(l)), [labels.length]);
  return feeds;
}

function fail(artifactsDir: string): never {
  throw new UserError(artifactsDir, 'holds no artifacts of this config', 'resume with the config the run was started with (its config.yaml)');
}

/** Names and shapes of everything a checkpoint must hold: parameters, buffers and optimizer state. */
function stateShapes(m: Manifest): Map<string, readonly number[]> {
  const shapes = new Map<string, readonly number[]>();
  for (const g of Object.values(m.graphs)) for (const i of g.inputs) shapes.set(i.name, i.shape as number[]);
  const out = new Map<string, readonly number[]>();
  for (const e of Object.values(m.groups)) for (const n of [...e.params, ...e.buffers, ...e.state]) out.set(n, shapes.get(n)!);
  for (const n of [...(m.ema?.params ?? []), ...(m.ema?.buffers ?? [])]) out.set(n, shapes.get(n)!);
  return out;
}

/** A run's state at step 0: initial parameters and buffers from the artifacts, optimizer state at zero. */
export function initialState(artifactsDir: string, m: Manifest): State {
  const init = readSafetensors(join(artifactsDir, m.initial)).tensors;
  const state: State = new Map();
  for (const [n, shape] of stateShapes(m)) {
    state.set(n, toOrt(init.get(n) ?? { dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }));
  }
  return state;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { config, runDir } = o;
  const log = o.log ?? ((l: string) => console.error(l));
  const t = config.train;

  // Everything that can be wrong with the input is checked before the run directory is touched.
  await ensureProvider(o.ep);
  storeRoot(config);
  if (t.grad_accum > 1 && config.arch.task !== 'mine') throw new UserError('config.train.grad_accum', `gradient accumulation runs on the per-group graphs of the mine task, got task ${config.arch.task}`);
  const lock = RunLock.acquire(runDir, log);
  try {
    return await trainLocked(o, log);
  } finally {
    lock.release();
  }
}

async function trainLocked(o: TrainOptions, log: (line: string) => void): Promise<TrainResult> {
  const { config, hash, runDir } = o;
  const t = config.train;
  const ckpts = new Checkpoints(join(runDir, 'checkpoints'), t.checkpoint.keep_last);
  const resumeFrom = o.resume ? ckpts.latest() : null;
  if (o.resume && !resumeFrom) throw new UserError(runDir, 'has no checkpoint to resume from', 'start a new run without --resume');
  if (!o.resume && existsSync(join(runDir, 'checkpoints'))) throw new UserError(runDir, 'already holds a run', 'continue it with --resume, or choose another --out');

  const artifactsDir = join(runDir, 'artifacts');
  let m = readManifest(artifactsDir, hash);
  // A resumed run's checkpoint is read and checked before anything is written.
  const resumed = resumeFrom ? loadCheckpoint(resumeFrom, hash, stateShapes(m ?? fail(artifactsDir))) : null;
  const loader = loaderFromConfig(config, { split: 'train', train: true });
  // vicreg: a second view of every clip (another temporal crop and augmentation of the same video).
  const second = config.arch.task === 'vicreg' ? loaderFromConfig(config, { split: 'train', train: true, view: '/2' }) : null;
  try {
    // What writes of a killed run left behind: safe to remove, as no other writer can hold this run's lock.
    const stale = [...ckpts.removeStaleTemp(), ...removeStaleTemp(runDir, /config\.yaml|metrics\.jsonl|artifacts/)];
    if (stale.length) log(`removed ${stale.length} temp file${stale.length > 1 ? 's' : ''} of an interrupted write: ${stale.join(', ')}`);
    if (!resumed) {
      mkdirSync(runDir, { recursive: true });
      saveConfig(config, join(runDir, 'config.yaml'));
    }
    if (!m) {
      log(`building the graphs of config ${hash} into ${artifactsDir}`);
      m = buildArtifacts(config, hash, artifactsDir);
    }

    // State: parameters and buffers (initial or from the checkpoint) and optimizer state (zeros or checkpoint).
    const expected = stateShapes(m);
    const state: State = new Map();
    let progress: TrainProgress;
    const groups = Object.keys(m.groups);
    if (resumed) {
      for (const n of expected.keys()) state.set(n, toOrt(resumed.tensors.get(n)!));
      progress = resumed.progress;
      loader.restore(progress.loader);
      second?.restore(progress.loader);
      log(`resuming from ${resumeFrom} at step ${progress.step}`);
    } else {
      for (const [n, t] of initialState(artifactsDir, m)) state.set(n, t);
      progress = { step: 0, epoch: 0, groupSteps: Object.fromEntries(groups.map((g) => [g, 0])), rng: Rng.fromSeed(t.seed, 'positions').state(), loader: loader.state(), best: null };
    }

    const session = { ep: o.ep, threads: o.threads };
    const fused = t.grad_accum === 1 && t.alternation.interval_pct === 0;
    const runner: Runner = fused ? await FusedRunner.create(artifactsDir, m, state, session) : await GroupRunner.create(artifactsDir, m, state, session);
    const stepsPerEpoch = t.steps_per_epoch ?? Math.max(1, Math.floor(loader.batchesPerEpoch / t.grad_accum));
    const total = Math.min(t.epochs * stepsPerEpoch, o.maxSteps ?? Infinity);
    const base = t.optimizer.lr;
    const rng = Rng.fromState(progress.rng);
    const dropoutSeeded = Object.values(m.graphs).some((g) => g.inputs.some((i) => i.name === DROPOUT_SEED));
    const metrics = new MetricsLog(join(runDir, 'metrics.jsonl'));
    // One row per step: rows past the step this run starts from are written again below.
    metrics.keepUpTo(progress.step);
    const divergence = new DivergenceCheck(m);
    const bar = new Progress(total, progress.step);
    const stop = new StopRequests(log);
    // Only good checkpoints are written (finite, parameters bounded), so the last one written is the last good one.
    let saved: string | null = resumeFrom;
    const snapshot = (best = false) => {
      const tensors = new Map([...state].map(([k, v]) => [k, fromOrt(v)]));
      const bad = divergence.checkpoint(tensors);
      if (bad) throw new DivergedError(progress.step, bad, saved);
      return ckpts.save({ progress: { ...progress, rng: rng.state(), loader: loader.state() }, configHash: hash, tensors }, { best });
    };
    // Validation epochs (1-based: after the epoch's last step); a run cut short by --max-steps validates what it reaches.
    const validateAt = config.eval.knn.every > 0 && config.data.root ? knnSchedule(config.eval.knn, Math.min(t.epochs, Math.ceil(total / stepsPerEpoch))) : new Set<number>();
    let window = { clips: 0, ms: 0, wait: 0 };
    try {
      while (progress.step < total && !stop.signal) {
        const t0 = performance.now();
        const micro: BatchFeeds[] = [];
        let clips = 0;
        for (let k = 0; k < t.grad_accum; k++) {
          const batch = await loader.next();
          const other = second ? await second.next() : null;
          clips += batch.labels.length;
          const positions = Object.fromEntries(Object.entries(samplePositions(m.positions, rng)).map(([n, v]) => [n, toOrt(v)]));
          if (dropoutSeeded) positions[DROPOUT_SEED] = new ort.Tensor('int64', new BigInt64Array([BigInt(rng.nextU32())]), []);
          const feeds = batchFeeds(m, batch.x, batch.labels, positions);
          if (other) feeds.video2 = new ort.Tensor('float32', other.x, feeds.video!.dims);
          micro.push(feeds);
        }
        const t1 = performance.now();
        const lr = learningRate(t.schedule, base, { step: progress.step, stepsPerEpoch, epochs: t.epochs });
        const active = activeGroups(groups, progress.step, stepsPerEpoch, t.alternation.interval_pct);
        const lrs = Object.fromEntries(active.map((g) => [g, lr]));
        // The EMA target encoder's decay rises from decay to final_decay along a cosine (BYOL).
        const { decay, final_decay: final } = config.arch.ema;
        const emaDecay = final - ((final - decay) * (Math.cos((Math.PI * progress.step) / Math.max(total, 1)) + 1)) / 2;
        const r = await runner.step(micro, active, lrs, progress.groupSteps, { [EMA_DECAY]: new ort.Tensor('float32', new Float32Array([emaDecay]), []) });
        const t2 = performance.now();

        const diverged = divergence.step(r.losses, r.gradNorms);
        if (diverged) throw new DivergedError(progress.step + 1, diverged, saved);
        for (const g of active) progress.groupSteps[g]! += 1;
        progress.step += 1;
        progress.epoch = Math.floor(progress.step / stepsPerEpoch);
        window = { clips: window.clips + clips, ms: window.ms + (t2 - t0), wait: window.wait + (t1 - t0) };
        const rate = (window.clips / window.ms) * 1000;
        const mainLoss = Object.entries(r.losses).filter(([k]) => k.split('.').length === 2).reduce((s, [, v]) => s + v, 0);
        const logNow = progress.step % t.log_every === 0 || progress.step === total;
        if (logNow) {
          metrics.write({
            step: progress.step, epoch: progress.epoch, clips_per_s: +rate.toFixed(2), data_wait_ms: +(window.wait / t.log_every).toFixed(2),
            ...Object.fromEntries(Object.entries(lrs).map(([g, v]) => [`lr.${g}`, v])),
            ...r.losses,
            ...Object.fromEntries(Object.entries(r.gradNorms).map(([g, v]) => [`grad_norm.${g}`, v])),
            ...r.monitors,
          });
        }
        bar.update(progress.step, mainLoss, rate, logNow);
        if (logNow) window = { clips: 0, ms: 0, wait: 0 };
        const epochEnd = progress.step % stepsPerEpoch === 0;
        if (epochEnd && validateAt.has(progress.epoch)) {
          // k-NN on the encoder as it is now; the checkpoint with the best top-1 is kept as `best` (higher is better).
          const knn = await evaluateKnn(new Map([...state].map(([k, v]) => [k, fromOrt(v)])), config, { ep: o.ep, threads: o.threads });
          metrics.write({ kind: 'knn', step: progress.step, epoch: progress.epoch, top1: knn.top1, top5: knn.top5, level: knn.level });
          log(`epoch ${progress.epoch}: k-NN top-1 ${knn.top1.toFixed(2)}%, top-5 ${knn.top5.toFixed(2)}%${progress.best === null || knn.top1 > progress.best ? ' (best)' : ''}`);
          const best = progress.best === null || knn.top1 > progress.best;
          if (best) progress.best = knn.top1;
          saved = snapshot(best);
        } else if (progress.step % t.checkpoint.every_steps === 0 && progress.step < total) {
          saved = snapshot();
        }
      }
      if (!saved?.endsWith(stepFile(progress.step))) saved = snapshot();
    } finally {
      bar.stop();
      stop.dispose();
    }
    const { signal } = stop;
    if (signal) log(`checkpoint saved at step ${progress.step}: ${saved}; continue with --resume`);
    return { step: progress.step, interrupted: signal !== null, signal, exitCode: signal ? stopExitCode(signal) : 0, checkpoint: saved };
  } finally {
    await loader.close();
    await second?.close();
  }
}
