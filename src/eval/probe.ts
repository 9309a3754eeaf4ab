// Linear probe (or a one-hidden-layer MLP head) on frozen features, trained with vhssl's own ONNX graphs: the head's
// forward + NLL of log-softmax, its backward from `gradients()`, and an SGD (Nesterov, momentum 0.9) optimizer graph,
// stepped by the runtime's stepper with a cosine learning rate. Test accuracy per clip (argmax) and per video (argmax
// of the mean log-probabilities of its views), top-1 and top-5.
// It trains to convergence on a few hundred clips as on a million:
// - the features are whitened with the train split's statistics (`whitener`): frozen SSL features keep most of their
//   variance in a few directions, and on per-dimension standardised features alone SGD still lowers the loss after
//   10 000 steps (the quick start's run: 27 % after 1000 steps, 35 % after 10 000; whitened: 43 % after 2000, as after
//   10 000);
// - `probePlan` takes at least PROBE_MIN_STEPS_PER_EPOCH mini-batches per epoch (a smaller batch on a small set) and
//   at least PROBE_MIN_STEPS steps (more epochs than asked on a small set).
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';
import { gradients } from '../graph/autodiff/index.ts';
import { GraphBuilder } from '../graph/builder.ts';
import type { Graph, Value } from '../graph/ir.ts';
import { EMBEDDING, FEATURES, gradName, LABELS, LOGP, lossName, MAPPED } from '../graph/names.ts';
import { linear, type Ctx } from '../graph/nn/layers.ts';
import { encodeModel } from '../graph/onnx.ts';
import { prune } from '../graph/prune.ts';
import { tensor, type Tensor } from '../graph/tensor.ts';
import { Rng } from '../rng.ts';
import { cosine } from '../runtime/schedule.ts';
import { createSession, runChecked, toOrt, type ExecutionProvider } from '../runtime/session.ts';
import { tensorsOf } from '../runtime/state.ts';
import { graphStepper, type TrainingGraph } from '../runtime/stepper.ts';
import { DEFAULT_TEST_VIEWS, DEFAULT_TRAIN_VIEWS, labeledLevel, viewsText } from './features.ts';
import { checkLabeled, type Accuracy, type LabeledFeatures } from './knn.ts';
import { progressBar } from './progress.ts';
import type { Run } from './run.ts';
import { splitFeatures, type FeatureOptions } from './validate.ts';

export interface ProbeOptions {
  numClasses?: number;
  /** at least this many epochs (more when needed for PROBE_MIN_STEPS) */
  epochs?: number;
  lr?: number;
  /** at most this many clips per step (fewer when needed for PROBE_MIN_STEPS_PER_EPOCH) */
  batchSize?: number;
  /** hidden width of an MLP head (Relu); absent: linear */
  hidden?: number;
  seed?: number;
  ep?: ExecutionProvider;
  threads?: number;
  progress?: boolean;
}

export interface ProbeResult {
  clip: Accuracy;
  video: Accuracy;
  /** mean training loss per epoch */
  losses: number[];
  /** the head's parameters, on the features mapped by `whitener` */
  head: Map<string, Tensor>;
  /** whether the features were whitened (else standardised per dimension: more than WHITEN_MAX_DIM) */
  whitened: boolean;
  /** the steps it took */
  plan: ProbePlan;
}

/** The probe's defaults (config/eval.yaml's eval.probe holds the same). */
export const PROBE_DEFAULTS = { epochs: 15, lr: 0.1, batchSize: 512 } as const;
/** The fewest SGD steps of a probe, whatever the size of the train set. */
export const PROBE_MIN_STEPS = 2000;
/** The fewest steps per epoch: the batch is at most 1/PROBE_MIN_STEPS_PER_EPOCH of the train set. */
export const PROBE_MIN_STEPS_PER_EPOCH = 10;

export interface ProbePlan {
  batchSize: number;
  stepsPerEpoch: number;
  epochs: number;
  /** epochs × stepsPerEpoch */
  steps: number;
}

/**
 * The steps a probe on `n` clips takes: B = min(batchSize, ⌊n / PROBE_MIN_STEPS_PER_EPOCH⌋) (at least 1), ⌊n/B⌋
 * steps per epoch (a fresh permutation each epoch, the last partial batch dropped), and the epochs raised from
 * `epochs` until there are PROBE_MIN_STEPS steps.
 */
