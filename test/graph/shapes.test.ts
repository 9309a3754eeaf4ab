// Bad shapes and dtypes fail in the builder, with a message naming the node, the input and both shapes: never at
// ORT run time. A failed op appends nothing to the graph.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../../src/graph/builder.ts';

type Case = [name: string, build: (b: GraphBuilder) => unknown, message: string];

const CASES: Case[] = [
  [
    'MatMul inner dimensions (scoped node name)',
    (b) => {
      const x = b.input('x', 'float32', [8, 17, 384]);
      const w = b.input('w', 'float32', [192, 576]);
      return b.scope('time', () => b.scope('blocks.1', () => b.scope('attn', () => b.MatMul(x, w))));
    },
    'time/blocks.1/attn/MatMul_0 (MatMul): inner dimensions differ: input 0 "x" float32[8,17,384] has 384, input 1 "w" float32[192,576] has 192',
  ],
  [
    'Gemm inner dimensions',
    (b) => b.Gemm(b.input('a', 'float32', [2, 3]), b.input('w', 'float32', [4, 3]), null),
    'Gemm_0 (Gemm): inner dimensions differ: op(A) of input 0 "a" float32[2,3] has 3 columns, op(B) of input 1 "w" float32[4,3] has 4 rows',
  ],
  [
    'Add broadcast',
    (b) => b.Add(b.input('a', 'float32', [2, 3]), b.input('c', 'float32', [4])),
    'Add_0 (Add): cannot broadcast input 1 "c" float32[4] with [2,3] (input 0 "a" float32[2,3])',
  ],
  [
    'Concat outside the axis',
    (b) => b.Concat([b.input('a', 'float32', [2, 3]), b.input('c', 'float32', [3, 3])], 1),
    'Concat_0 (Concat): input 1 "c" float32[3,3] does not match input 0 "a" float32[2,3] outside axis 1',
  ],
  [
    'Reshape element count',
    (b) => b.Reshape(b.input('a', 'float32', [2, 3]), [4, 2]),
    'Reshape_0 (Reshape): cannot reshape input 0 "a" float32[2,3] (6 elements) to [4,2] (8 elements)',
  ],
  [
    'Reshape with -1 that does not divide',
    (b) => b.Reshape(b.input('a', 'float32', [2, 3]), [4, -1]),
    'Reshape_0 (Reshape): cannot reshape input 0 "a" float32[2,3] to [4,-1]',
  ],
  [
    'Conv channels',
    (b) => b.Conv(b.input('x', 'float32', [1, 3, 8, 8]), b.input('w', 'float32', [16, 4, 3, 3]), null),
    'Conv_0 (Conv): input 0 "x" float32[1,3,8,8] has 3 channels, but weight input 1 "w" float32[16,4,3,3] with group=1 expects 4',
  ],
  [
    'LayerNormalization scale shape',
    (b) => b.LayerNormalization(b.input('x', 'float32', [2, 5, 8]), b.input('s', 'float32', [5, 8]), null),
    'LayerNormalization_0 (LayerNormalization): input 1 "s" float32[5,8] must have shape [8] (the normalised axes of input 0 "x" float32[2,5,8])',
  ],
  [
    'Split sizes',
    (b) => b.Split(b.input('a', 'float32', [2, 6]), [2, 3], 1),
    'Split_0 (Split): split sizes [2,3] do not add up to 6 (axis 1 of input 0 "a" float32[2,6])',
  ],
  [
    'Transpose perm',
    (b) => b.Transpose(b.input('a', 'float32', [2, 3]), [0, 0]),
    'Transpose_0 (Transpose): perm [0,0] is not a permutation of the axes of input 0 "a" float32[2,3]',
  ],
  [
    'Add dtype mismatch',
    (b) => b.Add(b.input('a', 'float32', [2, 3]), b.input('c', 'float64', [3])),
    'Add_0 (Add): input 1 "c" float64[3] has dtype float64, expected float32 like input 0 "a" float32[2,3]',
  ],
  [
    'MatMul dtype mismatch',
    (b) => b.MatMul(b.input('a', 'float32', [2, 3]), b.input('c', 'float64', [3, 4])),
    'MatMul_0 (MatMul): input 1 "c" float64[3,4] has dtype float64, expected float32 like input 0 "a" float32[2,3]',
  ],
  [
    'float op on integers',
    (b) => b.Sqrt(b.input('a', 'int64', [2, 6])),
    'Sqrt_0 (Sqrt): input 0 "a" int64[2,6] must be a float tensor',
  ],
  [
    'Gather with float indices',
    (b) => b.Gather(b.input('a', 'float32', [2, 3]), b.input('i', 'float32', [3])),
    'Gather_0 (Gather): indices input 1 "i" float32[3] must be int64 or int32',
  ],
  [
    'Where with a float condition',
    (b) => b.Where(b.input('c', 'float32', [2]), b.input('a', 'float32', [2]), b.input('d', 'float32', [2])),
    'Where_0 (Where): condition input 0 "c" float32[2] must be bool',
  ],
];

describe('build-time shape and dtype errors', () => {
  for (const [name, build, message] of CASES) {
    test(name, () => {
      const b = new GraphBuilder('bad');
      assert.throws(() => build(b), { name: 'ShapeError', message });
      assert.equal(b.graph.nodes.length, 0, 'a failed op appends no node');
    });
  }

  test('valid ops infer their output shapes, symbolic batch included', () => {
    const b = new GraphBuilder('good');
    const x = b.input('x', 'float32', ['B', 17, 384]);
    const qkv = b.MatMul(x, b.input('w', 'float32', [384, 1152]));
    assert.deepEqual(qkv.shape, ['B', 17, 1152]);
    // (B, 17, 1152) → (B, 17, 3, 6, 64) → (3, B, 6, 17, 64)
    const heads = b.Transpose(b.Reshape(qkv, [0, 0, 3, 6, 64]), [2, 0, 3, 1, 4]);
    assert.deepEqual(heads.shape, [3, 'B', 6, 17, 64]);
    assert.deepEqual(b.Reshape(x, [-1, 384]).shape, ['17*B', 384]);
    assert.deepEqual(b.Conv(b.input('img', 'float32', [2, 3, 9, 9]), b.input('k', 'float32', [8, 3, 3, 3]), null, { strides: [2, 2], pads: [1, 1, 1, 1] }).shape, [2, 8, 5, 5]);
  });
});
