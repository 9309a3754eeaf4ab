// `vhssl train`: the training loop, top to bottom. Each block of steps (up to `train.steps_per_run`, 1 by default, in
// one ORT run): per step a batch and its positions from the seeded stream and learning rates from the schedule; the
// block on the stepper; then per step the finite check, a metrics row and the progress line; after the block, on
// their schedule, k-NN validation and a (good) checkpoint: a block ends wherever one of them follows a step. The run
// directory is written under its lock only.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { saveConfig, type Config, type OptimizerState } from '../config/index.ts';
import { storeRoot } from '../data/from-config.ts';
import { removeStaleTemp, writeFileAtomic } from '../atomic.ts';
import { UserError } from '../errors.ts';
import { Validation } from '../eval/validate.ts';
import { buildArtifacts, readManifest, type Manifest } from '../graph/artifacts.ts';
import { EMA_DECAY } from '../graph/names.ts';
import { f32 } from '../runtime/feeds.ts';
import { ensureProvider, type ExecutionProvider } from '../runtime/session.ts';
import { initialState, stateOf, stateShapes, type State } from '../runtime/state.ts';
import { FusedStepper, GroupStepper, LoopStepper, type StepInput } from '../runtime/stepper.ts';
import { Batches, type StreamPosition } from './batches.ts';
import { advance, Checkpoints, loadCheckpoint, startProgress, stepFile, type Checkpoint, type TrainProgress } from './checkpoint.ts';
import { DivergedError, DivergenceCheck, GoodCheckpoints } from './divergence.ts';
import { INIT_FILE, initFromParent, type Parent } from './init-from.ts';
import { RunLock } from './lock.ts';
import { addStep, clipsPerSecond, knnLine, knnRecord, mainLoss, MetricsLog, namedLosses, NO_THROUGHPUT, Progress, spreadLine, stepRecord } from './metrics.ts';
import { afterStep, blockLength, emaDecay, fusedStep, groupLearningRates, trainingPlan } from './schedule.ts';
import { StopRequests, stopExitCode, type StopSignal } from './stop.ts';

export interface TrainOptions {
  config: Config;
  hash: string;
  runDir: string;
  ep: ExecutionProvider;
  threads?: number;
  resume: boolean;
  /** Stop after this many steps in total (the schedule still spans the configured epochs). */
  maxSteps?: number;
  /** A new run starts from this checkpoint (carried by name, positional tables resized); ignored on --resume. */
  init?: { parent: Parent; optimizerState: OptimizerState };
  log?: (line: string) => void;
}

export interface TrainResult {
  step: number;
  /** Trained every step of its schedule (not stopped by a signal or --max-steps). */
  finished: boolean;
  /** Steps this invocation trained (0 for a --resume of a finished run). */
  trained: number;
  /** Stopped early by a signal, after saving a checkpoint. */
  interrupted: boolean;
  signal: StopSignal | null;
  /** The command's exit status: 0, or 128 + the signal's number (130 for SIGINT, 143 for SIGTERM). */
  exitCode: number;
  checkpoint: string | null;
}

