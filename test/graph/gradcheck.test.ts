// Finite-difference check of every gradient rule, forward and backward both run in onnxruntime-node.
// loss = Σ w ⊙ f(x) with a fixed random w, so the check sees a non-trivial incoming gradient.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { gradients, GRAD_RULES } from '../../src/graph/autodiff/index.ts';
import { isFloat } from '../../src/graph/dtype.ts';
import type { Tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { randomTensor, runGraph, sessionOf, values } from '../helpers.ts';
import { GRAD_CASES, type GradCase } from './grad-cases.ts';

/** Tolerances per dtype: float64 runs the FD at h = 1e-6; float32 ops feed a float64 loss at h = 1e-2. */
const TOL = { float64: { h: 1e-6, rtol: 1e-6, atol: 1e-8 }, float32: { h: 1e-2, rtol: 2e-2, atol: 2e-3 } } as const;
const POINTS = 8;

async function check(op: string, c: GradCase, seed: number): Promise<void> {
  const rng = Rng.fromSeed(seed, `${op}/${c.name}`);
  const b = new GraphBuilder('gradcheck');
  const feeds: Record<string, Tensor> = {};
  const xs = c.inputs.map((spec, i) => {
    const t = spec.fixed ?? randomTensor(rng, c.dtype, spec.shape, spec.draw);
    feeds[`x${i}`] = t;
    return b.input(`x${i}`, t.dtype, t.shape);
  });
  const out = c.build(b, xs);
  const w = b.constant(randomTensor(rng, 'float64', out.shape as number[]));
  const loss = b.ReduceSum(b.Mul(b.Cast(out, 'float64'), w), undefined, false);
  b.output(loss, 'loss');
  const wrt = xs.filter((v, i) => isFloat(v.dtype) && !c.inputs[i]!.fixed);
  const grads = gradients(b, loss, wrt);
  grads.forEach((g, i) => {
    assert.ok(g, `${op} ${c.name}: no gradient reaches ${wrt[i]!.name}`);
    b.output(g, `d_${wrt[i]!.name}`);
  });
  const session = await sessionOf(b);
  const analytic = await runGraph(session, feeds);
  const tol = TOL[c.dtype as 'float64' | 'float32'];
  for (const v of wrt) {
    const base = feeds[v.name]!;
    const n = base.data.length;
    const coords = n <= POINTS ? [...Array(n).keys()] : Array.from({ length: POINTS }, () => rng.int(n));
    const ana = values(analytic[`d_${v.name}`]!);
    assert.equal(ana.length, n, `${op} ${c.name}: gradient of ${v.name} has ${ana.length} elements, input has ${n}`);
    for (const k of coords) {
      const at = async (delta: number) => {
        const data = base.data.slice() as Float64Array;
        data[k] = data[k]! + delta;
        const r = await runGraph(session, { ...feeds, [v.name]: { ...base, data } });
        return values(r.loss!)[0]!;
      };
      const numeric = ((await at(tol.h)) - (await at(-tol.h))) / (2 * tol.h);
      const err = Math.abs(numeric - ana[k]!);
      assert.ok(
        err <= tol.atol + tol.rtol * Math.max(Math.abs(numeric), Math.abs(ana[k]!)),
        `${op} ${c.name}: d loss/d ${v.name}[${k}] analytic ${ana[k]} vs finite difference ${numeric} (error ${err.toExponential(2)})`,
      );
    }
  }
}

describe('gradient rules against finite differences (onnxruntime-node)', () => {
  test('every rule has at least one sample case', () => {
    const ruled = Object.entries(GRAD_RULES).flatMap(([op, e]) => (typeof e === 'function' ? [op] : []));
    const missing = ruled.filter((op) => !(GRAD_CASES as Record<string, GradCase[]>)[op]?.length);
    assert.deepEqual(missing, [], `gradient rules without a finite-difference case: ${missing.join(', ')}`);
  });
  let seed = 1;
  for (const [op, cases] of Object.entries(GRAD_CASES)) {
    for (const c of cases) {
      const s = seed++;
      test(`${op}: ${c.name} (${c.dtype})`, () => check(op, c, s));
    }
  }
});
