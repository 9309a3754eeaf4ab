// The reverse-mode walker's shared work: broadcast reduction, fan-in, unreachable and frozen values, stop-gradient
// walls and non-differentiable ops, asking rules only for the inputs that need a gradient, and its errors. Values are
// checked through onnxruntime-node; structure by counting emitted nodes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AutodiffError, GRAD_RULES, gradients, NOT_DIFFERENTIABLE, NOT_IMPLEMENTED, type GradEntry, type GradRule,
} from '../../src/graph/autodiff/index.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { isFloat } from '../../src/graph/dtype.ts';
import type { Node, Value } from '../../src/graph/ir.ts';
import { OPS } from '../../src/graph/ops/index.ts';
import { tensor, type Tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { randomTensor, runGraph, sessionOf, values } from '../helpers.ts';
import { GRAD_CASES } from './grad-cases.ts';

const f64 = 'float64';

/** Runs `gradients` and returns the gradients with the nodes it appended. */
function backward(b: GraphBuilder, loss: Value, wrt: Value[]): { grads: (Value | undefined)[]; nodes: Node[] } {
  const before = b.graph.nodes.length;
  const grads = gradients(b, loss, wrt);
  return { grads, nodes: b.graph.nodes.slice(before) };
}

/** Forward values (not produced by the backward pass) that backward nodes read. */
function forwardReads(nodes: readonly Node[]): Set<string> {
  const emitted = new Set(nodes.flatMap((n) => n.outputs.map((v) => v.name)));
  return new Set(nodes.flatMap((n) => n.inputs.flatMap((v) => (v && !emitted.has(v.name) && v.kind !== 'const' ? [v.name] : []))));
}

async function run(b: GraphBuilder, outputs: Record<string, Value>, feeds: Record<string, Tensor>): Promise<Record<string, number[]>> {
  for (const [name, v] of Object.entries(outputs)) b.output(v, name);
  const out = await runGraph(await sessionOf(b), feeds);
  return Object.fromEntries(Object.keys(outputs).map((k) => [k, values(out[k]!)]));
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= 1e-9 * (1 + Math.abs(expected[i]!)), `${what}[${i}]: ${a}, expected ${expected[i]}`));
}

describe('walker: broadcasting', () => {
  test('gradients of broadcast inputs are summed back to their shapes', async () => {
    const rng = Rng.fromSeed(1, 'walker.broadcast');
    const b = new GraphBuilder('broadcast');
    const x = b.input('x', f64, [2, 3]);
    const row = b.input('row', f64, [3]);
    const col = b.input('col', f64, [2, 1]);
    const w = randomTensor(rng, f64, [2, 3]);
    // loss = Σ w ⊙ (x + row + col): d x = w, d row = Σ_i w[i,:], d col = Σ_j w[:,j]
    const loss = b.ReduceSum(b.Mul(b.Add(b.Add(x, row), col), b.constant(w)), undefined, false);
    const { grads } = backward(b, loss, [x, row, col]);
    assert.deepEqual(grads.map((g) => g?.shape), [[2, 3], [3], [2, 1]]);
    const feeds = { x: randomTensor(rng, f64, [2, 3]), row: randomTensor(rng, f64, [3]), col: randomTensor(rng, f64, [2, 1]) };
    const r = await run(b, { dx: grads[0]!, drow: grads[1]!, dcol: grads[2]! }, feeds);
    const wv = values(w);
    assertClose(r.dx!, wv, 'd x');
    assertClose(r.drow!, [0, 1, 2].map((j) => wv[j]! + wv[3 + j]!), 'd row');
    assertClose(r.dcol!, [0, 1].map((i) => wv[3 * i]! + wv[3 * i + 1]! + wv[3 * i + 2]!), 'd col');
  });
});

