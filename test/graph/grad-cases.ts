// Sample cases per differentiable op (the OpInfo idea): each builds a small graph from its inputs. The gradient check
// runs every case through onnxruntime-node; an op with a rule in GRAD_RULES but no case does not compile, and fails
// the suite.
import type { GraphBuilder } from '../../src/graph/builder.ts';
import type { DifferentiableOp } from '../../src/graph/autodiff/index.ts';
import type { DType } from '../../src/graph/dtype.ts';
import type { Value } from '../../src/graph/ir.ts';
import { batchNormTrain } from '../../src/graph/nn/layers.ts';
import { tensor, type Tensor } from '../../src/graph/tensor.ts';

export interface InputSpec {
  shape: number[];
  /** How to draw values: normal (default), positive (0.5..2), away (|x| in 0.2..1.2, away from kinks at 0),
   *  distinct (a shuffled ramp, no ties), or fixed data (non-differentiable: indices, conditions). */
  draw?: 'normal' | 'positive' | 'away' | 'distinct';
  fixed?: Tensor;
}

export interface GradCase {
  name: string;
  dtype: DType;
  inputs: InputSpec[];
  build: (b: GraphBuilder, xs: Value[]) => Value;
}

const f64 = 'float64';
const f32 = 'float32';
const idx = (shape: number[], values: number[]): InputSpec => ({ shape, fixed: tensor('int64', shape, values) });
const cond = (shape: number[], values: number[]): InputSpec => ({ shape, fixed: tensor('bool', shape, values) });
const x = (...shape: number[]): InputSpec => ({ shape });

