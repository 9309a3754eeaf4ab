// The typed graph builder: one method per ONNX op (exact ONNX names), shape inference at build time, module scopes
// that name parameters (`time.blocks.1.attn.qkv.weight`) and nodes (`time/blocks.1/attn/MatMul_2`).
import { ONNX_DTYPE, type DType } from './dtype.ts';
import { emptyGraph, type Attr, type Graph, type Node, type Value } from './ir.ts';
import { OPS, type OpType } from './ops/index.ts';
import type { InferCtx, OutSpec } from './ops/infer.ts';
import { isStatic, type Dim, type Shape } from './shape.ts';
import { int64s, scalar, tensor, tensorBytes, type Tensor } from './tensor.ts';
import { Rng } from '../rng.ts';

export interface Param {
  readonly value: Value;
  readonly init: Tensor;
  /** The first scope component: the layer group that owns it (`space`, `time`, ...). */
  readonly group: string;
  readonly tags: ReadonlySet<string>;
}

type Ints = readonly number[];

export type Init = Tensor | ((rng: Rng) => Tensor);

const A = {
  i: (i: number): Attr => ({ i }),
  f: (f: number): Attr => ({ f }),
  s: (s: string): Attr => ({ s }),
  ints: (ints: Ints): Attr => ({ ints: [...ints] }),
};

export interface ConvOptions { strides?: Ints; pads?: Ints; dilations?: Ints; group?: number }
export interface PoolOptions { kernel: Ints; strides?: Ints; pads?: Ints; dilations?: Ints; countIncludePad?: boolean }

export class GraphBuilder {
  readonly graph: Graph;
  readonly params: Param[] = [];
  /** Non-trainable state carried between steps (BatchNorm running statistics), named like parameters. */
  readonly buffers: Param[] = [];
  /** Values that gradients never cross (outputs of stopGradient). */
  readonly walls = new Set<Value>();
  private readonly scopes: string[] = [];
  private readonly counters = new Map<string, number>();
  private readonly names = new Set<string>();
  private readonly constCache = new Map<string, Value>();

  /** Initialisers get `rng.fork(<parameter name>)`: a parameter's initial value depends on the seed and its name only. */
  private readonly rng: Rng;

  constructor(name: string, o: { rng?: Rng } = {}) {
    this.graph = emptyGraph(name);
    this.rng = o.rng ?? Rng.fromSeed(0, 'init');
  }

  // ---- scopes and names ----------------------------------------------------------------------------------------

  /** Runs `fn` inside a named module scope. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  get scopePath(): readonly string[] {
    return this.scopes;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate value name "${name}"`);
    this.names.add(name);
    return name;
  }

  private nodeName(opType: string): string {
    const prefix = this.scopes.length ? `${this.scopes.join('/')}/` : '';
    const key = `${prefix}${opType}`;
    const n = this.counters.get(key) ?? 0;
    this.counters.set(key, n + 1);
    return `${key}_${n}`;
  }

  // ---- leaves --------------------------------------------------------------------------------------------------

  /** A graph input (data fed at run time). Unscoped: its name is exactly `name`. */
  input(name: string, dtype: DType, shape: Shape): Value {
    const v: Value = { name: this.claim(name), dtype, shape: [...shape], kind: 'input', producer: null };
    this.graph.inputs.push(v);
    return v;
  }

  /**
   * A trainable parameter: a graph input named after the scope (`time.blocks.1.attn.qkv.weight`), with its initial
   * value (a tensor, or an initialiser that receives a stream forked from the builder's Rng by the parameter's name).
   */
  param(local: string, init: Init, tags: readonly string[] = []): Value {
    return this.leaf(this.params, local, init, tags);
  }

  /** Non-trainable state (e.g. running statistics): a graph input like a parameter, listed in `buffers`. */
  buffer(local: string, init: Init): Value {
    return this.leaf(this.buffers, local, init, ['buffer']);
  }

  private leaf(list: Param[], local: string, init: Init, tags: readonly string[]): Value {
    const name = [...this.scopes, local].filter((s) => s !== '').join('.');
    const t = typeof init === 'function' ? init(this.rng.fork(name)) : init;
    const v = this.input(name, t.dtype, t.shape);
    list.push({ value: v, init: t, group: name.split('.')[0]!, tags: new Set(tags) });
    return v;
  }

