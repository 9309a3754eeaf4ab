// Linear probe (or a one-hidden-layer MLP head) on frozen features, trained with vhssl's own ONNX graphs: the head's
// forward + NLL of log-softmax, its backward from `gradients()`, and an SGD (Nesterov, momentum 0.9) optimizer graph,
// stepped by the runtime's stepper with a cosine learning rate.
// Features are standardised per dimension with the train split's mean and std (applied to test too), so one lr
// suits any encoder's scale. Test accuracy per clip (argmax) and per video (argmax of the mean log-probabilities
// of its views), top-1 and top-5.
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';
import { gradients } from '../graph/autodiff/index.ts';
import { GraphBuilder } from '../graph/builder.ts';
import type { Value } from '../graph/ir.ts';
import { FEATURES, gradName, LABELS, LOGP, lossName } from '../graph/names.ts';
import { linear, type Ctx } from '../graph/nn/layers.ts';
import { encodeModel } from '../graph/onnx.ts';
import { prune } from '../graph/prune.ts';
import type { Tensor } from '../graph/tensor.ts';
import { Rng } from '../rng.ts';
import { cosine } from '../runtime/schedule.ts';
import { createSession, runChecked, toOrt, type ExecutionProvider } from '../runtime/session.ts';
import { tensorsOf } from '../runtime/state.ts';
import { graphStepper, type TrainingGraph } from '../runtime/stepper.ts';
import { checkLabeled, type Accuracy, type LabeledFeatures } from './knn.ts';
import { progressBar } from './progress.ts';

export interface ProbeOptions {
  numClasses?: number;
  epochs?: number;
  lr?: number;
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
  head: Map<string, Tensor>;
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

/** Per-dimension mean and std of (N, D) rows. */
export function standardizer(x: Float32Array, D: number): (y: Float32Array) => Float32Array {
  const n = x.length / D;
  const mean = new Float64Array(D);
  const sq = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) mean[d]! += x[i * D + d]!;
  for (let d = 0; d < D; d++) mean[d]! /= n;
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) sq[d]! += (x[i * D + d]! - mean[d]!) ** 2;
  const inv = Float64Array.from(sq, (s) => 1 / Math.max(Math.sqrt(s / n), 1e-6));
  return (y) => Float32Array.from(y, (v, i) => (v - mean[i % D]!) * inv[i % D]!);
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
  const epochs = o.epochs ?? 15;
  const B = Math.min(o.batchSize ?? 512, n);
  const lr = o.lr ?? 0.1;
  const seed = o.seed ?? 0;
  const standardize = standardizer(train.features, D);
  const xs = standardize(train.features);
  const xt = standardize(test.features);

  const g = probeTrainGraph(B, D, K, { hidden: o.hidden, seed });
  const { stepper, state } = await graphStepper(PROBE, g, { name: 'sgd', lr, momentum: 0.9, nesterov: true, weight_decay: 0 }, { ep: o.ep, threads: o.threads });
  const steps = Math.floor(n / B);
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
  return { ...scoreAccuracy(logp, K, test.labels, test.videos), losses, head: params };
}
