// The ONNX Loop of the typed builder and the step loop graph (train.steps_per_run): a Loop runs in onnxruntime-node
// with carried values, scanned outputs and values read from the outer graph; every malformed Loop fails naming the
// node and what is wrong; the step loop graph keeps the step graph's names outside, prefixes them inside, stacks the
// per-step inputs and outputs along K, and encodes to the same bytes every time.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { modelSpec } from '../../src/graph/model/from-config.ts';
import { stepGraph } from '../../src/graph/model/graphs.ts';
import { BLOCK, BODY, stateInputs, stepLoopGraph } from '../../src/graph/model/step-loop.ts';
import { newName } from '../../src/graph/names.ts';
import { encodeModel } from '../../src/graph/onnx.ts';
import { tensor } from '../../src/graph/tensor.ts';
import { runGraph, sessionOf, values } from '../helpers.ts';

/** s ← s + x[i] for each row i of x (K, 2), outer `w` scaling each row: carries s (2), scans s·2 (2). */
function sumLoop(o: { badCarriedShape?: boolean; clash?: boolean } = {}): { b: GraphBuilder; body: Graph; x: ReturnType<GraphBuilder['input']>; s: ReturnType<GraphBuilder['input']> } {
  const b = new GraphBuilder('sum');
  const x = b.input('x', 'float32', ['K', 2]);
  const w = b.input('w', 'float32', [2]);
  const s = b.input('s', 'float32', [2]);
  const body = new GraphBuilder('sum.body');
  const i = body.input('loop/i', 'int64', []);
  const cond = body.input('loop/cond', 'bool', []);
  const carried = body.input(o.clash ? 'w' : 'loop/s', 'float32', o.badCarriedShape ? [1] : [2]);
  const next = body.scope('loop', () => body.Add(carried, body.Mul(body.Gather(x, i, 0), w)));
  body.graph.outputs = [body.scope('loop', () => body.Identity(cond)), next, body.scope('loop', () => body.Add(next, next))];
  return { b, body: body.graph, x, s };
}