describe('walker: fan-out', () => {
  test('a value used three times gets one summed gradient', async () => {
    const rng = Rng.fromSeed(2, 'walker.fanout');
    const b = new GraphBuilder('fanout');
    const x = b.input('x', f64, [2, 3]);
    const w = b.input('w', f64, [3]);
    const y = b.Mul(x, w); // Mul_0, (2,3)
    // loss = Σ exp(y) + Σ tanh(y) + Σ 3y: dL/dy = exp(y) + 1 - tanh²(y) + 3
    const loss = b.ReduceSum(b.Add(b.Add(b.Exp(y), b.Tanh(y)), b.Mul(y, b.scalar(3, f64))), undefined, false);
    const { grads, nodes } = backward(b, loss, [w]);
    const names = nodes.map((n) => n.name);
    // Three contributions to dy, two Adds to sum them; y's own rule (dw = dy·x) runs once, on the sum.
    const fanIn = nodes.filter((n) => /^grad\/Add_\d+$/.test(n.name) && n.outputs[0]!.shape.join() === '2,3');
    assert.equal(fanIn.length, 2, `accumulation Adds: ${names.join(', ')}`);
    const rule = nodes.filter((n) => n.name.startsWith('grad/Mul_0/'));
    assert.deepEqual(rule.map((n) => n.opType), ['Mul']);
    assert.ok(rule[0]!.inputs.includes(fanIn[1]!.outputs[0]!), 'the rule of y reads the summed gradient');

    const feeds = { x: randomTensor(rng, f64, [2, 3]), w: randomTensor(rng, f64, [3]) };
    const r = await run(b, { dw: grads[0]! }, feeds);
    const xv = values(feeds.x);
    const wv = values(feeds.w);
    const expected = [0, 1, 2].map((j) =>
      [0, 1].reduce((s, i) => {
        const yv = xv[3 * i + j]! * wv[j]!;
        return s + xv[3 * i + j]! * (Math.exp(yv) + 1 - Math.tanh(yv) ** 2 + 3);
      }, 0),
    );
    assertClose(r.dw!, expected, 'd w');
  });
});

describe('walker: unreachable and unused values', () => {
  function build(): { b: GraphBuilder; loss: Value; w: Value; unusedInput: Value; auxParam: Value; aux: Value } {
    const b = new GraphBuilder('unreachable');
    const x = b.input('x', f64, [2, 3]);
    const unusedInput = b.input('unused', f64, [4]);
    const w = b.param('w', tensor(f64, [3, 2]));
    const auxParam = b.param('aux.w', tensor(f64, [3, 5]));
    const aux = b.Tanh(b.MatMul(x, auxParam)); // an output of its own, not part of the loss
    b.output(aux, 'aux');
    const loss = b.ReduceSum(b.Relu(b.MatMul(x, w)), undefined, false);
    return { b, loss, w, unusedInput, auxParam, aux };
  }

  test('get undefined and emit no backward node', () => {
    const g = build();
    const { grads, nodes } = backward(g.b, g.loss, [g.w, g.unusedInput, g.auxParam]);
    assert.ok(grads[0]);
    assert.equal(grads[1], undefined);
    assert.equal(grads[2], undefined);
    const reads = forwardReads(nodes);
    for (const v of [g.unusedInput, g.auxParam, g.aux, g.aux.producer!.inputs[0]!]) assert.ok(!reads.has(v.name), `backward reads ${v.name}`);

    const alone = build();
    const only = backward(alone.b, alone.loss, [alone.w]);
    assert.deepEqual(nodes.map((n) => n.name), only.nodes.map((n) => n.name), 'asking for unreachable values adds no node');
  });
});

