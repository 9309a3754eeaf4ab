// Training graphs for the `mine` task: the forward of every level, the loss terms, and the backward pass of the
// chosen groups. Walls at group inputs and on every target make each group's gradients depend on its own loss only.
import { gradients } from '../autodiff/index.ts';
import { GraphBuilder, type Param } from '../builder.ts';
import type { Value } from '../ir.ts';
import type { Ctx } from '../nn/layers.ts';
import { prune } from '../prune.ts';
import { Rng } from '../../rng.ts';
import { encode } from './encoder.ts';
import { linear } from '../nn/layers.ts';
import { vicregTwoView } from './losses.ts';
import { mineTerms, type Term } from './mine.ts';
import type { PositionInput } from './positions.ts';
import type { GroupName, ModelSpec } from './spec.ts';

export interface TrainGraph {
  builder: GraphBuilder;
  /** Optimizer groups trained by this graph: layer groups for `mine`, the task name for `vicreg` and `cls`. */
  groups: string[];
  /** Parameters whose gradients the graph outputs (`grad.<name>`). */
  params: Param[];
  /** Buffers whose next values the graph outputs (`<name>.new`). */
  buffers: Param[];
  positions: PositionInput[];
  /** Output names: `loss.<group>` (weighted total) and `loss.<group>.<term>` (unweighted). */
  losses: string[];
  /** Output names `monitor.<group>.std`. */
  monitors: string[];
}

export const gradName = (param: string) => `grad.${param}`;
export const nextName = (state: string) => `${state}.new`;

/** The weight of a term: `loss.weights[<group>_<term>]`, default 1. */
const weightOf = (s: ModelSpec, t: Term) => s.loss.weights[`${t.group}_${t.term}`] ?? 1;

/**
 * The training graph of `groups` (one group: its per-group artifact; all: the fused step). Inputs: `video`
 * (B, F, H, W, 3) float32, the position inputs, parameters and buffers; outputs: losses, gradients, buffer updates,
 * monitors. Parameter initial values depend on (seed, name) only, so every graph of a run agrees on them.
 */
export function mineTrainGraph(s: ModelSpec, groups: readonly GroupName[], seed: number, name = groups.join('+')): TrainGraph {
  const b = new GraphBuilder(`${name}.train`, { rng: Rng.fromSeed(seed, 'init') });
  const c: Ctx = { b, rng: Rng.fromSeed(seed, 'graph'), mode: 'train', updates: [] };
  const video = b.input('video', 'float32', [s.batch, s.frames, s.height, s.width, 3]);
  const enc = encode(c, s, video, { walls: true });
  const positions: PositionInput[] = [];
  const only = new Set(groups);
  const terms = mineTerms(c, s, enc.levels, { targetLevels: enc.levels, positions, only });

  const losses: string[] = [];
  const totals: Value[] = [];
  for (const g of groups) {
    const mine = terms.filter((t) => t.group === g);
    if (!mine.length) throw new Error(`group ${g} has no loss terms (it needs a group above or below it)`);
    for (const t of mine) losses.push(b.output(t.loss, `loss.${g}.${t.term}`).name);
    const total = mine.map((t) => (weightOf(s, t) === 1 ? t.loss : b.Mul(t.loss, b.scalar(weightOf(s, t))))).reduce((x, y) => b.Add(x, y));
    losses.push(b.output(total, `loss.${g}`).name);
    totals.push(total);
  }
  const monitors = enc.levels.filter((l) => only.has(l.group)).map((l) => b.output(l.std, `monitor.${l.group}.std`).name);

  // One backward pass of Σ_g loss_g: the walls make ∂loss_h/∂θ_g = 0 for h ≠ g, so each group's gradient is its own.
  const total = totals.reduce((x, y) => b.Add(x, y));
  const params = b.params.filter((p) => only.has(p.group as GroupName));
  const grads = gradients(b, total, params.map((p) => p.value));
  grads.forEach((g, i) => {
    const p = params[i]!;
    if (!g) throw new Error(`parameter ${p.value.name} of group ${p.group} gets no gradient from its group's loss`);
    b.output(g, gradName(p.value.name));
  });
  const buffers = b.buffers.filter((p) => only.has(p.group as GroupName));
  const own = new Set(buffers.map((p) => p.value));
  for (const u of c.updates) if (own.has(u.buffer)) b.output(u.next, nextName(u.buffer.name));
  prune(b, new Set(['video']));
  return { builder: b, groups: [...groups], params: b.params.filter((p) => only.has(p.group as GroupName)), buffers, positions, losses, monitors };
}

/** The optimizer group of a parameter: its layer group for `mine`; one group for the end-to-end tasks. */
export const optimizerGroup = (s: ModelSpec, p: Param): string => (s.task === 'mine' ? p.group : s.task);