export function probePlan(n: number, o: { epochs: number; batchSize: number }): ProbePlan {
  const batchSize = Math.max(1, Math.min(o.batchSize, Math.floor(n / PROBE_MIN_STEPS_PER_EPOCH)));
  const stepsPerEpoch = Math.floor(n / batchSize);
  const epochs = Math.max(o.epochs, Math.ceil(PROBE_MIN_STEPS / stepsPerEpoch));
  return { batchSize, stepsPerEpoch, epochs, steps: epochs * stepsPerEpoch };
}

/** logits (B, K) of the head on `x` (B, D). */
function head(c: Ctx, x: Value, K: number, hidden?: number): Value {
  return c.b.scope('head', () => {
    const h = hidden ? c.b.Relu(linear(c, 'fc1', x, hidden)) : x;
    return linear(c, hidden ? 'fc2' : 'linear', h, K, { std: 0.01 });
  });
}

function ctx(name: string, seed: number): Ctx {
  const b = new GraphBuilder(name, { rng: Rng.fromSeed(seed, 'init') });
  return { b, rng: Rng.fromSeed(seed, 'graph'), mode: 'train', updates: [] };
}

/** The probe's optimizer group (its loss output is `loss.probe`). */
export const PROBE = 'probe';

/** `features` (B, D), `labels` (B) int64 → `loss.probe`, `<param>.grad`. */
export function probeTrainGraph(B: number, D: number, K: number, o: { hidden?: number; seed?: number } = {}): TrainingGraph {
  const c = ctx('probe.train', o.seed ?? 0);
  const { b } = c;
  const x = b.input(FEATURES, 'float32', [B, D]);
  const y = b.input(LABELS, 'int64', [B]);
  const logp = b.LogSoftmax(head(c, x, K, o.hidden), -1);
  const loss = b.Neg(b.ReduceMean(b.GatherElements(logp, b.Unsqueeze(y, [1]), 1), undefined, false));
  b.output(loss, lossName({ group: PROBE, term: null }));
  const params = [...b.params];
  gradients(b, loss, params.map((p) => p.value)).forEach((g, i) => b.output(g!, gradName(params[i]!.value.name)));
  prune(b);
  return { graph: b.graph, params, buffers: [] };
}

/** `features` (B, D), B dynamic, head parameters as inputs → `logp` (B, K). */
function probeInferGraph(D: number, K: number, hidden?: number) {
  const c = ctx('probe.infer', 0);
  c.b.output(c.b.LogSoftmax(head({ ...c, mode: 'infer' }, c.b.input(FEATURES, 'float32', ['B', D]), K, hidden), -1), LOGP);
  return c.b.graph;
}

/** log-probabilities (N, K) of the head with parameters `params` on features `x` (N, D). */
export async function headLogProbs(x: Float32Array, D: number, K: number, params: ReadonlyMap<string, Tensor>, o: { hidden?: number; ep?: ExecutionProvider; threads?: number } = {}): Promise<Float32Array> {
  const session = await createSession(encodeModel(probeInferGraph(D, K, o.hidden)).model, { ep: o.ep, threads: o.threads });
  try {
    const feeds: Record<string, ort.Tensor> = { [FEATURES]: new ort.Tensor('float32', x, [x.length / D, D]) };
    for (const name of session.inputNames) if (name !== FEATURES) feeds[name] = toOrt(params.get(name)!);
    const out = await runChecked(session, feeds);
    return out[LOGP]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Per-dimension mean and 1/std (std floored at 1e-6) of (N, D) rows. */
function moments(x: Float32Array, D: number): { mean: Float32Array; inv: Float32Array } {
  const n = x.length / D;
  const mean = new Float64Array(D);
  const sq = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) mean[d]! += x[i * D + d]!;
  for (let d = 0; d < D; d++) mean[d]! /= n;
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) sq[d]! += (x[i * D + d]! - mean[d]!) ** 2;
  return { mean: Float32Array.from(mean), inv: Float32Array.from(sq, (s) => 1 / Math.max(Math.sqrt(s / n), 1e-6)) };
}