describe('walker: frozen parameters', () => {
  // h = tanh(x·w1) (frozen layer), y = h·w2, loss = Σ y²
  function build(): { b: GraphBuilder; loss: Value; x: Value; w1: Value; w2: Value } {
    const b = new GraphBuilder('frozen');
    const x = b.input('x', f64, [2, 3]);
    const [w1, w2] = [b.param('w1', tensor(f64, [3, 4])), b.param('w2', tensor(f64, [4, 2]))];
    const h = b.Tanh(b.MatMul(x, w1));
    const y = b.MatMul(h, w2);
    return { b, loss: b.ReduceSum(b.Mul(y, y), undefined, false), x, w1, w2 };
  }

  test('a parameter outside wrt gets no gradient and no node computes only its gradient', async () => {
    const frozen = build();
    const part = backward(frozen.b, frozen.loss, [frozen.w2]);
    const full = build();
    const all = backward(full.b, full.loss, [full.w1, full.w2]);
    // dh = dy·w2ᵀ, the tanh rule and dw1 = xᵀ·dh exist only for w1's sake.
    const reads = forwardReads(part.nodes);
    for (const v of [frozen.x, frozen.w1, frozen.w2]) assert.ok(!reads.has(v.name), `backward reads ${v.name}`);
    assert.deepEqual(part.nodes.filter((n) => /^grad\/(Tanh_0|MatMul_0)\//.test(n.name)), []);
    assert.ok(all.nodes.some((n) => n.name.startsWith('grad/Tanh_0/')));
    assert.ok(part.nodes.length < all.nodes.length, `${part.nodes.length} nodes with w1 frozen, ${all.nodes.length} without`);

    const rng = Rng.fromSeed(3, 'walker.frozen');
    const feeds = { x: randomTensor(rng, f64, [2, 3]), w1: randomTensor(rng, f64, [3, 4]), w2: randomTensor(rng, f64, [4, 2]) };
    const a = await run(frozen.b, { dw2: part.grads[0]! }, feeds);
    const c = await run(full.b, { dw2: all.grads[1]! }, feeds);
    assertClose(a.dw2!, c.dw2!, 'd w2 with w1 frozen');
  });
});

describe('walker: stop-gradient walls', () => {
  // upstream: h = tanh(x·w1); wall (or a plain Identity); downstream: y = h'·w2, loss = Σ y²
  function build(wall: 'stopGradient' | 'identity' | 'input') {
    const b = new GraphBuilder('wall');
    const w2 = b.param('w2', tensor(f64, [4, 2]));
    let upstream: Value[] = [];
    let h2: Value;
    if (wall === 'input') {
      h2 = b.input('h', f64, [2, 4]);
    } else {
      const x = b.input('x', f64, [2, 3]);
      const w1 = b.param('w1', tensor(f64, [3, 4]));
      const m = b.MatMul(x, w1);
      const h = b.Tanh(m);
      upstream = [x, w1, m, h];
      h2 = wall === 'stopGradient' ? b.stopGradient(h) : b.Identity(h);
    }
    const y = b.MatMul(h2, w2);
    const loss = b.ReduceSum(b.Mul(y, y), undefined, false);
    const wrt = wall === 'input' ? [w2] : [b.params.find((p) => p.value.name === 'w1')!.value, w2];
    return { b, loss, wrt, upstream };
  }

  test('nothing upstream of the wall gets a backward node', () => {
    const walled = build('stopGradient');
    const w = backward(walled.b, walled.loss, walled.wrt);
    const open = build('identity');
    const o = backward(open.b, open.loss, open.wrt);
    assert.equal(w.grads[0], undefined, 'w1 is behind the wall');
    assert.ok(w.grads[1] && o.grads[0] && o.grads[1]);

    const walledReads = forwardReads(w.nodes);
    for (const v of walled.upstream) assert.ok(!walledReads.has(v.name), `a backward node reads ${v.name}, upstream of the wall`);
    const openReads = forwardReads(o.nodes);
    assert.ok(openReads.has('x') && openReads.has('Tanh_0'), 'without the wall the upstream rules read x and tanh');

    // With the wall, the backward pass is exactly that of the downstream graph fed from an input.
    const cut = build('input');
    const c = backward(cut.b, cut.loss, cut.wrt);
    assert.deepEqual(w.nodes.map((n) => n.opType), c.nodes.map((n) => n.opType));
    assert.ok(w.nodes.length < o.nodes.length, `${w.nodes.length} backward nodes with the wall, ${o.nodes.length} without`);
  });

  test('a loss reachable only through walls emits no backward node at all', () => {
    const b = new GraphBuilder('walled');
    const w = b.input('w', f64, [3]);
    const loss = b.ReduceSum(b.Mul(b.stopGradient(b.Exp(w)), b.stopGradient(w)), undefined, false);
    const { grads, nodes } = backward(b, loss, [w]);
    assert.deepEqual(grads, [undefined]);
    assert.deepEqual(nodes, []);
  });
});

describe('walker: errors', () => {
  test('a missing rule on the gradient path names the node and the op', () => {
    const b = new GraphBuilder('missing');
    const x = b.input('x', f64, [4]);
    const y = b.scope('time', () => b.ScatterND(x, b.constant(tensor('int64', [1, 1], [2])), b.input('u', f64, [1])));
    const loss = b.ReduceSum(y, undefined, false);
    assert.throws(() => gradients(b, loss, [x]), {
      name: 'AutodiffError',
      message: 'time/ScatterND_0: no gradient rule for op ScatterND (add one to src/graph/autodiff/rules)',
    });
  });

  test('an op without a rule off the gradient path is fine', () => {
    const b = new GraphBuilder('offpath');
    const x = b.input('x', f64, [4]);
    const side = b.ScatterND(b.input('z', f64, [4]), b.constant(tensor('int64', [1, 1], [2])), b.input('u', f64, [1]));
    const loss = b.ReduceSum(b.Mul(b.Exp(x), side), undefined, false);
    assert.ok(gradients(b, loss, [x])[0]);
  });

  test('a non-scalar loss is refused', () => {
    const b = new GraphBuilder('nonscalar');
    const x = b.input('x', f64, [2, 3]);
    assert.throws(() => gradients(b, b.Exp(x), [x]), { name: 'AutodiffError', message: 'gradients: loss "Exp_0" must be a scalar, got shape [2,3]' });
  });

  test('a rule breaking its contract is an error naming the node and the op', () => {
    const rules = GRAD_RULES as Record<string, GradEntry>;
    const neg = rules.Neg!;
    const cases: [GradRule, string][] = [
      [({ b, dy }) => [() => b.Transpose(dy[0]!, [1, 0])], 'Neg_0: gradient for input 0 has shape [3,2], expected [2,3]'],
      [({ b, dy }) => [() => b.Cast(dy[0]!, 'float32')], 'Neg_0: gradient for input 0 has dtype float32, expected float64'],
      [({ dy }) => [() => dy[0]!, () => dy[0]!], 'Neg_0: the Neg rule returned 2 gradients, expected 1 (one per input)'],
      [() => [], 'Neg_0: the Neg rule returned 0 gradients, expected 1 (one per input)'],
      [
        ({ b, dy }) => {
          const d = b.Neg(dy[0]!);
          return [() => d];
        },
        'Neg_0: the Neg rule built nodes before any gradient was asked for (build them in the per-input functions; share work with once())',
      ],
    ];
    try {
      for (const [rule, message] of cases) {
        rules.Neg = rule;
        const b = new GraphBuilder('badrule');
        const x = b.input('x', f64, [2, 3]);
        const loss = b.ReduceSum(b.Neg(x), undefined, false);
        assert.throws(() => gradients(b, loss, [x]), (e) => e instanceof AutodiffError && e.message === message && e.where.node === 'Neg_0' && e.where.op === 'Neg');
      }
    } finally {
      rules.Neg = neg;
    }
  });

  test('a rule error names the node, the input and the shapes', () => {
    const b = new GraphBuilder('vector');
    const v = b.input('v', f64, [4]);
    const m = b.input('m', f64, [4, 3]);
    const loss = b.ReduceSum(b.scope('head', () => b.MatMul(v, m)), undefined, false);
    assert.throws(() => gradients(b, loss, [v, m]), (e) => {
      assert.ok(e instanceof AutodiffError);
      assert.equal(e.message, 'head/MatMul_0: gradient for input 0 (float64[4]): the MatMul gradient needs rank ≥ 2 inputs, got [4] and [4,3] (unsqueeze vectors first)');
      assert.deepEqual(e.where, { node: 'head/MatMul_0', op: 'MatMul', input: 0 });
      return true;
    });
  });
});

describe('walker: the gradient table', () => {
  test('has an entry for every op of the vocabulary and nothing else', () => {
    assert.deepEqual(Object.keys(GRAD_RULES).sort(), Object.keys(OPS).sort());
    const markers = Object.entries(GRAD_RULES).filter(([, e]) => typeof e !== 'function');
    for (const [op, e] of markers) assert.ok(e === NOT_DIFFERENTIABLE || e === NOT_IMPLEMENTED, `${op}: ${String(e)}`);
  });

  test('a non-differentiable op is a wall: no gradient and no backward node behind it', async () => {
    const b = new GraphBuilder('sign');
    const x = b.input('x', f64, [5]);
    // loss = Σ sign(x) is piecewise constant: no gradient at all.
    assert.deepEqual(backward(b, b.ReduceSum(b.Sign(x), undefined, false), [x]), { grads: [undefined], nodes: [] });
    // loss = Σ x·sign(x) = Σ |x|: d x = sign(x), from the Mul rule alone.
    const { grads, nodes } = backward(b, b.ReduceSum(b.Mul(x, b.Sign(x)), undefined, false), [x]);
    assert.deepEqual(nodes.filter((n) => n.name.includes('Sign_')), []);
    const feeds = { x: randomTensor(Rng.fromSeed(4, 'walker.sign'), f64, [5], 'away') };
    const r = await run(b, { dx: grads[0]! }, feeds);
    assertClose(r.dx!, values(feeds.x).map(Math.sign), 'd x');
  });
});

/** Backward nodes that feed none of `grads`. */
function deadNodes(nodes: readonly Node[], grads: readonly (Value | undefined)[]): string[] {
  const needed = new Set<Value>(grads.filter((g): g is Value => !!g));
  const live = new Set<Node>();
  for (const n of [...nodes].reverse()) {
    if (!n.outputs.some((y) => needed.has(y))) continue;
    live.add(n);
    for (const v of n.inputs) if (v) needed.add(v);
  }
  return nodes.filter((n) => !live.has(n)).map((n) => `${n.name} = ${n.opType}`);
}

describe('walker: only the inputs that need a gradient', () => {
  // Every sample case of every rule, differentiated w.r.t. each input alone and all together.
  test('no rule builds a node for an input nobody wants', () => {
    const found: string[] = [];
    for (const [op, cases] of Object.entries(GRAD_CASES)) {
      for (const c of cases) {
        const differentiable = c.inputs.flatMap((spec, i) => (spec.fixed || !isFloat(c.dtype) ? [] : [i]));
        const subsets = differentiable.length > 1 ? [...differentiable.map((i) => [i]), differentiable] : [differentiable];
        for (const wanted of subsets) {
          const b = new GraphBuilder('wanted');
          const xs = c.inputs.map((spec, i) => b.input(`x${i}`, spec.fixed?.dtype ?? c.dtype, spec.shape));
          const out = c.build(b, xs);
          const loss = b.ReduceSum(out.dtype === f64 ? out : b.Cast(out, f64), undefined, false);
          const { grads, nodes } = backward(b, loss, wanted.map((i) => xs[i]!));
          const dead = deadNodes(nodes, grads);
          if (dead.length) found.push(`${op} ${c.name}, gradients of inputs [${wanted.join(',')}]: ${dead.join(', ')}`);
        }
      }
    }
    assert.deepEqual(found, [], `backward nodes that feed no requested gradient:\n${found.join('\n')}`);
  });
});
