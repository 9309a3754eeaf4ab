// The `mine` objective, with the original's alignment bugs fixed: per group, predictors up (the level above that
// contains it), down (the level below), summary (causal groups: the trailing summary token predicts a token of its
// own sequence), side (another temporal position) and view (the top level: its counterpart in another view of the
// clip), each against a stop-gradient target.
import type { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import { positionName, relativeName } from '../names.ts';
import { batchNorm, linear, outputNorm, type Ctx } from '../nn/layers.ts';
import { truncNormal } from '../nn/init.ts';
import { tensor } from '../tensor.ts';
import type { Level } from './encoder.ts';
import { pairLoss } from './losses.ts';
import type { PositionInput } from './positions.ts';
import type { GroupName, ModelSpec, TermName } from './spec.ts';

export interface Term {
  group: GroupName;
  term: TermName;
  /** Unweighted scalar loss. */
  loss: Value;
  /** The aligned prediction and target it compares (the target may broadcast). */
  pred: Value;
  target: Value;
}

/** [Linear → BN → GELU]* → Linear (no bias) → optional norm; hidden = [] is a single linear map (the original's default). */
export function predictor(c: Ctx, s: ModelSpec, name: string, x: Value, out: number): Value {
  const { b } = c;
  return b.scope(name, () => {
    let h = x;
    s.predictor.hidden.forEach((width, i) => {
      h = b.Gelu(batchNorm(c, `bn${i}`, linear(c, `fc${i}`, h, width), { channelsLast: true }));
    });
    return outputNorm(c, 'norm', linear(c, 'out', h, out, { bias: false }), s.predictor.norm);
  });
}

/** Slice along one axis. */
const take = (b: GraphBuilder, x: Value, axis: number, start: number, end: number) => b.Slice(x, [start], [end], [axis]);

/** x[b, s, idx[b, s], :] for x (B, S, T, D), idx (B, S) → (B, S, D). */
function pickToken(b: GraphBuilder, x: Value, idx: Value): Value {
  const [B, S, , D] = x.shape as number[];
  const at = b.Expand(b.Reshape(idx, [B!, S!, 1, 1]), [B!, S!, 1, D!]);
  return b.Reshape(b.GatherElements(x, at, 2), [B!, S!, D!]);
}

/** x[b, idx[b, n], :] for x (B, S, D), idx (B, N) → (B, N, D). */
function pickRow(b: GraphBuilder, x: Value, idx: Value): Value {
  const [B, , D] = x.shape as number[];
  const N = idx.shape[1] as number;
  return b.GatherElements(x, b.Expand(b.Reshape(idx, [B!, N, 1]), [B!, N, D!]), 1);
}

/**
 * A sequence summary (B, S, D_g) predicts a sampled token of the level below: of its own sequence (own_frame), or of
 * any sequence (any_frame, with a 2-D positional encoding: token part ⊕ sequence part), or every token of its own
 * sequence from another (anchored). `down_target` chooses for the down term, `summary_target` for the summary term.
 * Returns (prediction, target).
 */
function summaryDown(c: Ctx, s: ModelSpec, g: Level, l: Level, below: Value, term: 'down' | 'summary', positions: PositionInput[]): [Value, Value] {
  const { b } = c;
  const B = s.batch;
  const { S, T } = g.seq;
  const name = `pred_${term}`;
  const input = positionName(g.group, term);
  const how = term === 'summary' ? s.loss.summaryTarget : s.loss.downTarget;
  if (how === 'anchored') return anchoredDown(c, s, g, l, below, name, input, positions);
  if (how === 'own_frame' || S === 1) {
    positions.push({ name: input, kind: 'down', batch: B, count: S, range: T });
    const pos = b.input(input, 'int64', [B, S]);
    const pe = b.Gather(b.param(`${name}.pos_embed`, (r) => truncNormal(r, [T, g.dim]), ['pos_embed']), pos, 0); // (B, S, D_g)
    const pred = predictor(c, s, name, b.Add(g.tokens, pe), l.dim);
    return [pred, pickToken(b, b.Reshape(below, [B, S, T, l.dim]), pos)];
  }
  positions.push({ name: input, kind: 'down', batch: B, count: S, range: S * T });
  const pos = b.input(input, 'int64', [B, S]);
  const split = Math.floor(g.dim / 3) * 2;
  const peTok = b.param(`${name}.pos_embed_token`, (r) => truncNormal(r, [T, split]), ['pos_embed']);
  const peSeq = b.param(`${name}.pos_embed_seq`, (r) => truncNormal(r, [S, g.dim - split]), ['pos_embed']);
  const tLen = b.constant(tensor('int64', [], [T]));
  const pe = b.Concat([b.Gather(peTok, b.Mod(pos, tLen), 0), b.Gather(peSeq, b.Div(pos, tLen), 0)], 2);
  const pred = predictor(c, s, name, b.Add(g.tokens, pe), l.dim);
  return [pred, pickRow(b, below, pos)];
}

/**
 * The anchored variant: each token p of a sequence, given as it is in the target level, together with the sequence's
 * summary and the offset q − p, predicts another token q of the same sequence. The anchor supplies the content and
 * the place, so the summary is left to supply what changes between them: over frames, the motion.
 * Position input `<input>` (B·S, T): q per anchor p, drawn as for side terms (train.side.std_divisor); `<input>_rel`:
 * q − p + T − 1. Returns (prediction, target).
 */
function anchoredDown(c: Ctx, s: ModelSpec, g: Level, l: Level, below: Value, name: string, input: string, positions: PositionInput[]): [Value, Value] {
  const { b } = c;
  const { S, T } = g.seq;
  const N = s.batch * S;
  if (T < 2) throw new Error(`anchored targets need at least 2 tokens per sequence, group ${g.group} has ${T}`);
  positions.push({ name: input, kind: 'side', batch: N, count: T, range: T, stdDivisor: s.loss.side.stdDivisor });
  const q = b.input(input, 'int64', [N, T]);
  const rel = b.input(relativeName(input), 'int64', [N, T]);
  const tokens = b.Reshape(below, [N, T, l.dim]); // the target level, behind its wall
  const anchors = b.scope(name, () => linear(c, 'anchor_in', b.Reshape(tokens, [N * T, l.dim]), g.dim, { bias: false }));
  const pe = b.Gather(b.param(`${name}.rel_embed`, (r) => truncNormal(r, [2 * T - 1, g.dim]), ['pos_embed']), rel, 0); // (N, T, D_g)
  const context = b.Add(b.Add(b.Reshape(g.tokens, [N, 1, g.dim]), pe), b.Reshape(anchors, [N, T, g.dim]));
  const pred = predictor(c, s, name, context, l.dim); // (N, T, D_l)
  return [pred, b.GatherElements(tokens, b.Expand(b.Reshape(q, [N, T, 1]), [N, T, l.dim]), 1)];
}

export interface MineOptions {
  /** Where a term's targets come from: the levels themselves (targets: detach) or an EMA copy of the encoder, run on the same view or on another. */
  targetLevels: (term: TermName) => readonly Level[];
  /** Receives the position inputs the graph declares. */
  positions: PositionInput[];
  /** Groups whose terms to build (default all). */
  only?: ReadonlySet<GroupName>;
}

/** The loss terms of every group, in group order. */
export function mineTerms(c: Ctx, s: ModelSpec, levels: readonly Level[], o: MineOptions): Term[] {
  const { b } = c;
  const B = s.batch;
  const terms: Term[] = [];
  const target = (term: TermName, i: number) => o.targetLevels(term)[i]!;
  levels.forEach((g, i) => {
    if (o.only && !o.only.has(g.group)) return;
    b.scope(g.group, () => {
      const add = (term: TermName, pred: Value, target: Value) => {
        const spec = term === 'view' ? { ...s.loss, fn: s.loss.view.fn } : s.loss;
        terms.push({ group: g.group, term, pred, target, loss: b.scope(`loss_${term}`, () => pairLoss(b, spec, pred, target)) });
      };
      const Sg = g.tokens.shape[1] as number;

      // up: each token predicts the next level's output that contains it.
      const h = levels[i + 1];
      if (h) {
        const pred = predictor(c, s, 'pred_up', g.tokens, h.dim); // (B, S_g, D_h)
        const { S, T } = h.seq;
        if (h.full) {
          // Causal next group: token t predicts the causal state just before it, t-1, within its sequence.
          const tgt = b.stopGradient(target('up', i + 1).full!); // (B, S_h, T_h, D_h)
          const p4 = b.Reshape(pred, [B, S, T, h.dim]);
          add('up', take(b, p4, 2, 1, T), take(b, tgt, 2, 0, T - 1));
        } else {
          // Non-causal next group: its summary of the sequence this token belongs to (repeat-interleave by T).
          const tgt = b.stopGradient(target('up', i + 1).tokens); // (B, S_h, D_h)
          const idx = b.constant(tensor('int64', [Sg], Array.from({ length: Sg }, (_, k) => Math.floor(k / T))));
          add('up', pred, S === 1 ? tgt : b.Gather(tgt, idx, 1));
        }
      }

      // down: the level predicts tokens of the level below.
      const l = levels[i - 1];
      if (l) {
        const { S, T } = g.seq;
        const below = (term: TermName) => b.stopGradient(target(term, i - 1).tokens); // (B, S·T, D_l)
        if (g.full) {
          // Causal: position t predicts the next lower-level token t+1 of its sequence.
          const pred = predictor(c, s, 'pred_down', g.full, l.dim); // (B, S, T, D_l)
          add('down', take(b, pred, 2, 0, T - 1), take(b, b.Reshape(below('down'), [B, S, T, l.dim]), 2, 1, T));
        } else {
          add('down', ...summaryDown(c, s, g, l, below('down'), 'down', o.positions));
        }
        // A causal group's trailing summary token is its level output: like a non-causal summary, it predicts a
        // sampled token of its own sequence, so the level output is supervised even when no group sits above.
        if (g.full) add('summary', ...summaryDown(c, s, g, l, below('summary'), 'summary', o.positions));
      }

      // view: the top level, with no level above it, predicts its counterpart in another view of the clip.
      if (!h && s.loss.view.enabled) add('view', predictor(c, s, 'pred_view', g.tokens, g.dim), b.stopGradient(target('view', i).tokens));

      // side: a token predicts the same level at another temporal position (future or past).
      if (h && s.loss.side.enabled) {
        const patchLevel = g.group === 'patch';
        const N = patchLevel ? s.frames : Sg;
        if (N > 1) {
          const name = positionName(g.group, 'side');
          o.positions.push({ name, kind: 'side', batch: B, count: N, range: N, stdDivisor: s.loss.side.stdDivisor });
          const q = b.input(name, 'int64', [B, N]);
          const rel = b.input(relativeName(name), 'int64', [B, N]);
          const pe = b.Gather(b.param('pred_side.pos_embed', (r) => truncNormal(r, [2 * N - 1, g.dim]), ['pos_embed']), rel, 0); // (B, N, D)
          const tgtLevel = b.stopGradient(target('side', i).tokens);
          if (patchLevel) {
            // Each patch predicts the same patch position in frame q.
            const P = Sg / N;
            const x4 = b.Reshape(g.tokens, [B, N, P, g.dim]);
            const pred = predictor(c, s, 'pred_side', b.Add(x4, b.Unsqueeze(pe, [2])), g.dim);
            const at = b.Expand(b.Reshape(q, [B, N, 1, 1]), [B, N, P, g.dim]);
            add('side', pred, b.GatherElements(b.Reshape(tgtLevel, [B, N, P, g.dim]), at, 1));
          } else {
            const pred = predictor(c, s, 'pred_side', b.Add(g.tokens, pe), g.dim);
            add('side', pred, pickRow(b, tgtLevel, q));
          }
        }
      }
    });
  });
  return terms;
}