/** Gradients of `loss` for every parameter, buffer updates and monitors: the tail shared by vicreg and cls. */
function endToEnd(s: ModelSpec, b: GraphBuilder, c: Ctx, loss: Value, monitors: string[]): TrainGraph {
  const losses = [b.output(loss, `loss.${s.task}`).name];
  const params = [...b.params];
  gradients(b, loss, params.map((p) => p.value)).forEach((g, i) => {
    if (!g) throw new Error(`parameter ${params[i]!.value.name} gets no gradient from the ${s.task} loss`);
    b.output(g, gradName(params[i]!.value.name));
  });
  for (const u of c.updates) b.output(u.next, nextName(u.buffer.name));
  prune(b);
  return { builder: b, groups: [s.task], params: [...b.params], buffers: [...b.buffers], positions: [], losses, monitors };
}

/**
 * `vicreg` (spec §3.6): two views `video`, `video2` of the same videos through one encoder (run once on both,
 * 2B clips), a bias-free linear projector, and the two-view VICReg loss. One optimizer over everything.
 */
export function vicregTrainGraph(s: ModelSpec, seed: number): TrainGraph {
  const b = new GraphBuilder('vicreg.train', { rng: Rng.fromSeed(seed, 'init') });
  const c: Ctx = { b, rng: Rng.fromSeed(seed, 'graph'), mode: 'train', updates: [] };
  const shape = [s.batch, s.frames, s.height, s.width, 3];
  const both = b.Concat([b.input('video', 'float32', shape), b.input('video2', 'float32', shape)], 0);
  const enc = encode(c, { ...s, batch: 2 * s.batch }, both, { walls: false });
  const d = enc.embedding.shape[1] as number;
  const z = b.scope('projector', () => linear(c, 'linear', enc.embedding, d, { bias: false })); // (2B, D)
  const [z1, z2] = b.Split(z, [s.batch, s.batch], 0);
  const loss = b.scope('loss', () => vicregTwoView(b, s.loss.vicreg, z1!, z2!));
  const monitors = [b.output(enc.levels[enc.levels.length - 1]!.std, 'monitor.std').name];
  return endToEnd(s, b, c, loss, monitors);
}

/** `cls`: supervised classification, a linear head on the final embedding and NLL of log-softmax; `labels` (B) int64. */
export function clsTrainGraph(s: ModelSpec, seed: number): TrainGraph {
  const b = new GraphBuilder('cls.train', { rng: Rng.fromSeed(seed, 'init') });
  const c: Ctx = { b, rng: Rng.fromSeed(seed, 'graph'), mode: 'train', updates: [] };
  const video = b.input('video', 'float32', [s.batch, s.frames, s.height, s.width, 3]);
  const labels = b.input('labels', 'int64', [s.batch]);
  const enc = encode(c, s, video, { walls: false });
  const logp = b.LogSoftmax(b.scope('head', () => linear(c, 'linear', enc.embedding, s.numClasses)), -1); // (B, K)
  const picked = b.GatherElements(logp, b.Unsqueeze(labels, [1]), 1); // (B, 1)
  const loss = b.Neg(b.ReduceMean(picked, undefined, false));
  const monitors = [b.output(enc.levels[enc.levels.length - 1]!.std, 'monitor.std').name];
  return endToEnd(s, b, c, loss, monitors);
}

/** The fused training graph of a spec: all groups of `mine`, or the single end-to-end graph. */
export function trainGraph(s: ModelSpec, seed: number): TrainGraph {
  if (s.task === 'vicreg') return vicregTrainGraph(s, seed);
  if (s.task === 'cls') return clsTrainGraph(s, seed);
  return mineTrainGraph(s, s.groups, seed, 'step');
}

/**
 * The encoder (inference) graph: `video` (B, F, H, W, 3) float32, normalised, channels last, B dynamic → `embedding`
 * (B, D_last) and `level.<group>` (B, S, D) for every level. BatchNorm uses running statistics. Parameters and buffers
 * are graph inputs (export bakes them in as initializers).
 */
export function encoderGraph(s: ModelSpec, seed: number): TrainGraph {
  const b = new GraphBuilder('encoder', { rng: Rng.fromSeed(seed, 'init') });
  const c: Ctx = { b, rng: Rng.fromSeed(seed, 'graph'), mode: 'infer', updates: [] };
  const video = b.input('video', 'float32', ['B', s.frames, s.height, s.width, 3]);
  const enc = encode(c, s, video, { walls: false });
  b.output(enc.embedding, 'embedding');
  for (const l of enc.levels) b.output(l.tokens, `level.${l.group}`);
  prune(b, new Set(['video']));
  return { builder: b, groups: [], params: [...b.params], buffers: [...b.buffers], positions: [], losses: [], monitors: [] };
}
