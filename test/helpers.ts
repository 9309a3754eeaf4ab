// Shared test helpers: random tensors from the project's seeded PRNG, and running IR graphs in onnxruntime-node.
import * as ort from 'onnxruntime-node';
import type { GraphBuilder } from '../src/graph/builder.ts';
import type { DType } from '../src/graph/dtype.ts';
import { encodeModel } from '../src/graph/onnx.ts';
import { tensor, type Tensor } from '../src/graph/tensor.ts';
import { Rng } from '../src/rng.ts';
import { createSession, fromOrt, runChecked, toOrt } from '../src/runtime/session.ts';

export type Draw = 'normal' | 'positive' | 'away' | 'distinct';

export function randomTensor(rng: Rng, dtype: DType, shape: number[], draw: Draw = 'normal'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values: number[] = [];
  if (draw === 'distinct') {
    const perm = rng.permutation(n);
    for (let i = 0; i < n; i++) values.push((perm[i]! - n / 2) * 0.37);
  } else {
    for (let i = 0; i < n; i++) {
      if (draw === 'positive') values.push(rng.range(0.5, 2));
      else if (draw === 'away') values.push((rng.bernoulli(0.5) ? 1 : -1) * rng.range(0.2, 1.2));
      else values.push(rng.normal());
    }
  }
  return tensor(dtype, shape, values);
}

export async function sessionOf(b: GraphBuilder, threads = 1): Promise<ort.InferenceSession> {
  return createSession(encodeModel(b.graph).model, { threads });
}

export async function runGraph(session: ort.InferenceSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const out = await runChecked(session, Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v)])));
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, fromOrt(v)]));
}

export const values = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);
