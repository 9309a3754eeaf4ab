// The graphs of a run, all from one forward construction:
// - training graphs: forward, loss terms, backward of the chosen groups (outputs `<param>.grad`);
// - the fused step graph: the same plus every group's optimizer update inline (outputs `<param>.new`);
// - the encoder (inference) graph with a dynamic batch.
// Walls at group inputs and on every target make each group's gradients depend on its own loss only.
import type { TrainConfig } from '../../config/schema.ts';
import { Rng } from '../../rng.ts';
import { gradients } from '../autodiff/index.ts';
import { GraphBuilder, type Param } from '../builder.ts';
import type { Value } from '../ir.ts';
import { linear, type Ctx } from '../nn/layers.ts';
import { EMA, EMA_DECAY, emaName, EMBEDDING, gradName, gradNormName, LABELS, levelOutput, lossName, lrName, monitorName, newName, stateName, stepName, VIDEO, VIDEO2 } from '../names.ts';
import { applyOptimizer, optimizerSpec, slotsOf, type OptimizerSpec, type Slot } from '../optim/index.ts';
import { prune } from '../prune.ts';
import { encode, type Level } from './encoder.ts';
import { vicregTwoView } from './losses.ts';
import { mineTerms, type Term } from './mine.ts';
import type { PositionInput } from './positions.ts';
import type { GroupName, ModelSpec, TermName } from './spec.ts';

export interface TrainGraph {
  builder: GraphBuilder;
  /** Optimizer groups trained by this graph: layer groups for `mine`, the task name for `vicreg` and `cls`. */
  groups: string[];
  /** Parameters the graph trains (their gradients, or their updates in a step graph). */
  params: Param[];
  /** Buffers whose next values the graph outputs (`<name>.new`). */
  buffers: Param[];
  positions: PositionInput[];
  /** Output names: `loss.<group>` (weighted total) and, for `mine`, `loss.<group>.<term>` (unweighted). */
  losses: string[];
  /** Output names of the collapse monitors (`monitor.<group>.std`). */
  monitors: string[];
}

/** A predictor parameter (trained at lr × predictor_lr_mult). */
export const isPredictor = (name: string): boolean => /\.pred_/.test(name);

/** The optimizer group of a parameter: its layer group for `mine`; one group for the end-to-end tasks. */
export const optimizerGroup = (s: ModelSpec, p: Param): string => (s.task === 'mine' ? p.group : s.task);

/** The weight of a term: `loss.weights[<group>_<term>]`, default 1. */
const weightOf = (s: ModelSpec, t: Term) => s.loss.weights[`${t.group}_${t.term}`] ?? 1;

interface Forward {
  b: GraphBuilder;
  c: Ctx;
  groups: string[];
  /** Per optimizer group, its total loss. */
  totals: Map<string, Value>;
  losses: string[];
  monitors: string[];
  positions: PositionInput[];
}

function start(name: string, seed: number): { b: GraphBuilder; c: Ctx } {
  const b = new GraphBuilder(name, { rng: Rng.fromSeed(seed, 'init') });
  return { b, c: { b, rng: Rng.fromSeed(seed, 'graph'), mode: 'train', updates: [] } };
}

/**
 * The target encoder of `targets: ema` (BYOL / I-JEPA): the same encoder under the `ema.` prefix, run on the given
 * video (B or 2B clips). Its parameters start equal to the online ones and follow them by an exponential moving
 * average; they are never trained. Its BatchNorms normalise with batch statistics (training mode) and keep no
 * running statistics.
 */
function emaEncoder(b: GraphBuilder, c: Ctx, s: ModelSpec, video: Value) {
  const ema: Ctx = { ...c, updates: [] };
  const enc = b.scope(EMA, () => encode(ema, { ...s, batch: video.shape[0] as number }, video, { walls: true }));
  const online = new Map([...b.params, ...b.buffers].filter((p) => p.group !== EMA).map((p) => [emaName(p.value.name), p.init]));
  for (const list of [b.params, b.buffers]) {
    list.forEach((p, i) => {
      if (p.group === EMA) list[i] = { ...p, init: online.get(p.value.name) ?? p.init };
    });
  }
  return enc;
}

/**
 * Where each term's targets come from: the online levels (`targets: detach`), or the EMA encoder's, run once on the
 * same clips, or on both views at once (`video` ⊕ `video2`, 2B clips) when some terms read another view.
 */