/** Added to the diagonal of the correlation matrix before whitening: directions with less variance are damped. */
export const WHITEN_RIDGE = 1e-3;
/**
 * Features of more dimensions are standardised per dimension only (a `--pool flat` level can have 10⁵): the
 * (D, D) correlation matrix and its O(D³) factorisation stay small.
 */
export const WHITEN_MAX_DIM = 2048;

/**
 * `features` (N, D), N dynamic → `mapped`: (x − μ)·Mᵀ with `mt` = Mᵀ (D, D) constant, or (x − μ)⊙m with `mt` the
 * diagonal m (D) of a diagonal M.
 */
function affineGraph(mean: Float32Array, mt: Float32Array, D: number): Graph {
  const b = new GraphBuilder('probe.whiten');
  const x = b.Sub(b.input(FEATURES, 'float32', ['N', D]), b.constant(tensor('float32', [D], mean)));
  b.output(mt.length === D ? b.Mul(x, b.constant(tensor('float32', [D], mt))) : b.MatMul(x, b.constant(tensor('float32', [D, D], mt))), MAPPED);
  return b.graph;
}

/** `features` (N, D), N dynamic → `mapped`: sᵀs (D, D), s = (x − μ)/σ, the correlation matrix times N. */
function correlationGraph(mean: Float32Array, inv: Float32Array, D: number): Graph {
  const b = new GraphBuilder('probe.correlation');
  const s = b.Mul(b.Sub(b.input(FEATURES, 'float32', ['N', D]), b.constant(tensor('float32', [D], mean))), b.constant(tensor('float32', [D], inv)));
  b.output(b.MatMul(b.Transpose(s, [1, 0]), s), MAPPED);
  return b.graph;
}

