// Model specs used by the model tests: the benchmark config and the spec's worked example (§3.4), resolved by hand.
import type { GroupSpec, ModelSpec } from '../../src/graph/model/spec.ts';

const g = (dim: number, heads: number, headDim: number, mlpDim: number, causal: boolean, layers = 2): GroupSpec => ({ dim, layers, heads, headDim, mlpDim, causal, dropout: 0 });

export const BENCH_ST: ModelSpec = {
  task: 'mine',
  groups: ['space', 'time'],
  batch: 8, frames: 8, height: 64, width: 64,
  stem: 'linear', stemChannels: 128, patch: 16, patchDim: 128,
  outputNorm: 'batchnorm',
  posEmbed: 'learned',
  space: g(128, 4, 32, 256, false),
  time: { ...g(256, 6, 48, 512, true), clips: 1 },
  clip: g(512, 8, 64, 1024, true),
  predictor: { hidden: [], norm: 'batchnorm' },
  loss: { fn: 'mse', ce: { predTemp: 1, tgtTemp: 0.5 }, cosine: { mult: 1 }, vicreg: { sim: 25, std: 25, cov: 1, eps: 1e-4 }, weights: {}, side: { enabled: false, stdDivisor: 3 }, view: { enabled: false, fn: 'mse' }, downTarget: 'own_frame', summaryTarget: 'own_frame' },
  targets: 'detach',
  otherViewTerms: [],
  numClasses: 10,
};

/** Spec §3.4 "WE": [patch, space, time, clip], 8 frames of 112×112, S3D stem, 2 clips × 4 frames. */
export const WE: ModelSpec = {
  ...BENCH_ST,
  groups: ['patch', 'space', 'time', 'clip'],
  height: 112, width: 112,
  stem: 's3d', stemChannels: 128, patch: 7, patchDim: 256,
  time: { ...g(256, 6, 48, 512, true), clips: 2 },
  clip: g(512, 8, 64, 1024, true),
};

/** A tiny spec for gradient checks: every group, small dims. */
export function tiny(over: Partial<ModelSpec> = {}): ModelSpec {
  return {
    ...BENCH_ST,
    groups: ['patch', 'space', 'time', 'clip'],
    batch: 4, frames: 4, height: 8, width: 8,
    patch: 4, patchDim: 8,
    space: g(8, 2, 4, 16, false, 1),
    time: { ...g(12, 2, 4, 16, true, 1), clips: 2 },
    clip: g(16, 2, 4, 16, false, 1),
    ...over,
  };
}