export const GRAD_CASES: Record<DifferentiableOp, GradCase[]> = {
  Identity: [{ name: 'identity', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.Identity(a!) }],
  Add: [
    { name: 'same shape', dtype: f64, inputs: [x(2, 3), x(2, 3)], build: (b, [a, c]) => b.Add(a!, c!) },
    { name: 'broadcast both ways', dtype: f64, inputs: [x(2, 1, 4), x(3, 1)], build: (b, [a, c]) => b.Add(a!, c!) },
  ],
  Sub: [{ name: 'broadcast', dtype: f64, inputs: [x(2, 3), x(3)], build: (b, [a, c]) => b.Sub(a!, c!) }],
  Mul: [
    { name: 'broadcast', dtype: f64, inputs: [x(2, 3, 4), x(1, 4)], build: (b, [a, c]) => b.Mul(a!, c!) },
    { name: 'same input twice (fan-in)', dtype: f64, inputs: [x(3, 2)], build: (b, [a]) => b.Mul(a!, a!) },
  ],
  Div: [{ name: 'broadcast', dtype: f64, inputs: [x(2, 3), { shape: [3], draw: 'positive' }], build: (b, [a, c]) => b.Div(a!, c!) }],
  Neg: [{ name: 'neg', dtype: f64, inputs: [x(4)], build: (b, [a]) => b.Neg(a!) }],
  Pow: [
    { name: 'tensor exponent', dtype: f64, inputs: [{ shape: [2, 3], draw: 'positive' }, x(3)], build: (b, [a, e]) => b.Pow(a!, e!) },
    { name: 'constant square', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.Pow(a!, b.scalar(2, f64)) },
  ],
  Sqrt: [{ name: 'sqrt', dtype: f64, inputs: [{ shape: [2, 3], draw: 'positive' }], build: (b, [a]) => b.Sqrt(a!) }],
  Exp: [{ name: 'exp', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.Exp(a!) }],
  Log: [{ name: 'log', dtype: f64, inputs: [{ shape: [2, 3], draw: 'positive' }], build: (b, [a]) => b.Log(a!) }],
  Tanh: [{ name: 'tanh', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.Tanh(a!) }],
  Sigmoid: [{ name: 'sigmoid', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.Sigmoid(a!) }],
  Softplus: [{ name: 'softplus', dtype: f32, inputs: [x(2, 3)], build: (b, [a]) => b.Softplus(a!) }],
  Relu: [{ name: 'relu away from 0', dtype: f64, inputs: [{ shape: [3, 4], draw: 'away' }], build: (b, [a]) => b.Relu(a!) }],
  Abs: [{ name: 'abs away from 0', dtype: f64, inputs: [{ shape: [3, 4], draw: 'away' }], build: (b, [a]) => b.Abs(a!) }],
  Reciprocal: [{ name: 'reciprocal', dtype: f64, inputs: [{ shape: [5], draw: 'positive' }], build: (b, [a]) => b.Reciprocal(a!) }],
  Erf: [{ name: 'erf', dtype: f32, inputs: [x(2, 5)], build: (b, [a]) => b.Erf(a!) }],
  Gelu: [
    { name: 'erf form', dtype: f32, inputs: [x(3, 4)], build: (b, [a]) => b.Gelu(a!) },
    { name: 'tanh form', dtype: f32, inputs: [x(3, 4)], build: (b, [a]) => b.Gelu(a!, 'tanh') },
  ],
  Max: [{ name: 'elementwise max', dtype: f64, inputs: [{ shape: [2, 3], draw: 'distinct' }, { shape: [3], draw: 'distinct' }], build: (b, [a, c]) => b.Max(a!, c!) }],
  Min: [{ name: 'elementwise min', dtype: f64, inputs: [{ shape: [2, 3], draw: 'distinct' }, { shape: [2, 3], draw: 'distinct' }], build: (b, [a, c]) => b.Min(a!, c!) }],
  Where: [{ name: 'broadcast select', dtype: f64, inputs: [cond([2, 3], [1, 0, 1, 0, 0, 1]), x(2, 3), x(3)], build: (b, [c, a, d]) => b.Where(c!, a!, d!) }],
  Cast: [
    { name: 'f32 → f64', dtype: f32, inputs: [x(2, 3)], build: (b, [a]) => b.Mul(b.Cast(a!, f64), b.scalar(3, f64)) },
    { name: 'f32 → f64 → f32', dtype: f32, inputs: [x(2, 3)], build: (b, [a]) => b.Cast(b.Mul(b.Cast(a!, f64), b.Cast(a!, f64)), f32) },
  ],
  ReduceSum: [
    { name: 'axes keepdims', dtype: f64, inputs: [x(2, 3, 4)], build: (b, [a]) => b.ReduceSum(a!, [0, 2], true) },
    { name: 'negative axis no keepdims', dtype: f64, inputs: [x(2, 3, 4)], build: (b, [a]) => b.ReduceSum(a!, [-1], false) },
    { name: 'all axes', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.ReduceSum(a!) },
  ],
  ReduceSumSquare: [
    { name: 'axes keepdims', dtype: f64, inputs: [x(2, 3, 4)], build: (b, [a]) => b.ReduceSumSquare(a!, [0, 2], true) },
    { name: 'negative axis no keepdims', dtype: f64, inputs: [x(2, 3, 4)], build: (b, [a]) => b.ReduceSumSquare(a!, [-1], false) },
  ],
  ReduceMean: [
    { name: 'axes', dtype: f64, inputs: [x(2, 3, 4)], build: (b, [a]) => b.ReduceMean(a!, [1], false) },
    { name: 'all axes keepdims', dtype: f64, inputs: [x(3, 2)], build: (b, [a]) => b.ReduceMean(a!) },
  ],
  ReduceMax: [{ name: 'distinct values', dtype: f64, inputs: [{ shape: [3, 4], draw: 'distinct' }], build: (b, [a]) => b.ReduceMax(a!, [1], false) }],
  Softmax: [
    { name: 'last axis', dtype: f64, inputs: [x(2, 5)], build: (b, [a]) => b.Softmax(a!, -1) },
    { name: 'middle axis', dtype: f64, inputs: [x(2, 3, 4)], build: (b, [a]) => b.Softmax(a!, 1) },
  ],
  LogSoftmax: [{ name: 'last axis', dtype: f64, inputs: [x(3, 4)], build: (b, [a]) => b.LogSoftmax(a!, -1) }],
  Reshape: [
    { name: 'with -1 and 0', dtype: f64, inputs: [x(2, 3, 4)], build: (b, [a]) => b.Reshape(a!, [0, -1]) },
  ],
  Transpose: [
    { name: 'perm', dtype: f64, inputs: [x(2, 3, 4)], build: (b, [a]) => b.Transpose(a!, [2, 0, 1]) },
    // Last-two swaps next to products: the gradient builds (A·B)ᵀ as Bᵀ·Aᵀ and cancels transposes of transposes.
    { name: "attention's kᵀ (a MatMul's right operand)", dtype: f64, inputs: [x(2, 3, 4), x(2, 5, 4)], build: (b, [q, k]) => b.MatMul(q!, b.Transpose(k!, [0, 2, 1])) },
    { name: 'left operand, 4-D', dtype: f64, inputs: [x(2, 2, 4, 3), x(2, 2, 4, 5)], build: (b, [a, c]) => b.MatMul(b.Transpose(a!, [0, 1, 3, 2]), c!) },
    { name: 'of a product of a transpose', dtype: f64, inputs: [x(2, 4, 3), x(2, 4, 5)], build: (b, [a, c]) => b.Transpose(b.MatMul(b.Transpose(a!, [0, 2, 1]), c!), [0, 2, 1]) },
    { name: 'another perm before a MatMul', dtype: f64, inputs: [x(3, 2, 4), x(2, 4, 5)], build: (b, [a, c]) => b.MatMul(b.Transpose(a!, [1, 0, 2]), c!) },
    { name: 'a broadcast 2-D weight', dtype: f64, inputs: [x(2, 3, 4), x(5, 4)], build: (b, [a, w]) => b.MatMul(a!, b.Transpose(w!, [1, 0])) },
  ],
  Squeeze: [{ name: 'axis', dtype: f64, inputs: [x(2, 1, 3)], build: (b, [a]) => b.Squeeze(a!, [1]) }],
  Unsqueeze: [{ name: 'axes', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.Unsqueeze(a!, [0, -1]) }],
  Concat: [{ name: 'three inputs', dtype: f64, inputs: [x(2, 1), x(2, 3), x(2, 2)], build: (b, [a, c, d]) => b.Concat([a!, c!, d!], 1) }],
  Split: [
    { name: 'all outputs used', dtype: f64, inputs: [x(5, 2)], build: (b, [a]) => { const [p, q] = b.Split(a!, [2, 3], 0); return b.Add(b.ReduceSum(p!, [0], true), q!); } },
    { name: 'one output unused', dtype: f64, inputs: [x(2, 6)], build: (b, [a]) => b.Split(a!, [1, 2, 3], 1)[1]! },
  ],
  Slice: [
    { name: 'step 1, negative end', dtype: f64, inputs: [x(4, 5)], build: (b, [a]) => b.Slice(a!, [1, 0], [-1, 3], [0, 1]) },
    { name: 'strided and reversed', dtype: f64, inputs: [x(4, 6)], build: (b, [a]) => b.Slice(a!, [0, 5], [4, 0], [0, 1], [2, -2]) },
  ],
  Gather: [
    { name: 'axis 0, repeated index', dtype: f64, inputs: [x(4, 3), idx([3], [1, 3, 1])], build: (b, [a, i]) => b.Gather(a!, i!, 0) },
    { name: 'axis 1, 2-D indices', dtype: f64, inputs: [x(2, 5, 3), idx([2, 2], [0, 4, 4, 2])], build: (b, [a, i]) => b.Gather(a!, i!, 1) },
  ],
  GatherElements: [{ name: 'axis 1', dtype: f64, inputs: [x(3, 4), idx([3, 2], [0, 3, 1, 1, 2, 0])], build: (b, [a, i]) => b.GatherElements(a!, i!, 1) }],
  Expand: [{ name: 'broadcast', dtype: f64, inputs: [x(3, 1)], build: (b, [a]) => b.Expand(a!, [2, 3, 4]) }],
  Tile: [{ name: 'repeats', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.Tile(a!, [2, 3]) }],
  Pad: [{ name: 'zero padding', dtype: f64, inputs: [x(2, 3)], build: (b, [a]) => b.Pad(a!, [1, 0, 2, 3]) }],
  MatMul: [
    { name: '2-D', dtype: f64, inputs: [x(3, 4), x(4, 2)], build: (b, [a, c]) => b.MatMul(a!, c!) },
    { name: 'batched with broadcast weight', dtype: f64, inputs: [x(2, 3, 4), x(4, 5)], build: (b, [a, c]) => b.MatMul(a!, c!) },
    { name: 'batch broadcast both', dtype: f64, inputs: [x(2, 1, 3, 4), x(3, 4, 2)], build: (b, [a, c]) => b.MatMul(a!, c!) },
  ],
  Gemm: [
    { name: 'plain with bias', dtype: f64, inputs: [x(3, 4), x(4, 2), x(2)], build: (b, [a, c, d]) => b.Gemm(a!, c!, d!) },
    { name: 'transA transB alpha beta', dtype: f64, inputs: [x(4, 3), x(2, 4), x(3, 1)], build: (b, [a, c, d]) => b.Gemm(a!, c!, d!, { transA: true, transB: true, alpha: 0.7, beta: 1.5 }) },
    { name: 'transA only', dtype: f64, inputs: [x(4, 3), x(4, 2)], build: (b, [a, c]) => b.Gemm(a!, c!, null, { transA: true }) },
    { name: 'transB only', dtype: f64, inputs: [x(3, 4), x(2, 4)], build: (b, [a, c]) => b.Gemm(a!, c!, null, { transB: true }) },
  ],
  // ORT computes LayerNormalization's statistics in float32 even for float64 inputs (stash type), so both run in f32.
  LayerNormalization: [
    { name: 'last axis', dtype: f32, inputs: [x(2, 3, 4), x(4), x(4)], build: (b, [a, s, c]) => b.LayerNormalization(a!, s!, c!, -1).y },
    { name: 'last two axes, no bias', dtype: f32, inputs: [x(2, 3, 4), x(3, 4)], build: (b, [a, s]) => b.LayerNormalization(a!, s!, null, 1).y },
  ],
  BatchNormalization: [
    {
      name: 'training mode, (N, C, L)',
      dtype: f64,
      inputs: [x(4, 3, 2), x(3), x(3), { shape: [3], fixed: tensor(f64, [3], [0, 0, 0]) }, { shape: [3], fixed: tensor(f64, [3], [1, 1, 1]) }],
      build: (b, [a, s, c, m, v]) => b.BatchNormalization(a!, s!, c!, m!, v!, { training: true }).y,
    },
    {
      name: 'inference mode, (N, C, H, W)',
      dtype: f64,
      inputs: [x(2, 3, 2, 2), x(3), x(3), { shape: [3], fixed: tensor(f64, [3], [0.1, -0.2, 0.3]) }, { shape: [3], fixed: tensor(f64, [3], [0.5, 1.5, 2]) }],
      build: (b, [a, s, c, m, v]) => b.BatchNormalization(a!, s!, c!, m!, v!, { training: false }).y,
    },
    // What the layers emit in training mode (WebGPU refuses the node's training_mode=1): no rule of its own, autodiff
    // over ReduceMean, Sub, Mul, Sqrt, Reciprocal and Add.
    {
      name: 'training mode from primitives (batchNormTrain), (N, C, H, W)',
      dtype: f64,
      inputs: [x(3, 2, 2, 3), x(2), x(2), { shape: [2], fixed: tensor(f64, [2], [0.1, -0.3]) }, { shape: [2], fixed: tensor(f64, [2], [0.7, 1.2]) }],
      build: (b, [a, s, c, m, v]) => batchNormTrain(b, a!, s!, c!, m!, v!, { axis: 1, eps: 1e-3, momentum: 0.1 }).y,
    },
    {
      name: 'training mode from primitives (batchNormTrain), channels last (B, S, C)',
      dtype: f64,
      inputs: [x(2, 3, 4), x(4), x(4), { shape: [4], fixed: tensor(f64, [4], [0, 0, 0, 0]) }, { shape: [4], fixed: tensor(f64, [4], [1, 1, 1, 1]) }],
      build: (b, [a, s, c, m, v]) => batchNormTrain(b, a!, s!, c!, m!, v!, { axis: 2, eps: 1e-5, momentum: 0.1 }).y,
    },
  ],
  Conv: [
    { name: '2-D stride 2 pad 1 with bias', dtype: f32, inputs: [x(2, 3, 7, 6), x(4, 3, 3, 3), x(4)], build: (b, [a, w, c]) => b.Conv(a!, w!, c!, { strides: [2, 2], pads: [1, 1, 1, 1] }) },
    { name: '2-D groups 2, dilation 2', dtype: f32, inputs: [x(1, 4, 7, 7), x(6, 2, 3, 2)], build: (b, [a, w]) => b.Conv(a!, w!, null, { group: 2, dilations: [2, 1], pads: [0, 1, 2, 0] }) },
    { name: '2-D unit stride, dilation (2,1), asymmetric pads', dtype: f32, inputs: [x(2, 3, 6, 5), x(4, 3, 3, 2)], build: (b, [a, w]) => b.Conv(a!, w!, null, { dilations: [2, 1], pads: [2, 0, 1, 1] }) },
    { name: '2-D 16 channels (the weight gradient in 3 chunks of 3 offsets)', dtype: f32, inputs: [x(1, 16, 4, 5), x(2, 16, 3, 3)], build: (b, [a, w]) => b.Conv(a!, w!, null, { pads: [1, 1, 1, 1] }) },
    { name: '3-D separable (1,3,3) then (3,1,1)', dtype: f32, inputs: [x(1, 2, 4, 5, 5), x(3, 2, 1, 3, 3), x(3, 3, 3, 1, 1)], build: (b, [a, w1, w2]) => b.Conv(b.Conv(a!, w1!, null, { pads: [0, 1, 1, 0, 1, 1], strides: [1, 2, 2] }), w2!, null, { pads: [1, 0, 0, 1, 0, 0] }) },
  ],
  MaxPool: [
    { name: '2-D 3×3 stride 2 pad 1', dtype: f32, inputs: [{ shape: [1, 2, 5, 6], draw: 'distinct' }], build: (b, [a]) => b.MaxPool(a!, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }).y },
    { name: '3-D (1,3,3) stride (1,2,2)', dtype: f32, inputs: [{ shape: [2, 1, 3, 5, 5], draw: 'distinct' }], build: (b, [a]) => b.MaxPool(a!, { kernel: [1, 3, 3], strides: [1, 2, 2], pads: [0, 1, 1, 0, 1, 1] }).y },
    { name: '2-D 3×2 dilation (2,1), asymmetric pads', dtype: f32, inputs: [{ shape: [1, 2, 7, 5], draw: 'distinct' }], build: (b, [a]) => b.MaxPool(a!, { kernel: [3, 2], pads: [2, 0, 1, 1], dilations: [2, 1] }).y },
  ],
  AveragePool: [
    { name: '2-D 2×2 stride 2', dtype: f32, inputs: [x(2, 3, 4, 6)], build: (b, [a]) => b.AveragePool(a!, { kernel: [2, 2], strides: [2, 2] }) },
    { name: '2-D padded, pads excluded', dtype: f32, inputs: [x(1, 2, 5, 5)], build: (b, [a]) => b.AveragePool(a!, { kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }) },
    { name: '3-D padded, pads included', dtype: f32, inputs: [x(1, 2, 3, 4, 4)], build: (b, [a]) => b.AveragePool(a!, { kernel: [2, 3, 3], strides: [1, 2, 2], pads: [0, 1, 1, 1, 1, 1], countIncludePad: true }) },
  ],
};