  /** A constant (an initializer that is not a graph input). Small constants are shared. */
  constant(t: Tensor): Value {
    const small = t.data.length <= 64;
    const key = small ? `${t.dtype}[${t.shape.join(',')}]${Buffer.from(tensorBytes(t)).toString('hex')}` : '';
    if (small) {
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const name = this.claim(`const_${this.graph.constants.length}`);
    const known = t.dtype === 'int64' && t.shape.length <= 1 ? Array.from(t.data as BigInt64Array, Number) : undefined;
    const v: Value = { name, dtype: t.dtype, shape: [...t.shape], kind: 'const', producer: null, data: t, known };
    this.graph.constants.push(v);
    if (small) this.constCache.set(key, v);
    return v;
  }

  scalar(v: number, dtype: DType = 'float32'): Value {
    return this.constant(scalar(dtype, v));
  }

  /** A scalar constant with the dtype of `like`. */
  scalarLike(v: number, like: Value): Value {
    return this.scalar(v, like.dtype);
  }

  ints(values: readonly number[]): Value {
    return this.constant(int64s(values));
  }

  /** A 1-D int64 value holding `shape`: a constant when static, else built from Shape ops on `of`. */
  shapeValue(shape: Shape, of?: Value): Value {
    if (isStatic(shape)) return this.ints(shape);
    if (!of) throw new Error(`shapeValue: symbolic shape [${shape.join(',')}] needs a value to read it from`);
    return this.Shape(of);
  }

  // ---- nodes ---------------------------------------------------------------------------------------------------

  /** Appends a node after inferring its outputs; returns them. `outputs`: emit only the first ones (ONNX lets a node
   *  omit trailing optional outputs, and some kernels refuse them: WebGPU's MaxPool its Indices). */
  node(opType: OpType, inputs: readonly (Value | null)[], attrs: Record<string, Attr> = {}, label: string = opType, outputs?: number): Value[] {
    const def = OPS[opType];
    while (inputs.length > 0 && inputs[inputs.length - 1] === null) inputs = inputs.slice(0, -1);
    const name = this.nodeName(label);
    const ctx: InferCtx = { node: name, opType, inputs, attrs };
    if (inputs.length < def.arity[0] || inputs.length > def.arity[1]) {
      throw new Error(`${name} (${opType}): takes ${def.arity[0]}..${def.arity[1]} inputs, got ${inputs.length}`);
    }
    const specs: OutSpec[] = def.infer(ctx).slice(0, outputs);
    const node: { -readonly [K in keyof Node]: Node[K] } = { opType, domain: '', name, inputs: [...inputs], outputs: [], attrs };
    node.outputs = specs.map((s, i) => ({
      name: this.claim(i === 0 ? name : `${name}:${i}`),
      dtype: s.dtype,
      shape: [...s.shape],
      kind: 'node' as const,
      producer: node,
      known: s.known,
    }));
    this.graph.nodes.push(node);
    return node.outputs as Value[];
  }

  private one(opType: OpType, inputs: readonly (Value | null)[], attrs: Record<string, Attr> = {}): Value {
    return this.node(opType, inputs, attrs)[0]!;
  }

  /** Marks a graph output, renamed through an Identity when `name` is given. */
  output(v: Value, name?: string): Value {
    let out = v;
    if (name && name !== v.name) {
      // A node's output that is not yet a graph output is renamed in place (no copy); anything else (inputs,
      // constants, a value already output under another name, walls) goes through an Identity.
      if (v.kind === 'node' && !this.graph.outputs.includes(v) && !this.walls.has(v) && !this.names.has(name)) {
        this.names.delete(v.name);
        (v as { name: string }).name = this.claim(name);
      } else {
        out = this.scope('', () => this.namedIdentity(v, name));
      }
    }
    this.graph.outputs.push(out);
    return out;
  }

  private namedIdentity(v: Value, name: string): Value {
    const node: { -readonly [K in keyof Node]: Node[K] } = { opType: 'Identity', domain: '', name: `${name}/Identity`, inputs: [v], outputs: [], attrs: {} };
    node.outputs = [{ name: this.claim(name), dtype: v.dtype, shape: v.shape, kind: 'node', producer: node }];
    this.graph.nodes.push(node);
    return node.outputs[0]!;
  }

  /**
   * ONNX Loop, run `tripCount` (int64 scalar) times; control flow, so not in OPS and without a gradient rule. `body`
   * takes (iteration int64 [], condition bool [], ...carried) and returns (condition, ...carried, ...scanned); the node
   * returns the carried values after the last iteration, then each scanned value stacked along a new leading axis of
   * `iterations`. The body reads values of this graph by name, so the names it defines are claimed here: a clash
   * between the scopes fails now, never in ONNX Runtime.
   */
  Loop(tripCount: Value, carried: readonly Value[], body: Graph, iterations: Dim): Value[] {
    const name = this.nodeName('Loop');
    const fail = (msg: string): never => {
      throw new Error(`${name} (Loop): ${msg}`);
    };
    if (tripCount.dtype !== 'int64' || tripCount.shape.length !== 0) fail(`the trip count "${tripCount.name}" must be an int64 scalar, got ${tripCount.dtype}[${tripCount.shape.join(',')}]`);
    const [iteration, condition, ...state] = body.inputs;
    if (iteration?.dtype !== 'int64' || condition?.dtype !== 'bool') fail('the body must take (iteration int64, condition bool, ...carried) first');
    if (state.length !== carried.length) fail(`the body takes ${state.length} carried values, got ${carried.length}`);
    if (body.outputs.length < 1 + carried.length) fail(`the body returns ${body.outputs.length} values, fewer than its condition and ${carried.length} carried`);
    if (body.outputs[0]!.dtype !== 'bool') fail('the body must return its condition (bool) first');
    carried.forEach((v, i) => {
      for (const [what, w] of [['input', state[i]!], ['output', body.outputs[1 + i]!]] as const) {
        if (w.dtype !== v.dtype || w.shape.join(',') !== v.shape.join(',')) {
          fail(`carried value ${i} "${v.name}" is ${v.dtype}[${v.shape.join(',')}], the body's ${what} "${w.name}" ${w.dtype}[${w.shape.join(',')}]`);
        }
      }
    });
    for (const v of [...body.inputs, ...body.constants, ...body.nodes.flatMap((n) => n.outputs)]) {
      if (this.names.has(v.name)) fail(`the body defines "${v.name}", a name already taken in ${this.graph.name} or its body`);
      this.names.add(v.name);
    }
    const node: { -readonly [K in keyof Node]: Node[K] } = { opType: 'Loop', domain: '', name, inputs: [tripCount, null, ...carried], outputs: [], attrs: { body: { g: body } } };
    const scanned = body.outputs.slice(1 + carried.length).map((v) => ({ dtype: v.dtype, shape: [iterations, ...v.shape] }));
    node.outputs = [...carried, ...scanned].map((v, i) => ({ name: this.claim(i === 0 ? name : `${name}:${i}`), dtype: v.dtype, shape: [...v.shape], kind: 'node' as const, producer: node }));
    this.graph.nodes.push(node);
    return node.outputs as Value[];
  }

  /** A wall for reverse-mode autodiff: the same value, through which no gradient ever flows. */
  stopGradient(x: Value): Value {
    const y = this.node('Identity', [x], {}, 'StopGradient')[0]!;
    this.walls.add(y);
    return y;
  }

  // ---- elementwise ---------------------------------------------------------------------------------------------

  Add(a: Value, b: Value) { return this.one('Add', [a, b]); }
  Sub(a: Value, b: Value) { return this.one('Sub', [a, b]); }
  Mul(a: Value, b: Value) { return this.one('Mul', [a, b]); }
  Div(a: Value, b: Value) { return this.one('Div', [a, b]); }
  Pow(a: Value, b: Value) { return this.one('Pow', [a, b]); }
  Max(a: Value, b: Value) { return this.one('Max', [a, b]); }
  /** Integer remainder (fmod = 0: the sign follows the divisor). */
  Mod(a: Value, b: Value) { return this.one('Mod', [a, b]); }
  Min(a: Value, b: Value) { return this.one('Min', [a, b]); }
  Equal(a: Value, b: Value) { return this.one('Equal', [a, b]); }
  Greater(a: Value, b: Value) { return this.one('Greater', [a, b]); }
  Less(a: Value, b: Value) { return this.one('Less', [a, b]); }
  GreaterOrEqual(a: Value, b: Value) { return this.one('GreaterOrEqual', [a, b]); }
  LessOrEqual(a: Value, b: Value) { return this.one('LessOrEqual', [a, b]); }
  And(a: Value, b: Value) { return this.one('And', [a, b]); }
  Or(a: Value, b: Value) { return this.one('Or', [a, b]); }
  Not(x: Value) { return this.one('Not', [x]); }
  Neg(x: Value) { return this.one('Neg', [x]); }
  Abs(x: Value) { return this.one('Abs', [x]); }
  Sign(x: Value) { return this.one('Sign', [x]); }
  Sqrt(x: Value) { return this.one('Sqrt', [x]); }
  Exp(x: Value) { return this.one('Exp', [x]); }
  Log(x: Value) { return this.one('Log', [x]); }
  Tanh(x: Value) { return this.one('Tanh', [x]); }
  Erf(x: Value) { return this.one('Erf', [x]); }
  Relu(x: Value) { return this.one('Relu', [x]); }
  Sigmoid(x: Value) { return this.one('Sigmoid', [x]); }
  Softplus(x: Value) { return this.one('Softplus', [x]); }
  Reciprocal(x: Value) { return this.one('Reciprocal', [x]); }
  Identity(x: Value) { return this.one('Identity', [x]); }
  /** Gelu (opset 20): approximate 'none' (erf form) or 'tanh'. */
  Gelu(x: Value, approximate: 'none' | 'tanh' = 'none') {
    return this.one('Gelu', [x], approximate === 'none' ? {} : { approximate: A.s(approximate) });
  }
  Where(cond: Value, a: Value, b: Value) { return this.one('Where', [cond, a, b]); }
  Cast(x: Value, to: DType) { return x.dtype === to ? x : this.one('Cast', [x], { to: A.i(ONNX_DTYPE[to]) }); }

  // ---- reductions ----------------------------------------------------------------------------------------------

  ReduceSum(x: Value, axes?: Ints, keepdims = true) { return this.reduce('ReduceSum', x, axes, keepdims); }
  ReduceMean(x: Value, axes?: Ints, keepdims = true) { return this.reduce('ReduceMean', x, axes, keepdims); }
  ReduceMax(x: Value, axes?: Ints, keepdims = true) { return this.reduce('ReduceMax', x, axes, keepdims); }
  /** Σ x² (no gradient rule: used by optimizers for norms). */
  ReduceSumSquare(x: Value, axes?: Ints, keepdims = true) { return this.reduce('ReduceSumSquare', x, axes, keepdims); }
  private reduce(op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax' | 'ReduceSumSquare', x: Value, axes: Ints | undefined, keepdims: boolean) {
    return this.one(op, [x, axes ? this.ints(axes) : null], keepdims ? {} : { keepdims: A.i(0) });
  }
  Softmax(x: Value, axis = -1) { return this.one('Softmax', [x], { axis: A.i(axis) }); }
  LogSoftmax(x: Value, axis = -1) { return this.one('LogSoftmax', [x], { axis: A.i(axis) }); }

  // ---- shape ---------------------------------------------------------------------------------------------------

  /** Reshape to `shape` (0 copies the input dim, -1 is inferred) or to the runtime value `shape`. */
  Reshape(x: Value, shape: readonly Dim[] | Value) {
    const s = Array.isArray(shape) ? this.shapeValue(shape as Dim[]) : (shape as Value);
    return this.one('Reshape', [x, s]);
  }
  Transpose(x: Value, perm: Ints) { return this.one('Transpose', [x], { perm: A.ints(perm) }); }
  Squeeze(x: Value, axes: Ints) { return this.one('Squeeze', [x, this.ints(axes)]); }
  Unsqueeze(x: Value, axes: Ints) { return this.one('Unsqueeze', [x, this.ints(axes)]); }
  Concat(xs: readonly Value[], axis: number) { return this.one('Concat', xs, { axis: A.i(axis) }); }
  Split(x: Value, sizes: Ints, axis = 0) { return this.node('Split', [x, this.ints(sizes)], { axis: A.i(axis) }); }
  Slice(x: Value, starts: Ints, ends: Ints, axes?: Ints, steps?: Ints) {
    return this.one('Slice', [x, this.ints(starts), this.ints(ends), axes ? this.ints(axes) : null, steps ? this.ints(steps) : null]);
  }
  Gather(x: Value, indices: Value, axis = 0) { return this.one('Gather', [x, indices], { axis: A.i(axis) }); }
  GatherElements(x: Value, indices: Value, axis = 0) { return this.one('GatherElements', [x, indices], { axis: A.i(axis) }); }
  ScatterElements(x: Value, indices: Value, updates: Value, axis = 0, reduction: 'none' | 'add' = 'none') {
    return this.one('ScatterElements', [x, indices, updates], { axis: A.i(axis), ...(reduction === 'none' ? {} : { reduction: A.s(reduction) }) });
  }
  ScatterND(x: Value, indices: Value, updates: Value, reduction: 'none' | 'add' = 'none') {
    return this.one('ScatterND', [x, indices, updates], reduction === 'none' ? {} : { reduction: A.s(reduction) });
  }
  Expand(x: Value, shape: readonly Dim[] | Value) {
    const s = Array.isArray(shape) ? this.shapeValue(shape as Dim[]) : (shape as Value);
    return this.one('Expand', [x, s]);
  }
  Tile(x: Value, repeats: Ints) { return this.one('Tile', [x, this.ints(repeats)]); }
  /** Constant padding with `value` (default 0): `pads` = [begin per axis..., end per axis...]; negative ones crop. */
  Pad(x: Value, pads: Ints, value = 0) { return this.one('Pad', value === 0 ? [x, this.ints(pads)] : [x, this.ints(pads), this.scalarLike(value, x)]); }
  /** The shape of `x` as a 1-D int64 value, optionally dims [start, end) only. */
  Shape(x: Value, start?: number, end?: number) {
    const attrs: Record<string, Attr> = {};
    if (start !== undefined && start !== 0) attrs.start = A.i(start);
    if (end !== undefined) attrs.end = A.i(end);
    return this.one('Shape', [x], attrs);
  }
  ConstantOfShape(shape: Value, value: number, dtype: DType = 'float32') {
    return this.one('ConstantOfShape', [shape], { value: { t: tensor(dtype, [1], [value]) } });
  }

  // ---- linear algebra ------------------------------------------------------------------------------------------

  MatMul(a: Value, b: Value) { return this.one('MatMul', [a, b]); }
  Gemm(a: Value, b: Value, c: Value | null, o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}) {
    const attrs: Record<string, Attr> = {};
    if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = A.f(o.alpha);
    if (o.beta !== undefined && o.beta !== 1) attrs.beta = A.f(o.beta);
    if (o.transA) attrs.transA = A.i(1);
    if (o.transB) attrs.transB = A.i(1);
    return this.one('Gemm', [a, b, c], attrs);
  }