/** Runs a graph of `features` (N, D) → `mapped` once over `x`. */
async function mapRows(graph: Graph, x: Float32Array, D: number, o: { ep?: ExecutionProvider; threads?: number }): Promise<Float32Array> {
  const session = await createSession(encodeModel(graph).model, { ep: o.ep, threads: o.threads });
  try {
    const out = await runChecked(session, { [FEATURES]: new ort.Tensor('float32', x, [x.length / D, D]) });
    return out[MAPPED]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/**
 * Lower-triangular L⁻¹ (D, D) row-major, where LLᵀ = A (symmetric positive definite, float64, row-major), by the
 * Cholesky factorisation and forward substitution.
 */
export function inverseCholesky(a: Float64Array, D: number): Float64Array {
  const l = new Float64Array(D * D);
  for (let j = 0; j < D; j++) {
    let d = a[j * D + j]!;
    for (let k = 0; k < j; k++) d -= l[j * D + k]! ** 2;
    if (!(d > 0)) throw new Error(`inverseCholesky: the matrix is not positive definite (pivot ${j} is ${d})`);
    const ljj = Math.sqrt(d);
    l[j * D + j] = ljj;
    for (let i = j + 1; i < D; i++) {
      let s = a[i * D + j]!;
      for (let k = 0; k < j; k++) s -= l[i * D + k]! * l[j * D + k]!;
      l[i * D + j] = s / ljj;
    }
  }
  // L X = I, column by column: X[i][c] = (δ_ic − Σ_{k<i} L[i][k] X[k][c]) / L[i][i], zero above the diagonal.
  const inv = new Float64Array(D * D);
  for (let c = 0; c < D; c++) {
    for (let i = c; i < D; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * D + k]! * inv[k * D + c]!;
      inv[i * D + c] = s / l[i * D + i]!;
    }
  }
  return inv;
}

/**
 * The probe's input map, fitted on the train rows `x` (N, D): per-dimension standardisation s = (x − μ)/σ, then
 * whitening w = L⁻¹s with LLᵀ = R + εI, R = sᵀs/N the correlation matrix and ε = WHITEN_RIDGE. As one affine map
 * w = M(x − μ), M = L⁻¹·diag(1/σ), run on rows as (x − μ)·Mᵀ by an ONNX graph (as is sᵀs). M is invertible, so a
 * linear head on w is a linear head on x; SGD on w is well conditioned (its covariance is ≈ I). Beyond
 * WHITEN_MAX_DIM dimensions, M = diag(1/σ) (`whitened` false).
 */
export async function whitener(x: Float32Array, D: number, o: { ep?: ExecutionProvider; threads?: number } = {}): Promise<{ map: (y: Float32Array) => Promise<Float32Array>; whitened: boolean }> {
  const n = x.length / D;
  const { mean, inv } = moments(x, D);
  const whitened = D <= WHITEN_MAX_DIM;
  let mt = inv;
  if (whitened) {
    const sts = await mapRows(correlationGraph(mean, inv, D), x, D, o);
    const li = inverseCholesky(Float64Array.from(sts, (v, i) => v / n + (i % (D + 1) === 0 ? WHITEN_RIDGE : 0)), D);
    // Mᵀ[d][e] = L⁻¹[e][d] / σ[d], zero for e < d (L⁻¹ is lower triangular)
    mt = new Float32Array(D * D);
    for (let d = 0; d < D; d++) for (let e = d; e < D; e++) mt[d * D + e] = li[e * D + d]! * inv[d]!;
  }
  const graph = affineGraph(mean, mt, D);
  return { map: (y) => mapRows(graph, y, D, o), whitened };
}

/** Top-1/top-5 of (N, K) scores per clip, and per video from the mean of its clips' scores. */
export function scoreAccuracy(scores: Float32Array, K: number, labels: Int32Array, videos?: Int32Array): { clip: Accuracy; video: Accuracy } {
  const n = labels.length;
  const rank = (s: ArrayLike<number>, off: number, y: number) => {
    let r = 0;
    for (let c = 0; c < K; c++) if (s[off + c]! > s[off + y]! || (s[off + c] === s[off + y] && c < y)) r++;
    return r;
  };
  let c1 = 0;
  let c5 = 0;
  const byVideo = new Map<number, { sum: Float64Array; label: number }>();
  for (let i = 0; i < n; i++) {
    const r = rank(scores, i * K, labels[i]!);
    if (r === 0) c1++;
    if (r < 5) c5++;
    const v = videos ? videos[i]! : i;
    let e = byVideo.get(v);
    if (!e) byVideo.set(v, (e = { sum: new Float64Array(K), label: labels[i]! }));
    for (let c = 0; c < K; c++) e.sum[c]! += scores[i * K + c]!;
  }
  let v1 = 0;
  let v5 = 0;
  for (const e of byVideo.values()) {
    const r = rank(e.sum, 0, e.label);
    if (r === 0) v1++;
    if (r < 5) v5++;
  }
  const V = byVideo.size;
  return { clip: { top1: (100 * c1) / n, top5: (100 * c5) / n, count: n }, video: { top1: (100 * v1) / V, top5: (100 * v5) / V, count: V } };
}

/** Trains a probe on `train` and measures it on `test`. */
export async function linearProbe(train: LabeledFeatures, test: LabeledFeatures, o: ProbeOptions = {}): Promise<ProbeResult> {
  const n = checkLabeled('train features', train);
  checkLabeled('test features', test);
  if (train.dim !== test.dim) throw new UserError('test features', `dimension ${test.dim} differs from the train features' ${train.dim}`);
  const D = train.dim;
  let maxLabel = 0;
  for (const y of [...train.labels, ...test.labels]) {
    if (y < 0) throw new UserError('labels', `label ${y}: the probe needs labelled clips`);
    maxLabel = Math.max(maxLabel, y);
  }
  const K = o.numClasses ?? maxLabel + 1;
  if (maxLabel >= K) throw new UserError('labels', `label ${maxLabel} is outside [0, ${K})`);
  for (const [what, f] of [['train features', train], ['test features', test]] as const) {
    const i = f.features.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) throw new UserError(what, `row ${Math.floor(i / D)}, dimension ${i % D} is ${f.features[i]}`, 'the probe needs finite features');
  }
  const plan = probePlan(n, { epochs: o.epochs ?? PROBE_DEFAULTS.epochs, batchSize: o.batchSize ?? PROBE_DEFAULTS.batchSize });
  const { batchSize: B, stepsPerEpoch: steps, epochs } = plan;
  const lr = o.lr ?? PROBE_DEFAULTS.lr;
  const seed = o.seed ?? 0;
  const whiten = await whitener(train.features, D, { ep: o.ep, threads: o.threads });
  const xs = await whiten.map(train.features);
  const xt = await whiten.map(test.features);

  const g = probeTrainGraph(B, D, K, { hidden: o.hidden, seed });
  const { stepper, state } = await graphStepper(PROBE, g, { name: 'sgd', lr, momentum: 0.9, nesterov: true, weight_decay: 0 }, { ep: o.ep, threads: o.threads });
  const order = Rng.fromSeed(seed, 'probe.order');
  const losses: number[] = [];
  const bar = progressBar('probe', epochs, 'epochs', o.progress);
  const xb = new Float32Array(B * D);
  const yb = new BigInt64Array(B);
  try {
    for (let e = 0; e < epochs; e++) {
      const perm = order.fork(`epoch ${e}`).permutation(n);
      let sum = 0;
      for (let s = 0; s < steps; s++) {
        for (let i = 0; i < B; i++) {
          const r = perm[s * B + i]!;
          xb.set(xs.subarray(r * D, (r + 1) * D), i * D);
          yb[i] = BigInt(train.labels[r]!);
        }
        const feeds = { [FEATURES]: new ort.Tensor('float32', xb.slice(), [B, D]), [LABELS]: new ort.Tensor('int64', yb.slice(), [B]) };
        const step = e * steps + s;
        const r = await stepper.step([feeds], { [PROBE]: cosine(lr, 0, step / (epochs * steps)) }, { [PROBE]: step });
        sum += r.losses[0]!.value;
      }
      losses.push(sum / steps);
      bar.tick();
    }
  } finally {
    bar.stop();
    await stepper.release();
  }
  const params = tensorsOf(state, g.params.map((p) => p.value.name));
  const logp = await headLogProbs(xt, D, K, params, { hidden: o.hidden, ep: o.ep, threads: o.threads });
  return { ...scoreAccuracy(logp, K, test.labels, test.videos), losses, head: params, plan, whitened: whiten.whitened };
}

