// Feeds for a training graph: random video(s), sampled positions, labels, and the graph's own initial state.
import type { TrainGraph } from '../../src/graph/model/graphs.ts';
import { samplePositions } from '../../src/graph/model/positions.ts';
import type { ModelSpec } from '../../src/graph/model/spec.ts';
import { tensor, type Tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { randomTensor } from '../helpers.ts';

export function feedsFor(spec: ModelSpec, tg: TrainGraph, seed = 7): Record<string, Tensor> {
  const rng = Rng.fromSeed(seed, 'feeds');
  const feeds: Record<string, Tensor> = {};
  const names = new Set(tg.builder.graph.inputs.map((v) => v.name));
  const shape = [spec.batch, spec.frames, spec.height, spec.width, 3];
  for (const v of ['video', 'video2']) if (names.has(v)) feeds[v] = randomTensor(rng, 'float32', shape);
  if (names.has('labels')) feeds.labels = tensor('int64', [spec.batch], Array.from({ length: spec.batch }, () => rng.int(spec.numClasses)));
  Object.assign(feeds, samplePositions(tg.positions, rng));
  if (names.has('dropout_seed')) feeds.dropout_seed = tensor('int64', [], [12345]);
  for (const p of [...tg.builder.params, ...tg.builder.buffers]) feeds[p.value.name] = p.init;
  return feeds;
}
