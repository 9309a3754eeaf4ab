// MaxPool's gradient without the Indices output (WebGPU refuses it) against the gradient it replaced: dY scattered
// to the positions ORT's MaxPool kernel indexes. Inputs with many ties (a few distinct values, many zeros as after a
// ReLU, windows reaching into the padding) check that both pick the same position of a window.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gradients } from '../../src/graph/autodiff/index.ts';
import { GraphBuilder, type PoolOptions } from '../../src/graph/builder.ts';
import type { Attr } from '../../src/graph/ir.ts';
import { tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { randomTensor, runGraph, sessionOf, values } from '../helpers.ts';

interface Case { name: string; shape: number[]; pool: PoolOptions }

const CASES: Case[] = [
  { name: '2-D 3×3 stride 2 pad 1', shape: [2, 3, 7, 6], pool: { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } },
  { name: '3-D (1,3,3) stride (1,2,2) pad (0,1,1), the S3D stem\'s', shape: [2, 2, 3, 8, 8], pool: { kernel: [1, 3, 3], strides: [1, 2, 2], pads: [0, 1, 1, 0, 1, 1] } },
  { name: '2-D 2×2 stride 2', shape: [1, 2, 6, 6], pool: { kernel: [2, 2], strides: [2, 2] } },
  { name: '2-D 2×2 stride 3: gaps between windows, whose positions get zero', shape: [1, 2, 8, 7], pool: { kernel: [2, 2], strides: [3, 3] } },
  { name: '2-D 3×3 pad 1 over one row: offsets that read only padding', shape: [1, 2, 1, 5], pool: { kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] } },
  { name: '2-D 3×2 stride 1, dilation (2,1), asymmetric pads', shape: [1, 2, 7, 5], pool: { kernel: [3, 2], strides: [1, 1], pads: [2, 0, 1, 1], dilations: [2, 1] } },
];

/** The replaced gradient: ScatterElements-add of dY at the flat Indices of a two-output MaxPool node. */
function indicesGradient(b: GraphBuilder, x: ReturnType<GraphBuilder['input']>, dy: ReturnType<GraphBuilder['input']>, o: PoolOptions) {
  const attrs: Record<string, Attr> = { kernel_shape: { ints: [...o.kernel] } };
  if (o.strides) attrs.strides = { ints: [...o.strides] };
  if (o.pads) attrs.pads = { ints: [...o.pads] };
  if (o.dilations) attrs.dilations = { ints: [...o.dilations] };
  const [, indices] = b.node('MaxPool', [x], attrs);
  const total = x.shape.reduce<number>((p, q) => p * (q as number), 1);
  const zeros = b.ConstantOfShape(b.ints([total]), 0);
  return b.Reshape(b.ScatterElements(zeros, b.Reshape(indices!, [-1]), b.Reshape(dy, [-1]), 0, 'add'), x.shape);
}

describe('MaxPool gradient from X and Y equals the scatter to its Indices, ties included', () => {
  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const b = new GraphBuilder('maxpool');
      const x = b.input('x', 'float32', c.shape);
      const y = b.MaxPool(x, c.pool).y;
      const dy = b.input('dy', 'float32', y.shape as number[]);
      const [dx] = gradients(b, b.ReduceSum(b.Mul(y, dy), undefined, false), [x]);
      b.output(dx!, 'dx');
      b.output(indicesGradient(b, x, dy, c.pool), 'want');
      const session = await sessionOf(b);
      const rng = Rng.fromSeed(i + 1, `maxpool/${c.name}`);
      const n = c.shape.reduce((p, q) => p * q, 1);
      for (const [label, draw] of [
        ['three values', () => rng.int(3)],
        ['mostly zeros', () => (rng.bernoulli(0.7) ? 0 : rng.normal())],
        ['all equal', () => 1],
        ['all negative ties', () => -1 - rng.int(2)],
      ] as const) {
        const feeds = { x: tensor('float32', c.shape, Array.from({ length: n }, draw)), dy: randomTensor(rng, 'float32', y.shape as number[]) };
        const out = await runGraph(session, feeds);
        const [got, want] = [values(out.dx!), values(out.want!)];
        const worst = got.reduce((m, v, k) => Math.max(m, Math.abs(v - want[k]!)), 0);
        assert.ok(worst <= 1e-6, `${c.name}, ${label}: dX differs from the Indices scatter by ${worst}`);
      }
    });
  });
});

test('ReLU then MaxPool equals MaxPool then ReLU, values and gradient (the S3D stem pools before its ReLU)', async () => {
  const pool: PoolOptions = { kernel: [1, 3, 3], strides: [1, 2, 2], pads: [0, 1, 1, 0, 1, 1] };
  const b = new GraphBuilder('relu-pool');
  const x = b.input('x', 'float32', [2, 3, 2, 8, 7]);
  const first = b.MaxPool(b.Relu(x), pool).y;
  const second = b.Relu(b.MaxPool(x, pool).y);
  const dy = b.input('dy', 'float32', first.shape as number[]);
  const [d1] = gradients(b, b.ReduceSum(b.Mul(first, dy), undefined, false), [x]);
  const [d2] = gradients(b, b.ReduceSum(b.Mul(second, dy), undefined, false), [x]);
  b.output(first, 'y1');
  b.output(second, 'y2');
  b.output(d1!, 'd1');
  b.output(d2!, 'd2');
  const session = await sessionOf(b);
  const rng = Rng.fromSeed(7, 'relu-pool');
  // many ties at zero and among negatives, as before a ReLU
  const draw = () => (rng.bernoulli(0.4) ? 0 : rng.bernoulli(0.5) ? -1 - rng.int(2) : rng.int(3));
  const out = await runGraph(session, { x: tensor('float32', [2, 3, 2, 8, 7], Array.from({ length: 672 }, draw)), dy: randomTensor(rng, 'float32', first.shape as number[]) });
  const same = (v: number) => v + 0; // −0 and +0 (a zero gradient's sign differs by the path)
  assert.deepEqual(values(out.y2!).map(same), values(out.y1!).map(same));
  assert.deepEqual(values(out.d2!).map(same), values(out.d1!).map(same));
});
