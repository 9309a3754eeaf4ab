// The hierarchical encoder: patch tokens → frame tokens → clip tokens → video token.
// `space` attends within one frame, `time` within one clip (C clips of f frames, clip-major), `clip` over clips.
// Each group owns its input projection, summary token, positional embedding, transformer and output norm, and (for
// the `mine` task) sees its input through a stop-gradient wall.
import type { Value } from '../ir.ts';
import { truncNormal } from '../nn/init.ts';
import { sincosTable } from '../nn/sincos.ts';
import { linear, outputNorm, type Ctx } from '../nn/layers.ts';
import { transformer } from '../nn/transformer.ts';
import { embedPatches } from './stem.ts';
import { patchGrid, patchesPerFrame, type GroupName, type ModelSpec, type TransformerGroup } from './spec.ts';

/** One level of the hierarchy, as its owning group produced it. */
export interface Level {
  group: GroupName;
  /** The level's tokens after the output norm: (B, S, D). S = F·P patches, F frames, C clips, or 1 video token. */
  tokens: Value;
  /** How the group that produced it groups its input: S sequences of T input tokens (T = 1 for patch). */
  seq: { S: number; T: number };
  /** Causal groups: per-position outputs after the target norm, (B, S, T, D); position t has seen inputs ≤ t. */
  full?: Value;
  /** Mean over channels of the per-channel std of the pre-norm output (collapse monitor; measured before the norm, which would hide a collapse). */
  std: Value;
  dim: number;
}

export interface Encoded {
  levels: Level[];
  /** The final embedding (B, D_last). */
  embedding: Value;
}

/** Sequences and tokens per sequence of each transformer group's input. */
export function grouping(s: ModelSpec, g: TransformerGroup): { S: number; T: number } {
  const C = s.time.clips;
  if (g === 'space') return { S: s.frames, T: patchesPerFrame(s) };
  if (g === 'time') return { S: C, T: s.frames / C };
  return { S: 1, T: C };
}

/** Per-channel std of (N, D) rows, averaged over channels: a scalar. */
function channelStd(c: Ctx, x: Value): Value {
  const { b } = c;
  const centred = b.Sub(x, b.ReduceMean(x, [0], true));
  return b.ReduceMean(b.Sqrt(b.Add(b.ReduceMean(b.Mul(centred, centred), [0], true), b.scalar(1e-8))), undefined, false);
}

/** One transformer group over its input tokens (B, S·T, D_in). */
function group(c: Ctx, s: ModelSpec, g: TransformerGroup, input: Value, withFull: boolean): Level {
  const { b } = c;
  const spec = s[g];
  const { S, T } = grouping(s, g);
  const D = spec.dim;
  const dIn = input.shape[2] as number;
  return b.scope(g, () => {
    let x = b.Reshape(input, [-1, dIn]); // (B·S·T, D_in)
    if (dIn !== D) x = linear(c, 'proj_in', x, D);
    // Summary token: a leading CLS for non-causal groups; a trailing query for causal ones, so that under the
    // causal mask it still attends to the whole sequence (the original read token −2, which missed the last one).
    const summary = b.param(spec.causal ? 'summary_token' : 'cls_token', (r) => truncNormal(r, [1, 1, D]), ['cls_token']);
    const tokens = b.Reshape(x, [-1, T, D]); // (B·S, T, D)
    const cls = b.Expand(summary, b.Concat([b.Shape(tokens, 0, 1), b.ints([1, D])], 0)); // (B·S, 1, D)
    const seq = b.Concat(spec.causal ? [tokens, cls] : [cls, tokens], 1); // (B·S, T+1, D)
    const pos =
      s.posEmbed === 'sincos'
        ? b.constant(sincosTable(T, D, !spec.causal, g === 'space' ? patchGrid(s) : undefined))
        : b.param('pos_embed', (r) => truncNormal(r, [1, T + 1, D]), ['pos_embed']);
    const h = transformer(c, b.Reshape(b.Add(seq, pos), [-1, D]), T + 1, spec);
    const out = b.Reshape(h, [-1, T + 1, D]); // (B·S, T+1, D)
    const at = spec.causal ? T : 0;
    const agg = b.Reshape(b.Slice(out, [at], [at + 1], [1]), [-1, D]); // (B·S, D)
    const level: Level = {
      group: g,
      tokens: b.Reshape(outputNorm(c, 'norm_out', agg, s.outputNorm), [-1, S, D]),
      seq: { S, T },
      std: channelStd(c, agg),
      dim: D,
    };
    if (spec.causal && withFull) {
      const full = b.Slice(out, [0], [T], [1]); // (B·S, T, D)
      level.full = b.Reshape(outputNorm(c, 'norm_target', b.Reshape(full, [-1, D]), s.outputNorm), [-1, S, T, D]);
    }
    return level;
  });
}

/**
 * Runs the encoder on `video` (B, F, H, W, 3). With `walls`, every group's input is a stop-gradient boundary and
 * causal groups also return their per-position outputs (the `mine` task); without, gradients flow end to end.
 */
export function encode(c: Ctx, s: ModelSpec, video: Value, o: { walls: boolean }): Encoded {
  const { b } = c;
  const P = patchesPerFrame(s);
  const patchOwner = s.groups.includes('patch') ? 'patch' : 'space';
  const levels: Level[] = [];
  const patch = b.scope(patchOwner, () => {
    const tokens = embedPatches(c, s, video); // (B·F·P, Dp)
    const level: Level = {
      group: 'patch',
      tokens: b.Reshape(outputNorm(c, 'norm_patch', tokens, s.outputNorm), [-1, s.frames * P, s.patchDim]),
      seq: { S: s.frames * P, T: 1 },
      std: channelStd(c, tokens),
      dim: s.patchDim,
    };
    return level;
  });
  if (patchOwner === 'patch') levels.push(patch);
  let below = patch;
  for (const g of s.groups) {
    if (g === 'patch') continue;
    // The owner of the tokens below is another group: its output is this group's input, behind a wall.
    const crossing = below.group !== 'patch' || patchOwner === 'patch';
    const input = o.walls && crossing ? b.stopGradient(below.tokens) : below.tokens;
    below = group(c, s, g, input, o.walls);
    levels.push(below);
  }
  const top = levels[levels.length - 1]!;
  return { levels, embedding: b.Reshape(top.tokens, [-1, top.dim]) };
}
