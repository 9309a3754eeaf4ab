// The validated config → the resolved ModelSpec the graph code reads.
import type { Config, GroupConfig } from '../../config/schema.ts';
import type { GroupSpec, ModelSpec } from './spec.ts';

const group = (g: GroupConfig | null, fallback: GroupSpec): GroupSpec =>
  g ? { dim: g.dim, layers: g.layers, heads: g.heads, headDim: g.head_dim, mlpDim: g.mlp_dim, causal: g.causal, dropout: g.dropout } : fallback;

/** Placeholder geometry for a group the config does not use (never built). */
const UNUSED: GroupSpec = { dim: 1, layers: 0, heads: 1, headDim: 1, mlpDim: 1, causal: false, dropout: 0 };

/** `batch` overrides the training batch size (e.g. for evaluation graphs). */
export function modelSpec(c: Config, batch = c.train.batch_size): ModelSpec {
  const a = c.arch;
  const t = c.train;
  return {
    task: a.task,
    groups: a.groups,
    batch,
    frames: c.data.frames,
    height: c.data.height,
    width: c.data.width,
    stem: a.stem,
    stemChannels: a.stem_channels,
    patch: a.patch,
    patchDim: a.patch_dim,
    outputNorm: a.output_norm,
    posEmbed: a.pos_embed,
    space: group(a.space, UNUSED),
    time: { ...group(a.time, UNUSED), clips: a.time?.clips ?? 1 },
    clip: group(a.clip, UNUSED),
    predictor: { hidden: a.predictor.hidden, norm: a.predictor.norm },
    loss: {
      fn: t.loss.fn,
      ce: { predTemp: t.loss.ce.pred_temp, tgtTemp: t.loss.ce.tgt_temp },
      cosine: { mult: t.loss.cosine.mult },
      vicreg: t.loss.vicreg,
      weights: t.loss_weights,
      side: { enabled: t.side.enabled, stdDivisor: t.side.std_divisor },
      view: { enabled: t.view.enabled, fn: t.view.fn ?? t.loss.fn },
      downTarget: t.down_target,
      summaryTarget: t.summary_target,
    },
    targets: a.targets,
    otherViewTerms: a.targets === 'ema' ? a.ema.other_view_terms : [],
    numClasses: a.num_classes,
  };
}