describe('Loop in the typed builder', () => {
  test('carried values, scanned outputs and outer values, run by onnxruntime-node', async () => {
    const { b, body, x, s } = sumLoop();
    const trips = b.Gather(b.Shape(x), b.constant(tensor('int64', [], [0])));
    const [final, scanned] = b.Loop(trips, [s], body, 'K');
    assert.deepEqual(final!.shape, [2]);
    assert.deepEqual(scanned!.shape, ['K', 2]);
    b.output(final!, 'final');
    b.output(scanned!, 'scanned');
    const out = await runGraph(await sessionOf(b), {
      x: tensor('float32', [3, 2], [1, 2, 3, 4, 5, 6]),
      w: tensor('float32', [2], [1, 10]),
      s: tensor('float32', [2], [0.5, 0.5]),
    });
    assert.deepEqual(values(out.final!), [9.5, 120.5]);
    assert.deepEqual(out.scanned!.shape, [3, 2]);
    assert.deepEqual(values(out.scanned!), [3, 41, 9, 121, 19, 241]);
  });

  const bad: [string, (l: ReturnType<typeof sumLoop>) => void, RegExp][] = [
    ['a trip count that is not an int64 scalar', ({ b, body, s }) => b.Loop(b.input('n', 'float32', []), [s], body, 'K'), /Loop_0 \(Loop\): the trip count "n" must be an int64 scalar, got float32\[\]$/],
    ['a body without iteration and condition first', ({ b, s }) => {
      const body = new GraphBuilder('nothing');
      body.graph.outputs = [body.input('v', 'float32', [2])];
      b.Loop(b.input('n', 'int64', []), [s], body.graph, 'K');
    }, /Loop_0 \(Loop\): the body must take \(iteration int64, condition bool, \.\.\.carried\) first$/],
    ['carried values the body does not take', ({ b, body, s }) => b.Loop(b.input('n', 'int64', []), [s, s], body, 'K'), /Loop_0 \(Loop\): the body takes 1 carried values, got 2$/],
    ['a body returning fewer values than it carries', ({ b, body, s }) => {
      body.outputs = [body.outputs[0]!];
      b.Loop(b.input('n', 'int64', []), [s], body, 'K');
    }, /Loop_0 \(Loop\): the body returns 1 values, fewer than its condition and 1 carried$/],
    ['a body returning no condition first', ({ b, body, s }) => {
      body.outputs = [body.outputs[1]!, body.outputs[1]!];
      b.Loop(b.input('n', 'int64', []), [s], body, 'K');
    }, /Loop_0 \(Loop\): the body must return its condition \(bool\) first$/],
  ];
  for (const [what, make, message] of bad) test(`refuses ${what}`, () => assert.throws(() => make(sumLoop()), message));

  test('refuses a carried value whose shape differs from the body\'s', () => {
    const l = sumLoop({ badCarriedShape: true });
    assert.throws(() => l.b.Loop(l.b.input('n', 'int64', []), [l.s], l.body, 'K'), /Loop_0 \(Loop\): carried value 0 "s" is float32\[2\], the body's input "loop\/s" float32\[1\]$/);
  });

  test('refuses a body that defines a name of the outer graph', () => {
    const l = sumLoop({ clash: true });
    assert.throws(() => l.b.Loop(l.b.input('n', 'int64', []), [l.s], l.body, 'K'), /Loop_0 \(Loop\): the body defines "w", a name already taken in sum or its body$/);
  });
});

describe('the step loop graph', () => {
  const { config } = loadConfig({ file: 'tiny', set: ['train.batch_size=2', 'arch.targets=ema'] });
  const build = () => {
    const step = stepGraph(modelSpec(config), config.train, config.train.seed);
    return { step, loop: stepLoopGraph(step) };
  };

  test('outside: the step graph\'s names, per-step inputs and outputs stacked along K; inside: every name prefixed', () => {
    const { step, loop } = build();
    const g = step.builder.graph;
    const state = stateInputs(step);
    assert.deepEqual(loop.graph.inputs.map((v) => v.name), g.inputs.map((v) => v.name));
    for (const [i, v] of loop.graph.inputs.entries()) {
      const s = g.inputs[i]!;
      assert.deepEqual(v.shape, state.has(s.name) ? s.shape : [BLOCK, ...s.shape], v.name);
    }
    assert.ok(g.inputs.some((v) => v.name === 'ema_decay') && !state.has('ema_decay'), 'the EMA decay is fed per step');
    assert.deepEqual(loop.graph.outputs.map((v) => v.name).sort(), g.outputs.map((v) => v.name).sort());
    for (const v of loop.graph.outputs) {
      const s = g.outputs.find((o) => o.name === v.name)!;
      const carried = v.name.endsWith('.new') && state.has(v.name.slice(0, -'.new'.length));
      assert.deepEqual(v.shape, carried ? s.shape : [BLOCK, ...s.shape], v.name);
    }
    assert.ok(loop.graph.outputs.some((v) => v.name === newName('ema.space.embed.weight')), 'EMA copies are carried');
    const loopNode = loop.graph.nodes.find((n) => n.opType === 'Loop')!;
    const body = (loopNode.attrs.body as { g: Graph }).g;
    const defined = [...body.inputs, ...body.constants, ...body.nodes.flatMap((n) => n.outputs)].map((v) => v.name);
    assert.deepEqual(defined.filter((n) => !n.startsWith(BODY) && !n.startsWith('loop/')), []);
    assert.equal(new Set(defined).size, defined.length);
    const perStep = loop.graph.inputs.filter((v) => v.shape[0] === BLOCK).length;
    assert.equal(body.nodes.filter((n) => n.name.startsWith('loop/Gather')).length, perStep, 'a Gather per per-step input');
    assert.equal(body.nodes.length, g.nodes.length + perStep + 1, 'the step, the Gathers and the condition');
  });

  test('the same config encodes to the same bytes', () => {
    assert.deepEqual(encodeModel(build().loop.graph).model, encodeModel(build().loop.graph).model);
  });
});
