// The text dump: golden files for small graphs of ours (UPDATE_GOLDEN=1 rewrites them), and the parts only foreign
// files use (value_info types, subgraphs, other domains, node names that differ from outputs, external data).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { gradients } from '../../src/graph/autodiff/index.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Node, Value } from '../../src/graph/ir.ts';
import { decodeModel, encodeModel } from '../../src/graph/onnx.ts';
import { IR_VERSION, OPSET } from '../../src/graph/ops/index.ts';
import { tensor } from '../../src/graph/tensor.ts';
import { modelToText, type TextOptions } from '../../src/graph/text.ts';
import { Rng } from '../../src/rng.ts';
import { randomTensor } from '../helpers.ts';

const GOLDEN = new URL('./golden/', import.meta.url);

function assertGolden(file: string, actual: string): void {
  const url = new URL(file, GOLDEN);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(url, actual);
  assert.ok(existsSync(url), `${file} is missing: run UPDATE_GOLDEN=1 npm test to write it`);
  assert.equal(actual, readFileSync(url, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 rewrites it after a deliberate change)`);
}

/** x (4,8) → Linear(16) → ReLU → Linear(4); loss = mean((y - target)²); gradients of the four parameters. */
function mlpWithBackward(): GraphBuilder {
  const rng = Rng.fromSeed(1, 'golden.mlp');
  const b = new GraphBuilder('mlp');
  const x = b.input('x', 'float32', [4, 8]);
  const target = b.input('target', 'float32', [4, 4]);
  const linear = (name: string, h: Value, i: number, o: number) =>
    b.scope(name, () => b.Add(b.MatMul(h, b.param('weight', randomTensor(rng, 'float32', [i, o]))), b.param('bias', tensor('float32', [o]))));
  const y = b.scope('mlp', () => linear('fc2', b.Relu(linear('fc1', x, 8, 16)), 16, 4));
  const err = b.Sub(y, target);
  const loss = b.output(b.ReduceMean(b.Mul(err, err), undefined, false), 'loss');
  const params = b.params.map((p) => p.value);
  gradients(b, loss, params).forEach((g, i) => b.output(g!, `grad.${params[i]!.name}`));
  return b;
}

/** One pre-norm attention block over (B, 5, 8) tokens, 2 heads of 4, symbolic batch. */
function attention(): GraphBuilder {
  const rng = Rng.fromSeed(2, 'golden.attention');
  const b = new GraphBuilder('attention');
  const x = b.input('x', 'float32', ['B', 5, 8]);
  const y = b.scope('blocks.0', () => {
    const norm = b.scope('norm1', () => b.LayerNormalization(x, b.param('weight', tensor('float32', [8])), b.param('bias', tensor('float32', [8]))).y);
    return b.scope('attn', () => {
      const qkv = b.MatMul(norm, b.param('qkv.weight', randomTensor(rng, 'float32', [8, 24]))); // (B, 5, 24)
      // (B, 5, 24) → (B, 5, 3, 2, 4) → (3, B, 2, 5, 4)
      const heads = b.Transpose(b.Reshape(qkv, [0, 0, 3, 2, 4]), [2, 0, 3, 1, 4]);
      const [q, k, v] = b.Split(heads, [1, 1, 1], 0).map((t) => b.Squeeze(t, [0])); // (B, 2, 5, 4)
      const logits = b.Mul(b.MatMul(q!, b.Transpose(k!, [0, 1, 3, 2])), b.scalar(0.5)); // (B, 2, 5, 5)
      const mixed = b.MatMul(b.Softmax(logits, -1), v!); // (B, 2, 5, 4)
      const merged = b.Reshape(b.Transpose(mixed, [0, 2, 1, 3]), [0, 0, 8]); // (B, 5, 8)
      return b.Add(x, b.MatMul(merged, b.param('out.weight', randomTensor(rng, 'float32', [8, 8]))));
    });
  });
  b.output(y, 'y');
  return b;
}

const dump = (b: GraphBuilder, o: TextOptions = {}) => modelToText(decodeModel(encodeModel(b.graph, { metadata: { graph: b.graph.name } }).model), o);

describe('text dump: golden files', () => {
  test('MLP with its backward pass', () => assertGolden('mlp-backward.txt', dump(mlpWithBackward())));
  test('attention block (symbolic batch)', () => assertGolden('attention.txt', dump(attention())));
  test('MLP summary', () => assertGolden('mlp-summary.txt', dump(mlpWithBackward(), { summary: true })));
  test('the same graph dumps to the same text', () => assert.equal(dump(attention()), dump(attention())));
});

/** A graph no vhssl code emits: an If with two bodies, an op of another domain, a node named apart from its output. */
function foreign() {
  const b = new GraphBuilder('foreign');
  const x = b.input('x', 'float32', ['N', 3]);
  const cond = b.input('cond', 'bool', []);
  const ramp = b.constant(tensor('float32', [2, 300], Array.from({ length: 600 }, (_, i) => i / 4)));
  b.output(b.Identity(ramp));
  const branch = (name: string, f: (g: GraphBuilder) => Value) => {
    const g = new GraphBuilder(name);
    g.output(f(g));
    return { g: g.graph };
  };
  const node = (n: Omit<Node, 'outputs'>, out: Omit<Value, 'producer' | 'kind'>): Value => {
    const full = { ...n, outputs: [] as Value[] };
    const v: Value = { ...out, kind: 'node', producer: full };
    full.outputs.push(v);
    b.graph.nodes.push(full);
    return v;
  };
  const z = node(
    { opType: 'FusedMatMul', domain: 'com.microsoft', name: 'fused', inputs: [x, b.constant(tensor('float32', [3, 3]))], attrs: { transB: { i: 1 }, alpha: { f: 0.125 } } },
    { name: 'z', dtype: 'float32', shape: ['N', 3] },
  );
  const y = node(
    { opType: 'If', domain: '', name: 'choose', inputs: [cond], attrs: { then_branch: branch('then', (g) => g.Relu(z)), else_branch: branch('else', (g) => g.Neg(z)) } },
    { name: 'y', dtype: 'float32', shape: ['N', 3] },
  );
  b.output(y);
  const { model, external } = encodeModel(b.graph, { externalThreshold: 1024, externalFile: 'foreign.data' });
  const m = decodeModel(model);
  // Types of intermediate values come from value_info (ours has none): give `z` one.
  m.graph!.valueInfo.push({ ...m.graph!.input[0]!, name: 'z' });
  return { m, external: external! };
}

const FOREIGN = `ONNX model: ir_version IR, opset ai.onnx OPSET, producer vhssl 0.1.0
graph "foreign" (3 nodes, 2 initializers)
  inputs:
    x: float32[N,3]
    cond: bool[]
  outputs:
    Identity_0: float32[2,300]
    y: float32[N,3]
  initializers:
    const_0: float32[2,300] external(foreign.data @0 +2400)VALUES
    const_1: float32[3,3] = [0, 0, 0, 0, 0, 0, …]
  nodes:
    Identity_0 = Identity(const_0)  # float32[2,300]
    z = com.microsoft.FusedMatMul(x, const_1) {alpha=0.125, transB=1}  # float32[N,3]; node fused
    y = If(cond) {else_branch=graph "else", then_branch=graph "then"}  # float32[N,3]; node choose
      else_branch: graph "else" (1 node, 0 initializers)
        outputs:
          Neg_0: float32[N,3]
        nodes:
          Neg_0 = Neg(z)  # float32[N,3]
      then_branch: graph "then" (1 node, 0 initializers)
        outputs:
          Relu_0: float32[N,3]
        nodes:
          Relu_0 = Relu(z)  # float32[N,3]
`;

describe('text dump: any ONNX file', () => {
  const expected = (values: string) => FOREIGN.replace('IR', String(IR_VERSION)).replace('OPSET', String(OPSET)).replace('VALUES', values);

  test('value_info types, subgraphs, other domains, node names; external data marked when absent', () => {
    assert.equal(modelToText(foreign().m), expected(''));
  });

  test('external values read through readExternal', () => {
    const { m, external } = foreign();
    const reads: string[] = [];
    const text = modelToText(m, {
      values: 3,
      readExternal: (location, offset, length) => {
        reads.push(`${location}@${offset}+${length}`);
        return external.subarray(offset, offset + length);
      },
    });
    assert.deepEqual(reads, ['foreign.data@0+12'], 'reads only the values it shows');
    assert.ok(text.includes('const_0: float32[2,300] external(foreign.data @0 +2400) = [0, 0.25, 0.5, …]\n'), text);
  });

  test('--max-nodes stops after N nodes of the main graph and counts the rest', () => {
    const text = modelToText(foreign().m, { maxNodes: 1 });
    assert.ok(text.endsWith('  nodes:\n    Identity_0 = Identity(const_0)  # float32[2,300]\n    … 2 more nodes\n'), text);
  });
});
