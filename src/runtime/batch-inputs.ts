// Graph inputs with no ONNX Runtime import, for node's and the browser's alike: the data inputs of one micro-batch as
// host tensors (the caller wraps them): `video` (B, F, H, W, 3), `video2` (the second view of a two-view task),
// `labels` (cls), then the prediction positions and the dropout seed, drawn from `rng` in that order; and a session's
// inputs taken by name from the places that hold them.
import type { Batch } from '../data/batch.ts';
import type { Manifest } from '../graph/artifacts.ts';
import { samplePositions } from '../graph/model/positions.ts';
import { DROPOUT_SEED, LABELS, VIDEO, VIDEO2 } from '../graph/names.ts';
import type { Tensor } from '../graph/tensor.ts';
import type { Rng } from '../rng.ts';

/** Whether the artifacts draw a dropout seed each step (some graph has dropout). */
const takesDropoutSeed = (m: Pick<Manifest, 'graphs'>): boolean => Object.values(m.graphs).some((g) => g.inputs.some((i) => i.name === DROPOUT_SEED));

export function batchInputs(m: Pick<Manifest, 'graphs' | 'video' | 'positions' | 'task'>, rng: Rng, batch: Pick<Batch, 'x' | 'labels'>, second: Pick<Batch, 'x'> | null): Record<string, Tensor> {
  const { frames, height, width } = m.video;
  const shape = [batch.labels.length, frames, height, width, 3];
  const inputs: Record<string, Tensor> = { [VIDEO]: { dtype: 'float32', shape, data: batch.x } };
  Object.assign(inputs, samplePositions(m.positions, rng));
  if (takesDropoutSeed(m)) inputs[DROPOUT_SEED] = { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(rng.nextU32())) };
  if (m.task === 'cls') inputs[LABELS] = { dtype: 'int64', shape: [batch.labels.length], data: BigInt64Array.from(batch.labels, (l) => BigInt(l)) };
  if (second) inputs[VIDEO2] = { dtype: 'float32', shape, data: second.x };
  return inputs;
}

/**
 * Every one of `inputs` that a source holds, from the first source that holds it. What no source holds is left out,
 * for the caller to name.
 */
export function feedsOf<T>(inputs: readonly string[], ...sources: (Readonly<Record<string, T>> | ReadonlyMap<string, T>)[]): Record<string, T> {
  const feeds: Record<string, T> = {};
  for (const name of inputs) {
    for (const s of sources) {
      const t = s instanceof Map ? s.get(name) : (s as Readonly<Record<string, T>>)[name];
      if (t) {
        feeds[name] = t;
        break;
      }
    }
  }
  return feeds;
}