function targetLevels(b: GraphBuilder, c: Ctx, s: ModelSpec, video: Value, online: readonly Level[]): (term: TermName) => readonly Level[] {
  if (s.targets === 'detach') return () => online;
  const others = new Set<TermName>([...s.otherViewTerms, ...(s.loss.view.enabled ? ['view' as const] : [])]);
  if (others.size === 0) {
    const same = emaEncoder(b, c, s, video).levels;
    return () => same;
  }
  const both = emaEncoder(b, c, s, b.Concat([video, b.input(VIDEO2, 'float32', video.shape)], 0)).levels;
  const half = (x: Value, k: number) => b.Slice(x, [k * s.batch], [(k + 1) * s.batch], [0]);
  const view = (k: number) => both.map((l) => ({ ...l, tokens: half(l.tokens, k), full: l.full && half(l.full, k) }));
  const [same, other] = [view(0), view(1)];
  return (term) => (others.has(term) ? other : same);
}

/** `mine`: the forward of every level and the loss terms of `groups`. */
function mineForward(s: ModelSpec, groups: readonly GroupName[], seed: number, name: string): Forward {
  const { b, c } = start(name, seed);
  const video = b.input(VIDEO, 'float32', [s.batch, s.frames, s.height, s.width, 3]);
  const enc = encode(c, s, video, { walls: true });
  const positions: PositionInput[] = [];
  const only = new Set(groups);
  const terms = mineTerms(c, s, enc.levels, { targetLevels: targetLevels(b, c, s, video, enc.levels), positions, only });
  const losses: string[] = [];
  const totals = new Map<string, Value>();
  for (const g of groups) {
    const own = terms.filter((t) => t.group === g);
    if (!own.length) throw new Error(`group ${g} has no loss terms (it needs a group above or below it)`);
    for (const t of own) losses.push(b.output(t.loss, lossName({ group: g, term: t.term })).name);
    const total = own.map((t) => (weightOf(s, t) === 1 ? t.loss : b.Mul(t.loss, b.scalar(weightOf(s, t))))).reduce((x, y) => b.Add(x, y));
    losses.push(b.output(total, lossName({ group: g, term: null })).name);
    totals.set(g, total);
  }
  const monitors = enc.levels.filter((l) => only.has(l.group)).map((l) => b.output(l.std, monitorName(l.group)).name);
  return { b, c, groups: [...groups], totals, losses, monitors, positions };
}

/**
 * `vicreg`: two views `video`, `video2` of the same videos through one encoder (run once on both, 2B
 * clips), a bias-free linear projector, and the two-view VICReg loss. One optimizer over everything.
 */
function vicregForward(s: ModelSpec, seed: number): Forward {
  const { b, c } = start('vicreg', seed);
  const shape = [s.batch, s.frames, s.height, s.width, 3];
  const both = b.Concat([b.input(VIDEO, 'float32', shape), b.input(VIDEO2, 'float32', shape)], 0);
  const enc = encode(c, { ...s, batch: 2 * s.batch }, both, { walls: false });
  const d = enc.embedding.shape[1] as number;
  const z = b.scope('projector', () => linear(c, 'linear', enc.embedding, d, { bias: false })); // (2B, D)
  const [z1, z2] = b.Split(z, [s.batch, s.batch], 0);
  const loss = b.scope('loss', () => vicregTwoView(b, s.loss.vicreg, z1!, z2!));
  const monitors = [b.output(enc.levels[enc.levels.length - 1]!.std, monitorName(null)).name];
  return { b, c, groups: ['vicreg'], totals: new Map([['vicreg', loss]]), losses: [b.output(loss, lossName({ group: 'vicreg', term: null })).name], monitors, positions: [] };
}

/** `cls`: supervised classification, a linear head on the final embedding and NLL of log-softmax; `labels` (B) int64. */
function clsForward(s: ModelSpec, seed: number): Forward {
  const { b, c } = start('cls', seed);
  const video = b.input(VIDEO, 'float32', [s.batch, s.frames, s.height, s.width, 3]);
  const labels = b.input(LABELS, 'int64', [s.batch]);
  const enc = encode(c, s, video, { walls: false });
  const logp = b.LogSoftmax(b.scope('head', () => linear(c, 'linear', enc.embedding, s.numClasses)), -1); // (B, K)
  const picked = b.GatherElements(logp, b.Unsqueeze(labels, [1]), 1); // (B, 1)
  const loss = b.Neg(b.ReduceMean(picked, undefined, false));
  const monitors = [b.output(enc.levels[enc.levels.length - 1]!.std, monitorName(null)).name];
  return { b, c, groups: ['cls'], totals: new Map([['cls', loss]]), losses: [b.output(loss, lossName({ group: 'cls', term: null })).name], monitors, positions: [] };
}

