// ONNX encoding: round trip, byte-identical determinism, external data loaded by onnxruntime-node from a path,
// symbolic batch dims, and every op of the vocabulary resolving to an ORT CPU kernel at the emitted opset.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { tempDir } from '../temp.ts';
import { gradients } from '../../src/graph/autodiff/index.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Value } from '../../src/graph/ir.ts';
import { decodeModel, encodeModel, reencodeModel, tensorFromProto, type GraphProto } from '../../src/graph/onnx.ts';
import { IR_VERSION, OPSET } from '../../src/graph/ops/index.ts';
import { DTYPE_FROM_ONNX, float32ToFloat16Bits } from '../../src/graph/dtype.ts';
import { tensor, type Tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { createSession } from '../../src/runtime/session.ts';
import { randomTensor, runGraph, sessionOf, values } from '../helpers.ts';

/** A graph with every attribute kind, constants of several dtypes, an omitted optional input, a multi-output node
 *  and a symbolic dim. */
function sampleGraph(): GraphBuilder {
  const rng = Rng.fromSeed(7, 'onnx.sample');
  const b = new GraphBuilder('sample');
  b.graph.doc = 'round-trip sample';
  const x = b.input('x', 'float32', [3, 4, 6]);
  const w = b.scope('enc', () => b.param('proj.weight', randomTensor(rng, 'float32', [6, 6])));
  const h = b.scope('enc', () => b.Gelu(b.MatMul(x, w), 'tanh'));
  const ln = b.LayerNormalization(h, b.constant(randomTensor(rng, 'float32', [6])), null, -1, 1e-6);
  // axes omitted, steps given: (3,4,6) → (2,4,6)
  const sliced = b.Slice(ln.y, [0], [3], undefined, [2]);
  const half = b.constant(tensor('float16', [1], [float32ToFloat16Bits(0.5)]));
  const mask = b.Greater(b.Cast(b.Mul(b.Cast(sliced, 'float16'), half), 'float32'), b.scalar(0));
  b.output(b.Where(mask, sliced, b.scalar(0)), 'y');
  b.output(b.Transpose(b.ConstantOfShape(b.ints([2, 3]), 1.5), [1, 0]), 'c');
  b.output(b.Relu(b.input('n', 'float64', ['B', 6])), 'z');
  return b;
}

describe('ONNX encoding', () => {
  test('encode → decode → encode gives identical bytes and the same graph', () => {
    const b = sampleGraph();
    const { model } = encodeModel(b.graph, { metadata: { vhssl: '1', a: 'b' }, docString: 'doc' });
    const m = decodeModel(model);
    assert.deepEqual(reencodeModel(m), model);
    assert.equal(m.irVersion, BigInt(IR_VERSION));
    assert.deepEqual(m.opsetImport.map((o) => [o.domain, o.version]), [['', BigInt(OPSET)]]);
    assert.deepEqual(m.metadataProps.map((e) => [e.key, e.value]), [['a', 'b'], ['vhssl', '1']], 'metadata sorted by key');
    const g = m.graph!;
    assert.equal(g.docString, 'round-trip sample');
    const sig = (vs: readonly Value[]) => vs.map((v) => `${v.name}:${v.dtype}[${v.shape.join(',')}]`);
    const sigProto = (vs: typeof g.input) =>
      vs.map((v) => {
        const t = v.type!.value.case === 'tensorType' ? v.type!.value.value : assert.fail(`${v.name} is not a tensor`);
        const dims = t.shape!.dim.map((d) => (d.value.case === 'dimParam' ? d.value.value : Number(d.value.value)));
        return `${v.name}:${DTYPE_FROM_ONNX[t.elemType]}[${dims.join(',')}]`;
      });
    assert.deepEqual(sigProto(g.input), sig(b.graph.inputs));
    assert.deepEqual(sigProto(g.output), sig(b.graph.outputs));
    assert.deepEqual(
      g.node.map((n) => [n.name, n.opType, n.input, n.output, n.attribute.map((a) => a.name)]),
      b.graph.nodes.map((n) => [n.name, n.opType, n.inputs.map((v) => v?.name ?? ''), n.outputs.map((v) => v.name), Object.keys(n.attrs).sort()]),
    );
    assert.ok(g.node.some((n) => n.input.includes('')), 'an omitted optional input is an empty name');
    const attrOf = (op: string, name: string) => g.node.find((n) => n.opType === op)!.attribute.find((a) => a.name === name)!;
    assert.equal(new TextDecoder().decode(attrOf('Gelu', 'approximate').s), 'tanh');
    assert.equal(attrOf('LayerNormalization', 'epsilon').f, Math.fround(1e-6));
    assert.deepEqual(attrOf('Transpose', 'perm').ints, [1n, 0n]);
    assert.deepEqual(values(tensorFromProto(attrOf('ConstantOfShape', 'value').t!)), [1.5]);
    assert.deepEqual(g.initializer.map((p) => p.name), b.graph.constants.map((c) => c.name));
    g.initializer.forEach((p, i) => {
      const c = b.graph.constants[i]!.data!;
      const t = tensorFromProto(p);
      assert.equal(t.dtype, c.dtype);
      assert.deepEqual(t.shape, c.shape);
      assert.deepEqual(Array.from(t.data as ArrayLike<unknown>), Array.from(c.data as ArrayLike<unknown>), `initializer ${p.name}`);
    });
  });

  test('the same graph built twice gives byte-identical files', () => {
    const build = () => {
      const b = sampleGraph();
      const loss = b.ReduceSum(b.graph.outputs[0]!, undefined, false);
      const [d] = gradients(b, loss, [b.params[0]!.value]);
      b.output(d!, 'd_w');
      return encodeModel(b.graph, { metadata: { z: '1', a: '2' }, externalThreshold: 16 });
    };
    const [first, second] = [build(), build()];
    assert.deepEqual(first.model, second.model);
    assert.deepEqual(first.external, second.external);
    assert.ok(first.external && first.external.byteLength > 0);
  });
});

describe('external data', () => {
  function graph(): { b: GraphBuilder; big: Tensor } {
    const rng = Rng.fromSeed(11, 'onnx.external');
    const b = new GraphBuilder('ext');
    const big = randomTensor(rng, 'float32', [64, 64]); // 16 KiB
    const x = b.input('x', 'float32', ['B', 64]);
    b.output(b.Add(b.MatMul(x, b.constant(big)), b.constant(randomTensor(rng, 'float32', [64]))), 'y');
    return { b, big };
  }

  test('large initializers go to the side file, and ORT loads it from beside the model', async () => {
    const { b, big } = graph();
    const { model, external } = encodeModel(b.graph, { externalThreshold: 1024, externalFile: 'ext.onnx.data' });
    const g = decodeModel(model).graph!;
    const [weight, bias] = g.initializer;
    const entries = Object.fromEntries(weight!.externalData.map((e) => [e.key, e.value]));
    assert.deepEqual(entries, { location: 'ext.onnx.data', offset: '0', length: String(64 * 64 * 4) });
    assert.equal(weight!.rawData.byteLength, 0);
    assert.equal(bias!.externalData.length, 0, 'a small initializer stays inline');
    assert.deepEqual(values(tensorFromProto(weight!, external)), values(big));

    const { dir, cleanup } = tempDir('ext');
    try {
      writeFileSync(join(dir, 'ext.onnx'), model);
      writeFileSync(join(dir, 'ext.onnx.data'), external!);
      const feeds = { x: randomTensor(Rng.fromSeed(12), 'float32', [3, 64]) };
      const fromPath = await runGraph(await createSession(join(dir, 'ext.onnx'), { threads: 1 }), feeds);
      const inline = await runGraph(await sessionOf(graph().b), feeds);
      assert.deepEqual(values(fromPath.y!), values(inline.y!));
    } finally {
      cleanup();
    }
  });

  test('several external tensors are 4096-aligned in one file', () => {
    const b = new GraphBuilder('aligned');
    const x = b.input('x', 'float32', [3]);
    const cs = [5000, 3, 7000].map((n, i) => b.constant(tensor('float32', [n], Array.from({ length: n }, (_, k) => i + k))));
    b.output(b.Concat([x, ...cs], 0), 'y');
    const { model, external } = encodeModel(b.graph, { externalThreshold: 1024 });
    const offsets = decodeModel(model).graph!.initializer.map((p) => p.externalData.find((e) => e.key === 'offset')?.value);
    assert.deepEqual(offsets, ['0', undefined, '20480']);
    assert.equal(external!.byteLength, 20480 + 7000 * 4);
  });
});

describe('symbolic batch dimensions', () => {
  test('round-trip as dim_param and ORT accepts different batch sizes', async () => {
    const b = new GraphBuilder('batch');
    const x = b.input('x', 'float32', ['B', 2, 3]);
    const y = b.Reshape(b.Mul(x, b.scalar(2)), [-1, 3]);
    assert.deepEqual(y.shape, ['2*B', 3]);
    b.output(y, 'y');
    const m = decodeModel(encodeModel(b.graph).model);
    const dims = (v: GraphProto['input'][number]) => {
      const t = v.type!.value.case === 'tensorType' ? v.type!.value.value : assert.fail(`${v.name} is not a tensor`);
      return t.shape!.dim.map((d) => [d.value.case, String(d.value.value)]);
    };
    assert.deepEqual(dims(m.graph!.input[0]!), [['dimParam', 'B'], ['dimValue', '2'], ['dimValue', '3']]);
    assert.deepEqual(dims(m.graph!.output[0]!), [['dimParam', '2*B'], ['dimValue', '3']]);
    const session = await sessionOf(b);
    for (const n of [1, 3, 5]) {
      const feed = randomTensor(Rng.fromSeed(n), 'float32', [n, 2, 3]);
      const out = await runGraph(session, { x: feed });
      assert.deepEqual(out.y!.shape, [2 * n, 3]);
      assert.deepEqual(values(out.y!), values(feed).map((v) => 2 * v));
    }
  });
});

/** One small use of every op in the vocabulary; ORT must create a CPU session for it at OPSET and run it. */
const f = (b: GraphBuilder, ...shape: number[]) => b.input(`x${b.graph.inputs.length}`, 'float32', shape);
const bool = (b: GraphBuilder) => b.Greater(f(b, 2, 3), b.scalar(0));
const idx = (b: GraphBuilder, shape: number[], v: number[]) => b.constant(tensor('int64', shape, v));
const OP_SAMPLES: Record<string, (b: GraphBuilder) => Value> = {
  Add: (b) => b.Add(f(b, 2, 3), f(b, 3)), Sub: (b) => b.Sub(f(b, 2, 3), f(b, 3)), Mul: (b) => b.Mul(f(b, 2, 3), f(b, 3)),
  Div: (b) => b.Div(f(b, 2, 3), b.scalar(2)), Pow: (b) => b.Pow(f(b, 2, 3), b.scalar(2)), Max: (b) => b.Max(f(b, 3), f(b, 3)),
  Min: (b) => b.Min(f(b, 3), f(b, 3)), Mod: (b) => b.node('Mod', [idx(b, [2], [7, 9]), idx(b, [2], [4, 4])])[0]!,
  Equal: (b) => b.Equal(f(b, 3), f(b, 3)), Greater: bool, Less: (b) => b.Less(f(b, 3), f(b, 3)),
  GreaterOrEqual: (b) => b.GreaterOrEqual(f(b, 3), f(b, 3)), LessOrEqual: (b) => b.LessOrEqual(f(b, 3), f(b, 3)),
  And: (b) => b.And(bool(b), bool(b)), Or: (b) => b.Or(bool(b), bool(b)), Not: (b) => b.Not(bool(b)),
  Neg: (b) => b.Neg(f(b, 3)), Abs: (b) => b.Abs(f(b, 3)), Sign: (b) => b.Sign(f(b, 3)), Identity: (b) => b.Identity(f(b, 3)),
  Sqrt: (b) => b.Sqrt(b.Abs(f(b, 3))), Exp: (b) => b.Exp(f(b, 3)), Log: (b) => b.Log(b.Abs(f(b, 3))), Tanh: (b) => b.Tanh(f(b, 3)),
  Erf: (b) => b.Erf(f(b, 3)), Relu: (b) => b.Relu(f(b, 3)), Sigmoid: (b) => b.Sigmoid(f(b, 3)), Reciprocal: (b) => b.Reciprocal(f(b, 3)),
  Gelu: (b) => b.Gelu(f(b, 3)), Softplus: (b) => b.Softplus(f(b, 3)),
  Where: (b) => b.Where(bool(b), f(b, 2, 3), b.scalar(0)), Cast: (b) => b.Cast(f(b, 3), 'float64'),
  ReduceSum: (b) => b.ReduceSum(f(b, 2, 3), [1]), ReduceMean: (b) => b.ReduceMean(f(b, 2, 3), [1]),
  ReduceMax: (b) => b.ReduceMax(f(b, 2, 3), [1]), ReduceSumSquare: (b) => b.ReduceSumSquare(f(b, 2, 3), [1]), Softmax: (b) => b.Softmax(f(b, 2, 3)), LogSoftmax: (b) => b.LogSoftmax(f(b, 2, 3)),
  Reshape: (b) => b.Reshape(f(b, 2, 3), [3, 2]), Transpose: (b) => b.Transpose(f(b, 2, 3), [1, 0]),
  Squeeze: (b) => b.Squeeze(f(b, 2, 1), [1]), Unsqueeze: (b) => b.Unsqueeze(f(b, 3), [0]),
  Concat: (b) => b.Concat([f(b, 2, 3), f(b, 1, 3)], 0), Split: (b) => b.Split(f(b, 2, 4), [1, 3], 1)[1]!,
  Slice: (b) => b.Slice(f(b, 4, 3), [3], [0], [0], [-2]), Gather: (b) => b.Gather(f(b, 4, 3), idx(b, [2], [3, 0])),
  GatherElements: (b) => b.GatherElements(f(b, 2, 3), idx(b, [2, 1], [2, 0]), 1),
  ScatterElements: (b) => b.ScatterElements(f(b, 2, 3), idx(b, [2, 1], [2, 0]), f(b, 2, 1), 1, 'add'),
  ScatterND: (b) => b.ScatterND(f(b, 4, 3), idx(b, [2, 1], [3, 1]), f(b, 2, 3), 'add'),
  Expand: (b) => b.Expand(f(b, 1, 3), [4, 3]), Tile: (b) => b.Tile(f(b, 2, 3), [2, 1]), Pad: (b) => b.Pad(f(b, 2, 3), [1, 0, 0, 2]),
  Shape: (b) => b.Shape(f(b, 2, 3)), ConstantOfShape: (b) => b.ConstantOfShape(b.Shape(f(b, 2, 3)), 1),
  MatMul: (b) => b.MatMul(f(b, 2, 3, 4), f(b, 4, 5)), Gemm: (b) => b.Gemm(f(b, 2, 3), f(b, 4, 3), f(b, 4), { transB: true, alpha: 0.5 }),
  LayerNormalization: (b) => b.LayerNormalization(f(b, 2, 3), f(b, 3), f(b, 3)).y,
  BatchNormalization: (b) => b.BatchNormalization(f(b, 2, 3, 4), f(b, 3), f(b, 3), f(b, 3), b.Abs(f(b, 3)), { training: true }).y,
  Conv: (b) => b.Conv(f(b, 1, 4, 5, 5, 5), f(b, 6, 2, 3, 3, 3), f(b, 6), { strides: [2, 1, 1], pads: [1, 1, 1, 1, 1, 1], group: 2 }),
  ConvTranspose: (b) => b.ConvTranspose(f(b, 1, 2, 4, 4), f(b, 2, 3, 3, 3), null, { strides: [2, 2], outputPadding: [1, 1] }),
  MaxPool: (b) => b.MaxPool(f(b, 1, 2, 5, 5), { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }).y,
  AveragePool: (b) => b.AveragePool(f(b, 1, 2, 4, 4, 4), { kernel: [2, 2, 2], strides: [2, 2, 2] }),
};

describe(`every op resolves to an onnxruntime-node CPU kernel at opset ${OPSET} (IR ${IR_VERSION})`, async () => {
  const { OPS } = await import('../../src/graph/ops/index.ts');
  test('every op in the vocabulary has a sample', () => {
    const missing = Object.keys(OPS).filter((op) => !OP_SAMPLES[op]);
    assert.deepEqual(missing, [], `ops without a sample in OP_SAMPLES: ${missing.join(', ')}`);
  });
  for (const [op, build] of Object.entries(OP_SAMPLES)) {
    test(op, async () => {
      const b = new GraphBuilder(op);
      const y = build(b);
      assert.ok(b.graph.nodes.some((n) => n.opType === op), `the ${op} sample emits no ${op} node`);
      b.output(y, 'y');
      const rng = Rng.fromSeed(1, op);
      const feeds = Object.fromEntries(b.graph.inputs.map((v) => [v.name, randomTensor(rng, v.dtype, v.shape as number[])]));
      const out = await runGraph(await sessionOf(b), feeds);
      assert.deepEqual(out.y!.shape, y.shape, `${op}: ORT's output shape differs from the builder's`);
    });
  }
});