export interface RunProbeOptions extends FeatureOptions {
  /** read and write RUN_DIR/features (default true) */
  cache?: boolean;
  /** the probe's training; each one absent: the run config's `eval.probe` */
  probe?: { epochs?: number; lr?: number; batchSize?: number; hidden?: number };
}

export interface RunProbe extends ProbeResult {
  level: string;
  dim: number;
  splits: { train: string; test: string };
  /** clips of each split */
  counts: { train: number; test: number };
  views: { train: string; test: string };
  /** what produced the result, as `EvalRecord.settings`: asked (epochs, lr, batch_size, head) and run (steps, …) */
  settings: Record<string, string | number | boolean>;
}

/**
 * The probe of a run's checkpoint: train and test features of one level (default: the embedding) through the
 * feature cache, then `linearProbe` with the run's seed and, unless `probe` says otherwise, its `eval.probe`.
 */
export async function probeRun(run: Run, o: RunProbeOptions = {}): Promise<RunProbe> {
  const level = o.level ?? EMBEDDING;
  const views = { train: o.trainViews ?? DEFAULT_TRAIN_VIEWS, test: o.testViews ?? DEFAULT_TEST_VIEWS };
  const { train, test, splits } = await splitFeatures(run, { ...o, level, trainViews: views.train, testViews: views.test });
  const c = run.config.eval.probe;
  const asked = { epochs: o.probe?.epochs ?? c.epochs, lr: o.probe?.lr ?? c.lr, batchSize: o.probe?.batchSize ?? c.batch_size, hidden: o.probe?.hidden };
  const tr = labeledLevel(train, level);
  const r = await linearProbe(tr, labeledLevel(test, level), {
    ...asked, numClasses: train.classes.length || undefined, seed: run.config.train.seed, ep: o.ep, threads: o.threads, progress: o.progress,
  });
  const settings = {
    epochs: asked.epochs, lr: asked.lr, batch_size: asked.batchSize, head: asked.hidden ? 'mlp' : c.head, ...(asked.hidden ? { hidden: asked.hidden } : {}),
    steps: r.plan.steps, epochs_run: r.plan.epochs, batch_run: r.plan.batchSize, whitened: r.whitened, train_views: viewsText(views.train), test_views: viewsText(views.test),
    final_loss: +r.losses.at(-1)!.toFixed(4),
  };
  return { ...r, level, dim: tr.dim, splits, counts: { train: train.count, test: test.count }, views: { train: viewsText(views.train), test: viewsText(views.test) }, settings };
}