function forward(s: ModelSpec, seed: number, groups?: readonly GroupName[], name = 'step'): Forward {
  if (s.task === 'vicreg') return vicregForward(s, seed);
  if (s.task === 'cls') return clsForward(s, seed);
  return mineForward(s, groups ?? s.groups, seed, name);
}

/**
 * One backward pass of Σ_g loss_g: the walls make ∂loss_h/∂θ_g = 0 for h ≠ g, so each group's gradient is its own.
 * Returns the trained parameters with their gradients.
 */
function backward(s: ModelSpec, f: Forward): { params: Param[]; grads: Value[] } {
  const { b } = f;
  const trained = new Set(f.groups);
  const params = b.params.filter((p) => trained.has(optimizerGroup(s, p)));
  const total = [...f.totals.values()].reduce((x, y) => b.Add(x, y));
  const grads = gradients(b, total, params.map((p) => p.value)).map((g, i) => {
    const p = params[i]!;
    if (!g) throw new Error(`parameter ${p.value.name} of group ${optimizerGroup(s, p)} gets no gradient from its group's loss`);
    return g;
  });
  return { params, grads };
}

/**
 * Outputs the running-statistics updates of the trained groups' buffers, prunes, gives the statistics no update uses
 * memory of their own (so the buffers fed to the graph stay as they were), and describes the graph.
 */
function finish(s: ModelSpec, f: Forward, params: Param[]): TrainGraph {
  const { b } = f;
  const trained = new Set(f.groups);
  const buffers = b.buffers.filter((p) => trained.has(optimizerGroup(s, p)));
  const own = new Set(buffers.map((p) => p.value));
  for (const u of f.c.updates) if (own.has(u.buffer)) b.output(u.next, newName(u.buffer.name));
  prune(b, new Set([VIDEO]));
  return { builder: b, groups: f.groups, params, buffers, positions: f.positions, losses: f.losses, monitors: f.monitors };
}

/**
 * The training graph of `groups` (`mine`; one group gives its per-group artifact) or of the end-to-end task. Inputs:
 * `video` (B, F, H, W, 3) float32 (and `video2` / `labels`), position inputs, parameters and buffers; outputs: losses,
 * `<param>.grad`, `<buffer>.new`, monitors. Initial values depend on (seed, name) only, so all graphs of a run agree.
 */
export function mineTrainGraph(s: ModelSpec, groups: readonly GroupName[], seed: number, name = groups.join('+')): TrainGraph {
  return trainGraphOf(s, seed, groups, name);
}

function trainGraphOf(s: ModelSpec, seed: number, groups?: readonly GroupName[], name?: string): TrainGraph {
  const f = forward(s, seed, groups, name ? `${name}.train` : undefined);
  const { params, grads } = backward(s, f);
  grads.forEach((g, i) => f.b.output(g, gradName(params[i]!.value.name)));
  return finish(s, f, params);
}

export const vicregTrainGraph = (s: ModelSpec, seed: number): TrainGraph => trainGraphOf({ ...s, task: 'vicreg' }, seed, undefined, 'vicreg');
export const clsTrainGraph = (s: ModelSpec, seed: number): TrainGraph => trainGraphOf({ ...s, task: 'cls' }, seed, undefined, 'cls');

/** The fused training graph of a spec: all groups of `mine`, or the end-to-end graph. */
export const trainGraph = (s: ModelSpec, seed: number): TrainGraph => trainGraphOf(s, seed, undefined, s.task === 'mine' ? 'step' : s.task);

/** The optimizer spec of one group's parameters, from the `train` config. */
export function groupOptimizerSpec(train: TrainConfig, params: readonly Param[]): OptimizerSpec {
  return optimizerSpec(train, params.map((p) => ({ name: p.value.name, shape: p.value.shape as number[], predictor: isPredictor(p.value.name) })));
}

export interface StepGraph extends TrainGraph {
  /** Per optimizer group: its optimizer spec (state names via optimizerState). */
  optimizers: Map<string, OptimizerSpec>;
}

/**
 * The fused step: forward, every group's loss and backward, and every group's optimizer update, in one graph.
 * Extra inputs: `lr.<group>` (float32), `step.<group>` (int64, 1-based) and the optimizer state `<param>.<slot>`;
 * outputs `<param>.new`, `<state>.new`, `grad_norm.<group>` instead of gradients. Parameters never leave ORT
 * except as their new values, which the runtime feeds back on the next step.
 */
