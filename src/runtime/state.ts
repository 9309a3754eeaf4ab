// A run's state as the steppers hold it: parameters, buffers, optimizer state and EMA copies, as ORT tensors by name.
// A step's outputs (`<name>.new`) replace its entries, so values cross into JavaScript only for checkpoints.
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import type { Manifest } from '../graph/artifacts.ts';
import { readSafetensors } from '../graph/safetensors.ts';
import type { Tensor } from '../graph/tensor.ts';
import { fromOrt, toOrt } from './session.ts';

export type State = Map<string, ort.Tensor>;

/** Names and shapes of everything a run's state (and so its checkpoint) holds: parameters, buffers, optimizer state. */
export function stateShapes(m: Manifest): Map<string, readonly number[]> {
  const shapes = new Map<string, readonly number[]>();
  for (const g of Object.values(m.graphs)) for (const i of g.inputs) shapes.set(i.name, i.shape as number[]);
  const out = new Map<string, readonly number[]>();
  for (const e of Object.values(m.groups)) for (const n of [...e.params, ...e.buffers, ...e.state]) out.set(n, shapes.get(n)!);
  for (const n of [...(m.ema?.params ?? []), ...(m.ema?.buffers ?? [])]) out.set(n, shapes.get(n)!);
  return out;
}

/** The state at step 0: initial parameters and buffers from the artifacts, optimizer state at zero. */
export function initialState(artifactsDir: string, m: Manifest): State {
  const init = readSafetensors(join(artifactsDir, m.initial)).tensors;
  const zeros = (shape: readonly number[]): Tensor => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  return new Map([...stateShapes(m)].map(([n, shape]) => [n, toOrt(init.get(n) ?? zeros(shape))]));
}

/** The entries `names` of `tensors` (a checkpoint's), as state. */
export const stateOf = (tensors: ReadonlyMap<string, Tensor>, names: Iterable<string>): State => new Map([...names].map((n) => [n, toOrt(tensors.get(n)!)]));

/** The state (or its entries `names`) as plain tensors sharing the data, e.g. for a checkpoint. */
export const tensorsOf = (state: ReadonlyMap<string, ort.Tensor>, names: Iterable<string> = state.keys()): Map<string, Tensor> =>
  new Map([...names].map((n) => [n, fromOrt(state.get(n)!)]));