export async function train(o: TrainOptions): Promise<TrainResult> {
  const { config, hash, runDir } = o;
  const t = config.train;
  const log = o.log ?? ((line: string) => console.error(line));
  await checkInput(o);
  using _lock = RunLock.acquire(runDir, log);
  const ckpts = new Checkpoints(join(runDir, 'checkpoints'), t.checkpoint.keep_last);
  const artifactsDir = join(runDir, 'artifacts');
  const built = readManifest(artifactsDir, hash);
  const resumed = resumePoint(o, ckpts, built);
  await using batches = Batches.open(config);
  prepareRunDir(o, ckpts, resumed === null, log);
  const m = built ?? buildLogged(config, hash, artifactsDir, log);

  const state = resumed ? stateOf(resumed.checkpoint.tensors, stateShapes(m).keys()) : initialState(artifactsDir, m);
  let progress = resumed?.checkpoint.progress ?? startProgress(Object.keys(m.groups), batches.position());
  const startStep = progress.step;
  if (!resumed && o.init) progress = { ...progress, groupSteps: { ...progress.groupSteps, ...startFrom(o, state, m, log) } };
  if (resumed) {
    batches.restore(progress);
    log(`resuming from ${resumed.file} at step ${progress.step}`);
  }
  const session = { ep: o.ep, threads: o.threads };
  const stepsPerRun = t.steps_per_run ?? 1;
  await using stepper = !fusedStep(t) ? await GroupStepper.fromArtifacts(artifactsDir, m, state, session)
    : stepsPerRun > 1 ? await LoopStepper.open(artifactsDir, m, state, session) : await FusedStepper.open(artifactsDir, m, state, session);
  const plan = trainingPlan(config, batches.batchesPerEpoch, o.maxSteps);
  await using validation = plan.validateAt.size > 0 ? await Validation.open(config, join(artifactsDir, m.graphs.encoder!.file), session) : null;
  const metrics = new MetricsLog(join(runDir, 'metrics.jsonl'));
  // One row per step: rows past the step this run starts from are written again below.
  metrics.keepUpTo(progress.step);
  const divergence = new DivergenceCheck(m);
  const checkpoints = new GoodCheckpoints(ckpts, divergence, hash, resumed?.file ?? null);
  using bar = new Progress(plan.total, progress.step);
  using stop = new StopRequests(log);
  let window = NO_THROUGHPUT;

  while (progress.step < plan.total && !stop.signal) {
    const t0 = performance.now();
    const block = await nextBlock(batches, m, progress, blockLength(progress.step, plan, t.checkpoint.every_steps, stepsPerRun), (step) => ({
      lr: groupLearningRates(t, Object.keys(m.groups), step, plan.stepsPerEpoch),
      scalars: { [EMA_DECAY]: f32(emaDecay(config.arch.ema, step, plan.total)) },
    }));
    const t1 = performance.now();
    const results = await stepper.block(block.map((b) => b.input));
    // Each step of the block takes an equal share of its time.
    const [ms, wait] = [(performance.now() - t0) / block.length, (t1 - t0) / block.length];
    for (const [k, r] of results.entries()) {
      const { input, clips, position } = block[k]!;
      window = addStep(window, clips, ms, wait);
      const diverged = divergence.step(namedLosses(r.losses), r.gradNorms);
      if (diverged) throw new DivergedError(progress.step + 1, diverged, checkpoints.lastGood);
      progress = advance(progress, Object.keys(input.lr), plan.stepsPerEpoch, position);

      const logNow = progress.step % t.log_every === 0 || progress.step === plan.total;
      if (logNow) metrics.write(stepRecord(progress, window, t.log_every, input.lr, r));
      bar.update(progress.step, mainLoss(r.losses), clipsPerSecond(window), logNow);
      if (logNow) window = NO_THROUGHPUT;
    }

    const next = afterStep(progress.step, plan, t.checkpoint.every_steps);
    if (next === 'validate') {
      // k-NN and each level's spread on the encoder as it is now; the best top-1 checkpoint is kept as `best`.
      const knn = await validation!.knn(state);
      const best = progress.best === null || knn.top1 > progress.best;
      metrics.write(knnRecord(progress, knn));
      log(knnLine(progress.epoch, knn, best));
      log(spreadLine(progress.epoch, knn.levels));
      if (best) progress = { ...progress, best: knn.top1 };
      checkpoints.save(state, progress, { best });
    } else if (next === 'checkpoint') {
      checkpoints.save(state, progress);
    }
  }
  if (!checkpoints.lastGood?.endsWith(stepFile(progress.step))) checkpoints.save(state, progress);
  bar.stop();
  if (stop.signal) log(`checkpoint saved at step ${progress.step}: ${checkpoints.lastGood}; continue with --resume`);
  return { step: progress.step, finished: progress.step === t.epochs * plan.stepsPerEpoch, trained: progress.step - startStep, interrupted: stop.signal !== null, signal: stop.signal, exitCode: stop.signal ? stopExitCode(stop.signal) : 0, checkpoint: checkpoints.lastGood };
}

/** One step of a block: what the stepper takes, the clips of its batch, and the stream's position after it. */
interface BlockStep {
  input: StepInput;
  clips: number;
  position: StreamPosition;
}

