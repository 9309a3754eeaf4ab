// The resolved description of a model: what the graph code needs, derived from the validated config.
import type { ArchConfig, GroupName, Stem, TermName, TrainConfig, TransformerGroupName } from '../../config/schema.ts';
import type { NormKind } from '../nn/layers.ts';
import type { TransformerSpec } from '../nn/transformer.ts';

export type { GroupName, Stem, TermName };
export type TransformerGroup = TransformerGroupName;
export type Task = ArchConfig['task'];
export type LossFn = TrainConfig['loss']['fn'];
export type SummaryTarget = TrainConfig['down_target'];

export interface GroupSpec extends TransformerSpec {
  dropout: number;
}

export interface LossSpec {
  fn: LossFn;
  ce: { predTemp: number; tgtTemp: number };
  cosine: { mult: number };
  vicreg: { sim: number; std: number; cov: number; eps: number };
  /** Per-term weights keyed `<group>_<term>` (default 1). */
  weights: Readonly<Record<string, number>>;
  side: { enabled: boolean; stdDivisor: number };
  /** The top level predicts the EMA encoder's top level of another view (term `view`), with loss function `fn`. */
  view: { enabled: boolean; fn: LossFn };
  /**
   * The down term of non-causal groups: own_frame, a summary predicts a token of its own sequence; any_frame, of any
   * sequence (the original's only choice); anchored, every token of its sequence from another one and their offset.
   */
  downTarget: SummaryTarget;
  /** The same choice for the summary term of causal groups. */
  summaryTarget: SummaryTarget;
}

export interface ModelSpec {
  task: Task;
  /** Ordered layer groups; `patch` (the embedding as its own group) is optional. */
  groups: readonly GroupName[];
  batch: number;
  frames: number;
  height: number;
  width: number;
  stem: Stem;
  stemChannels: number;
  patch: number;
  patchDim: number;
  outputNorm: NormKind;
  /** learned: a trained table per group; sincos: fixed sine-cosine encodings (2-D for space, 1-D above). */
  posEmbed: 'learned' | 'sincos';
  space: GroupSpec;
  time: GroupSpec & { clips: number };
  clip: GroupSpec;
  predictor: { hidden: readonly number[]; norm: NormKind };
  loss: LossSpec;
  targets: 'detach' | 'ema';
  /** Terms whose EMA targets come from another view of the clip (`video2`: other crops, BYOL / BraVe). */
  otherViewTerms: readonly TermName[];
  numClasses: number;
}

export const transformerGroups = (s: ModelSpec): TransformerGroup[] => s.groups.filter((g): g is TransformerGroup => g !== 'patch');

/** Spatial size after the stem: /4 for conv stems (two stride-2 stages, ⌊(n-1)/2⌋+1 each). */
export function stemOutput(s: ModelSpec): { h: number; w: number; channels: number } {
  if (s.stem === 'linear') return { h: s.height, w: s.width, channels: 3 };
  const half = (n: number) => Math.floor((n - 1) / 2) + 1;
  return { h: half(half(s.height)), w: half(half(s.width)), channels: s.stemChannels };
}

/** The patch grid of a frame: rows × columns, in the row-major order of the stem's tokens. */
export function patchGrid(s: ModelSpec): { h: number; w: number } {
  const o = stemOutput(s);
  return { h: o.h / s.patch, w: o.w / s.patch };
}

/** Patches per frame. */
export function patchesPerFrame(s: ModelSpec): number {
  const g = patchGrid(s);
  return g.h * g.w;
}