  // ---- nn ------------------------------------------------------------------------------------------------------

  /** Layer norm over the axes from `axis` on; returns Y and the saved Mean and InvStdDev (for the backward pass). */
  LayerNormalization(x: Value, scale: Value, bias: Value | null, axis = -1, epsilon = 1e-5) {
    const [y, mean, invStd] = this.node('LayerNormalization', [x, scale, bias], { axis: A.i(axis), epsilon: A.f(epsilon) });
    return { y: y!, mean: mean!, invStd: invStd! };
  }
  /** Batch norm; in training mode it also returns the updated running mean and variance (vhssl's layers build training
   *  mode from primitives instead, which WebGPU runs: `batchNormTrain` in nn/layers.ts). */
  BatchNormalization(x: Value, scale: Value, bias: Value, mean: Value, variance: Value, o: { epsilon?: number; momentum?: number; training: boolean }) {
    const attrs: Record<string, Attr> = { epsilon: A.f(o.epsilon ?? 1e-5), momentum: A.f(o.momentum ?? 0.9) };
    if (o.training) attrs.training_mode = A.i(1);
    const [y, runningMean, runningVar] = this.node('BatchNormalization', [x, scale, bias, mean, variance], attrs);
    return { y: y!, runningMean, runningVar };
  }
  Conv(x: Value, w: Value, bias: Value | null, o: ConvOptions = {}) {
    return this.one('Conv', [x, w, bias], this.convAttrs(w.shape.slice(2) as number[], o));
  }
  ConvTranspose(x: Value, w: Value, bias: Value | null, o: ConvOptions & { outputPadding?: Ints } = {}) {
    const attrs = this.convAttrs(w.shape.slice(2) as number[], o);
    if (o.outputPadding?.some((p) => p !== 0)) attrs.output_padding = A.ints(o.outputPadding);
    return this.one('ConvTranspose', [x, w, bias], attrs);
  }
  private convAttrs(kernel: Ints, o: ConvOptions): Record<string, Attr> {
    const attrs: Record<string, Attr> = { kernel_shape: A.ints(kernel) };
    if (o.strides) attrs.strides = A.ints(o.strides);
    if (o.pads) attrs.pads = A.ints(o.pads);
    if (o.dilations) attrs.dilations = A.ints(o.dilations);
    if (o.group && o.group !== 1) attrs.group = A.i(o.group);
    return attrs;
  }
  /** Max pooling, Y only: its gradient finds the maxima again by comparing X with Y, and WebGPU's kernel refuses the
   *  Indices output. */
  MaxPool(x: Value, o: PoolOptions) {
    const [y] = this.node('MaxPool', [x], this.poolAttrs(o), 'MaxPool', 1);
    return { y: y! };
  }
  AveragePool(x: Value, o: PoolOptions) {
    const attrs = this.poolAttrs(o);
    if (o.countIncludePad) attrs.count_include_pad = A.i(1);
    return this.one('AveragePool', [x], attrs);
  }
  private poolAttrs(o: PoolOptions): Record<string, Attr> {
    const attrs: Record<string, Attr> = { kernel_shape: A.ints(o.kernel) };
    if (o.strides) attrs.strides = A.ints(o.strides);
    if (o.pads) attrs.pads = A.ints(o.pads);
    if (o.dilations) attrs.dilations = A.ints(o.dilations);
    return attrs;
  }
}
