// Seeded dropout without ONNX's random ops (their sequence restarts with every session, which would break an exact
// resume): a counter-based hash of (element index, site, step seed) in int64 arithmetic, the seed a graph input
// (`dropout_seed`) drawn by the run's seeded Rng each step.
import type { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import { DROPOUT_SEED } from '../names.ts';
import { tensor } from '../tensor.ts';
import type { Ctx } from './layers.ts';

const P = 2147483647; // 2^31 - 1, prime: every product below stays under 2^62

/** The step's seed input, created once per graph. */
function seedOf(b: GraphBuilder): Value {
  return b.graph.inputs.find((v) => v.name === DROPOUT_SEED) ?? b.input(DROPOUT_SEED, 'int64', []);
}

/** FNV-1a of the site's scope path: each dropout site draws its own stream, the same in every build. */
function salt(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193) >>> 0;
  return h % P;
}

/**
 * u ∈ [0, 1) per element of `shape`: h₀ = (48271·i + seed + salt) mod P, then two rounds of h ← (h² + c) mod P
 * (a quadratic map mod a prime, as in Pollard's rho), u = h / P.
 */
function uniform(b: GraphBuilder, shape: readonly number[], salt: number): Value {
  const n = shape.reduce((a, d) => a * d, 1);
  const index = b.constant(tensor('int64', [...shape], Array.from({ length: n }, (_, i) => i)));
  const k = (v: number) => b.constant(tensor('int64', [], [v]));
  const mod = (x: Value) => b.Mod(x, k(P));
  let h = mod(b.Add(b.Mul(index, k(48271)), b.Add(mod(seedOf(b)), k(salt))));
  h = mod(b.Add(b.Mul(h, h), k(1013904223)));
  h = mod(b.Add(b.Mul(h, h), k(1664525)));
  return b.Div(b.Cast(h, 'float32'), b.scalar(P));
}

/** Inverted dropout with rate `p` in training mode; the identity otherwise. `name` names the site in its scope. */
export function dropout(c: Ctx, name: string, x: Value, p: number): Value {
  if (c.mode !== 'train' || p <= 0) return x;
  const { b } = c;
  const shape = x.shape.map((d) => {
    if (typeof d !== 'number') throw new Error('dropout needs a static shape (training graphs have one)');
    return d;
  });
  return b.scope(name, () => {
    const keep = b.Cast(b.Less(uniform(b, shape, salt(b.scopePath.join('/'))), b.scalar(1 - p)), x.dtype);
    return b.Mul(x, b.Mul(keep, b.scalar(1 / (1 - p), x.dtype)));
  });
}
