// Feeds and fetches: scalar tensors, a session's inputs taken by name from the places that hold them, the data
// inputs of one micro-batch (video, second view, labels, prediction positions, dropout seed), and the feeds of a
// block of steps stacked along a leading axis (the step loop graph's inputs) and its per-step outputs read by row.
import * as ort from 'onnxruntime-node';
import type { Batch } from '../data/batch.ts';
import type { Manifest } from '../graph/artifacts.ts';
import type { Rng } from '../rng.ts';
import { batchInputs } from './batch-inputs.ts';
import { toOrt } from './session.ts';

/** A session's inputs by name from the places that hold them; what none holds is left out, for `runChecked` to name. */
export { feedsOf } from './batch-inputs.ts';

/** Graph inputs (or outputs) by name. */
export type Feeds = Record<string, ort.Tensor>;

/** Where feeds come from: a micro-batch's inputs, step-wide scalars, or the run's state. */
export type FeedSource = Readonly<Feeds> | ReadonlyMap<string, ort.Tensor>;

export const f32 = (v: number): ort.Tensor => new ort.Tensor('float32', Float32Array.of(v), []);
export const i64 = (v: number): ort.Tensor => new ort.Tensor('int64', BigInt64Array.of(BigInt(v)), []);
export const scalarOf = (t: ort.Tensor): number => Number((t.data as ArrayLike<number | bigint>)[0]);

/**
 * The feeds `names` of each of `steps` stacked along a new leading block axis: (K, ...dims), step k's data at row k.
 * Every step holds each name, with the same type and dims.
 */
export function stackFeeds(names: readonly string[], steps: readonly Readonly<Feeds>[]): Feeds {
  if (steps.length === 0) throw new Error('stackFeeds: a block of no steps');
  const out: Feeds = {};
  for (const name of names) {
    const first = steps[0]![name];
    if (!first) throw new Error(`stackFeeds: step 0 has no feed ${name}`);
    const n = first.data.length;
    const Data = first.data.constructor as new (length: number) => Float32Array;
    const data = new Data(n * steps.length);
    steps.forEach((s, k) => {
      const t = s[name];
      if (!t || t.type !== first.type || t.dims.join(',') !== first.dims.join(',')) {
        throw new Error(`stackFeeds: step ${k} feeds ${name} as ${t ? `${t.type}[${t.dims.join(',')}]` : 'nothing'}, step 0 as ${first.type}[${first.dims.join(',')}]`);
      }
      data.set(t.data as Float32Array, k * n);
    });
    out[name] = new ort.Tensor(first.type as 'float32', data, [steps.length, ...first.dims]);
  }
  return out;
}

/** Row `k` of a stacked output (K) as a number: step k's value of a per-step scalar. */
export const rowOf = (t: ort.Tensor, k: number): number => Number((t.data as ArrayLike<number | bigint>)[k]);

/** The data inputs of one micro-batch (batch-inputs.ts) as onnxruntime-node tensors. */
export function batchFeeds(m: Manifest, rng: Rng, batch: Pick<Batch, 'x' | 'labels'>, second: Pick<Batch, 'x'> | null): Feeds {
  return Object.fromEntries(Object.entries(batchInputs(m, rng, batch, second)).map(([name, t]) => [name, toOrt(t)]));
}
