// Fixed sine-cosine positional encodings (Vaswani et al. 2017; the 2-D form of MAE, He et al. 2022). Unlike a learned
// table initialised at std 0.02, they are as large as the tokens from the first step, so attention can tell positions
// apart (and a shift of δ positions is the same rotation of every (sin, cos) pair) before any training.
import { tensor, type Tensor } from '../tensor.ts';

/** (n, D) rows: row p = [sin(p·ω_0), …, sin(p·ω_{D/2−1}), cos(p·ω_0), …, cos(p·ω_{D/2−1})], ω_i = 10000^(−i/(D/2)). */
export function sincos1d(n: number, D: number): Float32Array {
  if (D % 2 !== 0) throw new Error(`sincos1d: the width must be even, got ${D}`);
  const half = D / 2;
  const out = new Float32Array(n * D);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const a = p * 10000 ** (-i / half);
      out[p * D + i] = Math.sin(a);
      out[p * D + half + i] = Math.cos(a);
    }
  }
  return out;
}

/** (gh·gw, D) rows for a row-major grid: the first D/2 channels encode the row, the last D/2 the column. */
export function sincos2d(gh: number, gw: number, D: number): Float32Array {
  if (D % 4 !== 0) throw new Error(`sincos2d: the width must be a multiple of 4, got ${D}`);
  const rows = sincos1d(gh, D / 2);
  const cols = sincos1d(gw, D / 2);
  const out = new Float32Array(gh * gw * D);
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < gw; x++) {
      out.set(rows.subarray(y * (D / 2), (y + 1) * (D / 2)), (y * gw + x) * D);
      out.set(cols.subarray(x * (D / 2), (x + 1) * (D / 2)), (y * gw + x) * D + D / 2);
    }
  }
  return out;
}

/**
 * The (1, T+1, D) table of a group's sequence: T token positions (a gh×gw grid when given, else a line) and a zero row
 * for the summary token, first (`summaryFirst`, a CLS) or last (a causal group's trailing query).
 */
export function sincosTable(T: number, D: number, summaryFirst: boolean, grid?: { h: number; w: number }): Tensor {
  const body = grid ? sincos2d(grid.h, grid.w, D) : sincos1d(T, D);
  if (body.length !== T * D) throw new Error(`sincosTable: a ${grid?.h}×${grid?.w} grid is not ${T} tokens`);
  const t = tensor('float32', [1, T + 1, D]);
  (t.data as Float32Array).set(body, summaryFirst ? D : 0);
  return t;
}
