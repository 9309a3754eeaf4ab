// Prediction positions: graph inputs sampled per sample by the seeded Rng in TypeScript, so a run is reproducible
// and a resumed run draws the same positions.
import { relativeName } from '../names.ts';
import { tensor, type Tensor } from '../tensor.ts';
import type { Rng } from '../../rng.ts';

export interface PositionInput {
  /** Graph input name; a `side` input also has `<name>_rel`. */
  name: string;
  /** down: a target index in [0, range) per (sample, position); side: another position of the same level. */
  kind: 'down' | 'side';
  batch: number;
  count: number;
  range: number;
  /** side: std of the offset distribution = max(p, N - p) / stdDivisor. */
  stdDivisor?: number;
}

/** Side target of position p among n: round(Normal(p, max(p, n-p)/divisor)) redrawn until in [0, n) and ≠ p. */
export function sideTarget(rng: Rng, p: number, n: number, divisor: number): number {
  const std = Math.max(p, n - p) / divisor;
  for (;;) {
    const q = Math.round(p + std * rng.normal());
    if (q >= 0 && q < n && q !== p) return q;
  }
}

/** Draws every position input for one step: int64 tensors by graph input name. */
export function samplePositions(inputs: readonly PositionInput[], rng: Rng): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const p of inputs) {
    const n = p.batch * p.count;
    if (p.kind === 'down') {
      const v = new Array<number>(n);
      for (let i = 0; i < n; i++) v[i] = rng.int(p.range);
      out[p.name] = tensor('int64', [p.batch, p.count], v);
    } else {
      const q = new Array<number>(n);
      const rel = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        const pos = i % p.count;
        q[i] = sideTarget(rng, pos, p.count, p.stdDivisor ?? 3);
        // Row of the relative table (2N-1 rows): offset q - p shifted to be non-negative.
        rel[i] = q[i]! - pos + p.count - 1;
      }
      out[p.name] = tensor('int64', [p.batch, p.count], q);
      out[relativeName(p.name)] = tensor('int64', [p.batch, p.count], rel);
    }
  }
  return out;
}
