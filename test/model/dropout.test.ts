// Seeded dropout: the keep rate matches 1 - p, the same seed gives the same mask (exact resume), another seed or
// another site another mask, and evaluation graphs have none.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { DROPOUT_SEED } from '../../src/graph/names.ts';
import { dropout } from '../../src/graph/nn/dropout.ts';
import type { Ctx } from '../../src/graph/nn/layers.ts';
import { tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { runGraph, sessionOf, values } from '../helpers.ts';

async function masks(p: number) {
  const b = new GraphBuilder('dropout');
  const c: Ctx = { b, rng: Rng.fromSeed(1), mode: 'train', updates: [] };
  const x = b.input('x', 'float32', [64, 100]);
  b.output(b.scope('a', () => dropout(c, 'drop', x, p)), 'a');
  b.output(b.scope('b', () => dropout(c, 'drop', x, p)), 'b');
  const s = await sessionOf(b);
  const ones = tensor('float32', [64, 100], new Array(6400).fill(1));
  return async (seed: number) => {
    const out = await runGraph(s, { x: ones, [DROPOUT_SEED]: tensor('int64', [], [seed]) });
    return { a: values(out.a!), b: values(out.b!) };
  };
}

describe('seeded dropout', () => {
  test('keep rate, inverted scaling, determinism per seed and per site', async () => {
    const run = await masks(0.25);
    const r1 = await run(7);
    const kept = r1.a.filter((v) => v !== 0);
    assert.ok(Math.abs(kept.length / 6400 - 0.75) < 0.03, `keep rate ${kept.length / 6400}`);
    assert.ok(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6), 'kept values are scaled by 1/(1-p)');
    assert.deepEqual((await run(7)).a, r1.a, 'same seed, same mask');
    assert.notDeepEqual((await run(8)).a, r1.a, 'another seed, another mask');
    assert.notDeepEqual(r1.b, r1.a, 'another site, another mask');
    // Neighbouring elements are not correlated: P(both kept) ≈ 0.75².
    let both = 0;
    for (let i = 0; i + 1 < r1.a.length; i++) if (r1.a[i] && r1.a[i + 1]) both++;
    assert.ok(Math.abs(both / (r1.a.length - 1) - 0.5625) < 0.04, `pairs kept ${both / (r1.a.length - 1)}`);
  });

  test('inference mode and p = 0 are the identity (no seed input)', () => {
    const b = new GraphBuilder('dropout');
    const x = b.input('x', 'float32', [4, 4]);
    assert.equal(dropout({ b, rng: Rng.fromSeed(1), mode: 'infer', updates: [] }, 'd', x, 0.5), x);
    assert.equal(dropout({ b, rng: Rng.fromSeed(1), mode: 'train', updates: [] }, 'd', x, 0), x);
    assert.ok(!b.graph.inputs.some((v) => v.name === DROPOUT_SEED));
  });
});
