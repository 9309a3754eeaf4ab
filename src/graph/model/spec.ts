// The resolved description of a model: what the graph code needs, derived from the validated config.
import type { NormKind } from '../nn/layers.ts';
import type { TransformerSpec } from '../nn/transformer.ts';

export const GROUP_ORDER = ['patch', 'space', 'time', 'clip'] as const;
export type GroupName = (typeof GROUP_ORDER)[number];
export type TransformerGroup = Exclude<GroupName, 'patch'>;

export type Task = 'mine' | 'vicreg' | 'cls';
export type LossFn = 'mse' | 'cosine' | 'ce' | 'vicreg';
export type Stem = 'linear' | 'conv2d' | 's3d';

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
  /** own_frame: a summary predicts a token of its own sequence; any_frame: of any sequence (spec D5). */
  downTarget: 'own_frame' | 'any_frame';
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
  space: GroupSpec;
  time: GroupSpec & { clips: number };
  clip: GroupSpec;
  predictor: { hidden: readonly number[]; norm: NormKind };
  loss: LossSpec;
  targets: 'detach' | 'ema';
  numClasses: number;
}

export const transformerGroups = (s: ModelSpec): TransformerGroup[] => s.groups.filter((g): g is TransformerGroup => g !== 'patch');

/** Spatial size after the stem: /4 for conv stems (two stride-2 stages, ⌊(n-1)/2⌋+1 each). */
export function stemOutput(s: ModelSpec): { h: number; w: number; channels: number } {
  if (s.stem === 'linear') return { h: s.height, w: s.width, channels: 3 };
  const half = (n: number) => Math.floor((n - 1) / 2) + 1;
  return { h: half(half(s.height)), w: half(half(s.width)), channels: s.stemChannels };
}

/** Patches per frame. */
export function patchesPerFrame(s: ModelSpec): number {
  const o = stemOutput(s);
  return (o.h / s.patch) * (o.w / s.patch);
}
