// Training-mode BatchNorm from primitives (nn/layers.ts batchNormTrain, what every graph emits since WebGPU refuses
// training_mode=1) against ONNX Runtime's BatchNormalization node in training mode, on random float32 inputs: the
// output and both running statistics agree within 1e-6 (relative where |y| > 1: two roundings of the same y of
// magnitude 8 may differ by one float32 step, 9.5e-7).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { batchNormTrain } from '../../src/graph/nn/layers.ts';
import type { Tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { randomTensor, runGraph, sessionOf, values } from '../helpers.ts';

interface Case { name: string; shape: number[]; channelsLast: boolean; eps: number; momentum: number; scaleBy: number }

const CASES: Case[] = [
  { name: '(N, C) output norm', shape: [16, 8], channelsLast: true, eps: 1e-5, momentum: 0.1, scaleBy: 1 },
  { name: '(B, S, C) channels last', shape: [4, 6, 5], channelsLast: true, eps: 1e-5, momentum: 0.1, scaleBy: 3 },
  { name: '(N, C, H, W) conv2d stem', shape: [3, 4, 5, 6], channelsLast: false, eps: 1e-5, momentum: 0.1, scaleBy: 1 },
  { name: '(N, C, T, H, W) S3D stem (eps 1e-3, momentum 0.001)', shape: [2, 3, 4, 5, 5], channelsLast: false, eps: 1e-3, momentum: 0.001, scaleBy: 2 },
  { name: '(N, C) two rows', shape: [2, 7], channelsLast: true, eps: 1e-5, momentum: 0.1, scaleBy: 1 },
];

/** Both forms in one graph over the same inputs: y, running mean and running variance of each. */
function build(c: Case) {
  const b = new GraphBuilder('bn');
  const axis = c.channelsLast ? c.shape.length - 1 : 1;
  const ch = c.shape[axis]!;
  const [x, scale, bias, mean, variance] = [b.input('x', 'float32', c.shape), ...['scale', 'bias', 'mean', 'var'].map((n) => b.input(n, 'float32', [ch]))] as const;
  const prim = batchNormTrain(b, x, scale!, bias!, mean!, variance!, { axis, eps: c.eps, momentum: c.momentum });
  // The node wants (N, C, …): channels-last x goes through (-1, C), as batchNorm used to emit it.
  const input = c.channelsLast ? b.Reshape(x, [-1, ch]) : x;
  const node = b.BatchNormalization(input, scale!, bias!, mean!, variance!, { epsilon: c.eps, momentum: 1 - c.momentum, training: true });
  b.output(prim.y, 'prim.y');
  b.output(prim.runningMean, 'prim.mean');
  b.output(prim.runningVar, 'prim.var');
  b.output(c.channelsLast ? b.Reshape(node.y, c.shape) : node.y, 'node.y');
  b.output(node.runningMean!, 'node.mean');
  b.output(node.runningVar!, 'node.var');
  return { b, ch };
}

/** max |a − want| and max |a − want| / max(1, |want|): float32 rounds a y of 8 to a step of 9.5e-7. */
function diffs(a: Tensor, want: Tensor): { abs: number; rel: number } {
  const w = values(want);
  return values(a).reduce((m, v, i) => {
    const d = Math.abs(v - w[i]!);
    return { abs: Math.max(m.abs, d), rel: Math.max(m.rel, d / Math.max(1, Math.abs(w[i]!))) };
  }, { abs: 0, rel: 0 });
}

describe('training-mode BatchNorm from primitives equals ONNX Runtime\'s BatchNormalization node', () => {
  CASES.forEach((c, i) => {
    test(c.name, async (t) => {
      const { b, ch } = build(c);
      const session = await sessionOf(b);
      const rng = Rng.fromSeed(i + 1, `batchnorm/${c.name}`);
      for (let draw = 0; draw < 3; draw++) {
        const x = randomTensor(rng, 'float32', c.shape);
        const feeds: Record<string, Tensor> = {
          x: { ...x, data: Float32Array.from(x.data as Float32Array, (v) => v * c.scaleBy + 0.5) },
          scale: randomTensor(rng, 'float32', [ch]),
          bias: randomTensor(rng, 'float32', [ch]),
          mean: randomTensor(rng, 'float32', [ch]),
          var: randomTensor(rng, 'float32', [ch], 'positive'),
        };
        const out = await runGraph(session, feeds);
        const found = ['y', 'mean', 'var'].map((k) => [k, diffs(out[`prim.${k}`]!, out[`node.${k}`]!)] as const);
        t.diagnostic(`draw ${draw}: max |primitives − node| ${found.map(([k, d]) => `${k} ${d.abs.toExponential(2)} (relative ${d.rel.toExponential(2)})`).join(', ')}`);
        for (const [k, d] of found) assert.ok(d.rel <= 1e-6, `${c.name}, draw ${draw}: ${k} differs by ${d.abs} (relative ${d.rel} > 1e-6)`);
      }
    });
  });
});
