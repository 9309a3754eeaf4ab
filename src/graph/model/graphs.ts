// Training graphs for the `mine` task: the forward of every level, the loss terms, and the backward pass of the
// chosen groups. Walls at group inputs and on every target make each group's gradients depend on its own loss only.
import { gradients } from '../autodiff/index.ts';
import { GraphBuilder, type Param } from '../builder.ts';
import type { Value } from '../ir.ts';
import type { Ctx } from '../nn/layers.ts';
import { prune } from '../prune.ts';
import { Rng } from '../../rng.ts';
import { encode } from './encoder.ts';
import { mineTerms, type Term } from './mine.ts';
import type { PositionInput } from './positions.ts';
import type { GroupName, ModelSpec } from './spec.ts';

export interface TrainGraph {
  builder: GraphBuilder;
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
  return { builder: b, params: b.params.filter((p) => only.has(p.group as GroupName)), buffers, positions, losses, monitors };
}
