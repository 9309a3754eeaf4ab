// Static shapes with an optional symbolic dimension (e.g. the batch 'B' of an exported encoder).
// A symbolic dim is written "B" or "8*B": a positive integer coefficient times one symbol.

export type Dim = number | string;
export type Shape = readonly Dim[];

export const fmtShape = (s: Shape): string => `[${s.join(',')}]`;

export const isStatic = (s: Shape): s is readonly number[] => s.every((d) => typeof d === 'number');

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

interface Sym { coef: number; sym: string }

function parseDim(d: Dim): Sym {
  if (typeof d === 'number') return { coef: d, sym: '' };
  const m = /^(?:(\d+)\*)?([A-Za-z_][\w]*)$/.exec(d);
  if (!m) throw new Error(`bad symbolic dim "${d}"`);
  return { coef: m[1] ? Number(m[1]) : 1, sym: m[2]! };
}

function fmtDim(coef: number, sym: string): Dim {
  if (!sym) return coef;
  return coef === 1 ? sym : `${coef}*${sym}`;
}

/** Product of dims: a number, or coef*symbol when exactly one symbolic dim is involved (else null). */
export function product(dims: Shape): Dim | null {
  let coef = 1;
  let sym = '';
  for (const d of dims) {
    const p = parseDim(d);
    coef *= p.coef;
    if (p.sym) {
      if (sym) return null;
      sym = p.sym;
    }
  }
  return fmtDim(coef, sym);
}

/** a / b for dims, when exact; null otherwise. */
export function divide(a: Dim, b: Dim): Dim | null {
  const pa = parseDim(a);
  const pb = parseDim(b);
  if (pb.sym && pb.sym !== pa.sym) return null;
  if (pa.coef % pb.coef !== 0) return null;
  return fmtDim(pa.coef / pb.coef, pb.sym ? '' : pa.sym);
}

/** Numpy-style broadcast of two shapes; null when incompatible. */
export function broadcast(a: Shape, b: Shape): Dim[] | null {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else return null;
  }
  return out;
}

/** Normalises a possibly negative axis for a rank; null when out of range. */
export function normAxis(axis: number, rank: number): number | null {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : null;
}
