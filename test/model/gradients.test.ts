// Each group's gradients from the generated graph against central finite differences of that group's loss, through
// onnxruntime-node, for a tiny config of every task. Directional derivatives along random directions over all of a
// group's parameters keep the float32 check well above rounding noise.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { clsTrainGraph, mineTrainGraph, vicregTrainGraph, type TrainGraph } from '../../src/graph/model/graphs.ts';
import { gradName } from '../../src/graph/names.ts';
import type { ModelSpec } from '../../src/graph/model/spec.ts';
import type { Tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { runGraph, sessionOf, values } from '../helpers.ts';
import { feedsFor } from './feeds.ts';
import { tiny } from './specs.ts';

/**
 * Stop-gradient semantics: the gradient ignores how targets move with the parameters. So the finite differences hold
 * every wall value at its base value: one run outputs the walls, then a copy of the graph takes them as inputs.
 */
async function wallSessions(tg: TrainGraph, feeds: Record<string, Tensor>) {
  const g = tg.builder.graph;
  const live = new Set(g.nodes.flatMap((n) => n.outputs));
  const walls = [...tg.builder.walls].filter((w) => live.has(w));
  const outputs = g.outputs;
  g.outputs = [...outputs, ...walls];
  const base = await runGraph(await sessionOf(tg.builder), feeds);
  g.outputs = outputs;
  const nodes = g.nodes;
  const inputs = g.inputs;
  g.nodes = nodes.filter((n) => !walls.includes(n.outputs[0]!));
  g.inputs = [...inputs, ...walls];
  const held = await sessionOf(tg.builder);
  g.nodes = nodes;
  g.inputs = inputs;
  const wallFeeds = Object.fromEntries(walls.map((w) => [w.name, base[w.name]!]));
  return { base, held, feeds: { ...feeds, ...wallFeeds } };
}

async function directional(spec: ModelSpec, tg: TrainGraph, loss: string, directions = 2): Promise<void> {
  const { base, held: session, feeds } = await wallSessions(tg, feedsFor(spec, tg));
  const rng = Rng.fromSeed(3, loss);
  for (let d = 0; d < directions; d++) {
    const dirs = new Map<string, Float32Array>();
    let analytic = 0;
    for (const p of tg.params) {
      const v = new Float32Array(p.init.data.length).map(() => rng.normal());
      dirs.set(p.value.name, v);
      const g = values(base[gradName(p.value.name)]!);
      for (let i = 0; i < v.length; i++) analytic += g[i]! * v[i]!;
    }
    // Small enough that curvature (BatchNorm over few rows) stays below the tolerance, large enough for float32.
    const eps = 1e-4;
    const at = async (sign: number) => {
      const shifted: Record<string, Tensor> = { ...feeds };
      for (const p of tg.params) {
        const v = dirs.get(p.value.name)!;
        const data = (p.init.data as Float32Array).map((x, i) => x + sign * eps * v[i]!);
        shifted[p.value.name] = { ...p.init, data };
      }
      return values((await runGraph(session, shifted))[loss]!)[0]!;
    };
    const numeric = ((await at(1)) - (await at(-1))) / (2 * eps);
    const err = Math.abs(numeric - analytic);
    assert.ok(err <= 2e-3 + 3e-2 * Math.abs(numeric), `${loss}: directional derivative analytic ${analytic} vs finite difference ${numeric}`);
  }
}

describe('model gradients against finite differences (tiny configs, onnxruntime-node)', () => {
  // tiny's output norms and predictor norms are BatchNorms: in training mode, nn/layers.ts batchNormTrain's primitives.
  // The conv stems (conv-BN-ReLU, S3D's MaxPool) have no row: their ReLU and MaxPool kinks make a float32 finite
  // difference of the whole loss wander by 10-20% as the step goes from 1e-2 to 3e-5; test/graph/grad-cases.ts checks
  // those ops one by one.
  const mine = tiny();
  for (const g of mine.groups) {
    test(`mine: group ${g} (every group, causal time, non-causal clip)`, () => directional(mine, mineTrainGraph(mine, [g], 11), `loss.${g}`));
  }
  const side = tiny({ groups: ['space', 'time', 'clip'], clip: { ...mine.clip, causal: true }, time: { ...mine.time, causal: false }, loss: { ...mine.loss, fn: 'cosine', side: { enabled: true, stdDivisor: 3 }, downTarget: 'any_frame' } });
  for (const g of side.groups) {
    test(`mine with side terms, any_frame, cosine: group ${g}`, () => directional(side, mineTrainGraph(side, [g], 12), `loss.${g}`));
  }
  const anchored = tiny({ loss: { ...mine.loss, downTarget: 'anchored', summaryTarget: 'anchored' } });
  for (const g of ['space', 'time', 'clip'] as const) {
    test(`mine with anchored down targets: group ${g}`, () => directional(anchored, mineTrainGraph(anchored, [g], 18), `loss.${g}`));
  }
  const dropped = tiny({ space: { ...mine.space, dropout: 0.3 }, time: { ...mine.time, dropout: 0.2 } });
  for (const g of ['space', 'time'] as const) {
    test(`mine with dropout (fixed seed): group ${g}`, () => directional(dropped, mineTrainGraph(dropped, [g], 17), `loss.${g}`));
  }
  const ema = tiny({ targets: 'ema' });
  for (const g of ['space', 'clip'] as const) {
    test(`mine with EMA targets: group ${g}`, () => directional(ema, mineTrainGraph(ema, [g], 16), `loss.${g}`));
  }
  const otherView = tiny({ targets: 'ema', otherViewTerms: ['up', 'summary'], loss: { ...mine.loss, downTarget: 'anchored', summaryTarget: 'anchored', view: { enabled: true, fn: 'cosine' } } });
  for (const g of ['space', 'clip'] as const) {
    test(`mine with EMA targets on another view, anchored, view term: group ${g}`, () => directional(otherView, mineTrainGraph(otherView, [g], 19), `loss.${g}`));
  }
  for (const fn of ['ce', 'vicreg'] as const) {
    const spec = tiny({ groups: ['space', 'time'], time: { ...mine.time, clips: 1 }, predictor: { hidden: [6], norm: 'layernorm' }, loss: { ...mine.loss, fn } });
    test(`mine with ${fn} loss and MLP predictors: group space`, () => directional(spec, mineTrainGraph(spec, ['space'], 13), 'loss.space'));
  }
  // BatchNorm over the 4 video tokens of a batch is too curved for a float32 finite difference; mine covers it.
  const e2e = tiny({ groups: ['space', 'time'], time: { ...mine.time, clips: 1 }, outputNorm: 'layernorm' });
  test('vicreg: one optimizer over encoder and projector', () => directional({ ...e2e, task: 'vicreg' }, vicregTrainGraph({ ...e2e, task: 'vicreg' }, 14), 'loss.vicreg'));
  test('cls: encoder and head with NLL', () => directional({ ...e2e, task: 'cls' }, clsTrainGraph({ ...e2e, task: 'cls' }, 15), 'loss.cls'));
});