export function stepGraph(s: ModelSpec, train: TrainConfig, seed: number): StepGraph {
  const f = forward(s, seed);
  const { b } = f;
  const { params, grads } = backward(s, f);
  const optimizers = new Map<string, OptimizerSpec>();
  const slots = slotsOf(train.optimizer);
  b.scope('optim', () => {
    for (const g of f.groups) {
      const idx = params.flatMap((p, i) => (optimizerGroup(s, p) === g ? [i] : []));
      const spec = groupOptimizerSpec(train, idx.map((i) => params[i]!));
      optimizers.set(g, spec);
      const ins = idx.map((i) => {
        const p = params[i]!.value;
        const state: Partial<Record<Slot, Value>> = {};
        for (const slot of slots) state[slot] = b.input(stateName(p.name, slot), p.dtype, p.shape);
        return { value: p, grad: grads[i]!, state };
      });
      const r = b.scope(g, () => applyOptimizer(b, spec, b.input(lrName(g), 'float32', []), b.input(stepName(g), 'int64', []), ins));
      r.params.forEach((u, k) => {
        const p = ins[k]!.value;
        b.output(u.value, newName(p.name));
        for (const slot of slots) b.output(u.state[slot]!, newName(stateName(p.name, slot)));
      });
      b.output(r.gradNorm, gradNormName(g));
    }
    if (s.targets === 'ema' && s.task === 'mine') {
      const updated = new Map(b.graph.outputs.map((o) => [o.name, o]));
      const online = onlineNames(b);
      emaUpdate(b, b.input(EMA_DECAY, 'float32', []), (e) => updated.get(newName(online.get(e)!)));
    }
  });
  return { ...finish(s, f, params), optimizers };
}

/** EMA copy name → the online parameter it follows, for the EMA parameters of `b`. */
function onlineNames(b: GraphBuilder): Map<string, string> {
  return new Map(b.params.filter((q) => q.group !== EMA).map((p) => [emaName(p.value.name), p.value.name]));
}

/**
 * ema ← d·ema + (1 - d)·θ for every EMA parameter, θ = `current(<its name>)`: the online parameter's updated value in
 * the step graph, an input in the standalone EMA graph; outputs `ema.<name>.new`.
 */
function emaUpdate(b: GraphBuilder, decay: Value, current: (emaParam: string) => Value | undefined): void {
  b.scope(EMA, () => {
    const oneMinus = b.Sub(b.scalar(1), decay);
    for (const p of b.params.filter((q) => q.group === EMA)) {
      const theta = current(p.value.name);
      if (!theta) continue;
      b.output(b.Add(b.Mul(p.value, decay), b.Mul(theta, oneMinus)), newName(p.value.name));
    }
  });
}

/** The EMA update as its own graph (the per-group path runs it after the optimizers): ema.*, online params, decay. */
export function emaGraph(s: ModelSpec, seed: number): GraphBuilder | null {
  if (s.targets !== 'ema' || s.task !== 'mine') return null;
  const f = forward(s, seed);
  const online = onlineNames(f.b);
  const b = new GraphBuilder('ema.update');
  const decay = b.input(EMA_DECAY, 'float32', []);
  const inputs = new Map<string, Value>();
  for (const p of f.b.params.filter((q) => q.group === EMA)) {
    b.param(p.value.name, p.init);
    inputs.set(p.value.name, b.input(online.get(p.value.name)!, p.value.dtype, p.value.shape));
  }
  emaUpdate(b, decay, (e) => inputs.get(e));
  return b;
}

/**
 * The encoder (inference) graph: `video` (B, F, H, W, 3) float32, normalised, channels last, B dynamic → `embedding`
 * (B, D_last) and `level.<group>` (B, S, D) for every level. BatchNorm uses running statistics. Parameters and buffers
 * are graph inputs (export bakes them in as initializers).
 */
export function encoderGraph(s: ModelSpec, seed: number): TrainGraph {
  const b = new GraphBuilder('encoder', { rng: Rng.fromSeed(seed, 'init') });
  const c: Ctx = { b, rng: Rng.fromSeed(seed, 'graph'), mode: 'infer', updates: [] };
  const video = b.input(VIDEO, 'float32', ['B', s.frames, s.height, s.width, 3]);
  const enc = encode(c, s, video, { walls: false });
  b.output(enc.embedding, EMBEDDING);
  for (const l of enc.levels) b.output(l.tokens, levelOutput(l.group));
  prune(b, new Set([VIDEO]));
  return { builder: b, groups: [], params: [...b.params], buffers: [...b.buffers], positions: [], losses: [], monitors: [] };
}