/**
 * The next `length` steps from `progress`: each one's batch from the stream, its learning rates and scalars
 * (`schedule` of its 0-based step), and the groups' steps taken before it (a group steps when it has a rate).
 */
async function nextBlock(batches: Batches, m: Manifest, progress: TrainProgress, length: number, schedule: (step: number) => Pick<StepInput, 'lr' | 'scalars'>): Promise<BlockStep[]> {
  const block: BlockStep[] = [];
  const steps = { ...progress.groupSteps };
  for (let k = 0; k < length; k++) {
    const { micro, clips } = await batches.next(m);
    const { lr, scalars } = schedule(progress.step + k);
    block.push({ input: { micro, lr, steps: { ...steps }, scalars }, clips, position: batches.position() });
    for (const g of Object.keys(lr)) steps[g]! += 1;
  }
  return block;
}

/** Everything that can be wrong with the input, checked before the run directory is touched. */
async function checkInput(o: TrainOptions): Promise<void> {
  await ensureProvider(o.ep);
  storeRoot(o.config);
  if (o.config.train.grad_accum > 1 && o.config.arch.task !== 'mine') {
    throw new UserError('config.train.grad_accum', `gradient accumulation runs on the per-group graphs of the mine task, got task ${o.config.arch.task}`);
  }
}

/** The checkpoint a --resume continues from, read and checked before anything is written; null for a new run. */
function resumePoint(o: TrainOptions, ckpts: Checkpoints, m: Manifest | null): { file: string; checkpoint: Checkpoint } | null {
  const file = o.resume ? ckpts.latest() : null;
  if (o.resume && !file) throw new UserError(o.runDir, 'has no checkpoint to resume from', 'start a new run without --resume');
  // A run killed while writing its first checkpoint left only a temp file there: it holds no run yet, and starts again.
  if (!o.resume && file === null && ckpts.latest() !== null) throw new UserError(o.runDir, 'already holds a run', 'continue it with --resume, or choose another --out');
  if (!file) return null;
  if (!m) throw new UserError(join(o.runDir, 'artifacts'), 'holds no artifacts of this config', 'resume with the config the run was started with (its config.yaml)');
  return { file, checkpoint: loadCheckpoint(file, o.hash, stateShapes(m)) };
}

/** Removes what writes of a killed run left behind (no other writer holds the lock); a new run saves its config. */
function prepareRunDir(o: TrainOptions, ckpts: Checkpoints, fresh: boolean, log: (line: string) => void): void {
  const stale = [...ckpts.removeStaleTemp(), ...removeStaleTemp(o.runDir, /config\.yaml|metrics\.jsonl|init\.json|artifacts/)];
  if (stale.length) log(`removed ${stale.length} temp file${stale.length > 1 ? 's' : ''} of an interrupted write: ${stale.join(', ')}`);
  if (!fresh) return;
  mkdirSync(o.runDir, { recursive: true });
  saveConfig(o.config, join(o.runDir, 'config.yaml'));
}

/** Overwrites a new run's state with its parent's, records how in RUN_DIR/init.json; the groups' steps to continue from. */
function startFrom(o: TrainOptions, state: State, m: Manifest, log: (line: string) => void): Record<string, number> {
  const { parent, optimizerState } = o.init!;
  const { record, groupSteps } = initFromParent(state, m, o.config, parent, optimizerState);
  writeFileAtomic(join(o.runDir, INIT_FILE), `${JSON.stringify(record, null, 2)}\n`);
  const parts = [`${record.carried} tensors carried`, record.resized.length ? `${record.resized.length} positional tables resized` : '', record.initialised.length ? `${record.initialised.length} initialised from the seed` : '', `optimizer state ${optimizerState}`];
  log(`starting from ${parent.file} (step ${record.step ?? '?'}): ${parts.filter(Boolean).join(', ')}; see ${join(o.runDir, INIT_FILE)}`);
  return groupSteps;
}

function buildLogged(config: Config, hash: string, dir: string, log: (line: string) => void): Manifest {
  log(`building the graphs of config ${hash} into ${dir}`);
  return buildArtifacts(config, hash, dir);
}
