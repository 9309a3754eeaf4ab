// Measures which of vhssl's ops an execution provider of the installed onnxruntime-node takes: one single-node
// model per (op, schema version, element type), a session with verbose logging, the node placement ORT logs, and one
// run on zeros (a kernel can take a node when the session is created and refuse it when it runs). This is how
// webgpu.json was made (README.md beside it); vhssl never imports this file.
//
//   KERNELS_MEASURED_ON='...' VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json \
//     npx tsx src/runtime/kernels/measure.ts webgpu > src/runtime/kernels/webgpu.json
//
// WebGPU needs an adapter: Mesa's lavapipe (a software Vulkan, mesa-vulkan-drivers >= 23; 22.3 lacks a feature Dawn
// requires) is enough. The output lists, per op, the runs of schema versions whose nodes land on the provider and,
// for each, the element types it took per type constraint and what it refuses when the node runs.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../graph/builder.ts';
import { DTYPES, type DType } from '../../graph/dtype.ts';
import type { Attr, Value } from '../../graph/ir.ts';
import { decodeModel, encodeModel, reencodeModel } from '../../graph/onnx.ts';
import { OPSET } from '../../graph/ops/index.ts';
import { tensor } from '../../graph/tensor.ts';

type Types = Record<string, DType>;
type Refusal = { attr: string; value: number } | { output: number };
const refusalId = (r: Refusal) => ('attr' in r ? `${r.attr}=${r.value}` : `output${r.output}`);
interface Probe {
  /** Candidate element types per type constraint (the others keep their default while one varies). */
  vary: Record<string, readonly DType[]>;
  defaults: Types;
  /** The oldest schema version whose form vhssl's node has (inputs instead of attributes, ...). */
  from?: number;
  build: (b: GraphBuilder, t: Types, attrs?: Record<string, Attr>) => Value[];
  /** What a kernel may take at session creation and refuse when it runs (measured per range): an integer attribute
   *  value, or the presence of an optional output. */
  refusals?: Refusal[];
}

const FLOAT: readonly DType[] = ['float32', 'float16', 'float64', 'bfloat16'];
const NUM: readonly DType[] = [...FLOAT, 'int32', 'int64', 'int8', 'uint8'];
const ALL: readonly DType[] = DTYPES;
const IDX: readonly DType[] = ['int32', 'int64'];

const x = (b: GraphBuilder, t: DType, ...shape: number[]) => b.input(`x${b.graph.inputs.length}`, t, shape);
const idx = (b: GraphBuilder, t: DType, shape: number[], v: number[]) => b.constant(tensor(t, shape, v));
const one = (op: Parameters<GraphBuilder['node']>[0]) => (b: GraphBuilder, ins: (Value | null)[], attrs = {}) => b.node(op, ins, attrs);

const binary = (op: string, types = NUM): Probe => ({ vary: { T: types }, defaults: { T: 'float32' }, build: (b, t) => one(op as never)(b, [x(b, t.T!, 2, 3), x(b, t.T!, 3)]) });
const unary = (op: string, types: readonly DType[], from?: number): Probe => ({ vary: { T: types }, defaults: { T: 'float32' }, from, build: (b, t) => one(op as never)(b, [x(b, t.T!, 2, 3)]) });
const reduce = (op: string, from: number): Probe => ({ vary: { T: NUM }, defaults: { T: 'float32' }, from, build: (b, t) => one(op as never)(b, [x(b, t.T!, 2, 3), b.ints([1])]) });
const pool = (op: 'MaxPool' | 'AveragePool', types: readonly DType[]): Probe => ({
  vary: { T: types }, defaults: { T: 'float32' },
  build: (b, t) => one(op)(b, [x(b, t.T!, 1, 2, 4, 4)], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }),
});

export const PROBES: Record<string, Probe> = {
  Add: binary('Add'), Sub: binary('Sub'), Mul: binary('Mul'), Div: binary('Div'), Max: binary('Max'), Min: binary('Min'),
  Mod: { vary: { T: NUM }, defaults: { T: 'int64' }, build: (b, t) => one('Mod')(b, [x(b, t.T!, 2, 3), x(b, t.T!, 3)], FLOAT.includes(t.T!) ? { fmod: { i: 1 } } : {}) },
  Pow: { vary: { T: NUM, T1: NUM }, defaults: { T: 'float32', T1: 'float32' }, build: (b, t) => one('Pow')(b, [x(b, t.T!, 2, 3), x(b, t.T1!, 3)]) },
  Equal: binary('Equal', [...NUM, 'bool']), Greater: binary('Greater'), Less: binary('Less'),
  GreaterOrEqual: binary('GreaterOrEqual'), LessOrEqual: binary('LessOrEqual'),
  And: binary('And', ['bool']), Or: binary('Or', ['bool']),
  Not: { vary: { T: ['bool'] }, defaults: { T: 'bool' }, build: (b, t) => one('Not')(b, [x(b, t.T!, 2, 3)]) },
  Neg: unary('Neg', NUM), Abs: unary('Abs', NUM), Sign: unary('Sign', NUM), Relu: unary('Relu', NUM), Identity: { vary: { V: ALL }, defaults: { V: 'float32' }, build: (b, t) => one('Identity')(b, [x(b, t.V!, 2, 3)]) },
  Sqrt: unary('Sqrt', FLOAT), Exp: unary('Exp', FLOAT), Log: unary('Log', FLOAT), Tanh: unary('Tanh', FLOAT), Erf: unary('Erf', FLOAT),
  Sigmoid: unary('Sigmoid', FLOAT), Reciprocal: unary('Reciprocal', FLOAT), Gelu: unary('Gelu', FLOAT, 20), Softplus: unary('Softplus', FLOAT),
  Where: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Where')(b, [x(b, 'bool', 2, 3), x(b, t.T!, 2, 3), x(b, t.T!, 3)]) },
  Cast: { vary: { T1: ALL, T2: ALL }, defaults: { T1: 'float32', T2: 'int64' }, build: (b, t) => one('Cast')(b, [x(b, t.T1!, 2, 3)], { to: { i: onnxCode(t.T2!) } }) },
  ReduceSum: reduce('ReduceSum', 13), ReduceMean: reduce('ReduceMean', 18), ReduceMax: reduce('ReduceMax', 18), ReduceSumSquare: reduce('ReduceSumSquare', 18),
  Softmax: unary('Softmax', FLOAT), LogSoftmax: unary('LogSoftmax', FLOAT),
  Reshape: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Reshape')(b, [x(b, t.T!, 2, 3), b.ints([3, 2])]) },
  Transpose: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Transpose')(b, [x(b, t.T!, 2, 3)], { perm: { ints: [1, 0] } }) },
  Squeeze: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Squeeze')(b, [x(b, t.T!, 2, 1), b.ints([1])]) },
  Unsqueeze: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Unsqueeze')(b, [x(b, t.T!, 3), b.ints([0])]) },
  Concat: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Concat')(b, [x(b, t.T!, 2, 3), x(b, t.T!, 1, 3)], { axis: { i: 0 } }) },
  Split: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Split')(b, [x(b, t.T!, 2, 4), b.ints([1, 3])], { axis: { i: 1 } }) },
  Slice: {
    vary: { T: ALL, Tind: IDX }, defaults: { T: 'float32', Tind: 'int64' },
    build: (b, t) => one('Slice')(b, [x(b, t.T!, 4, 3), idx(b, t.Tind!, [1], [3]), idx(b, t.Tind!, [1], [0]), idx(b, t.Tind!, [1], [0]), idx(b, t.Tind!, [1], [-2])]),
  },
  Gather: { vary: { T: ALL, Tind: IDX }, defaults: { T: 'float32', Tind: 'int64' }, build: (b, t) => one('Gather')(b, [x(b, t.T!, 4, 3), idx(b, t.Tind!, [2], [3, 0])], { axis: { i: 0 } }) },
  GatherElements: { vary: { T: ALL, Tind: IDX }, defaults: { T: 'float32', Tind: 'int64' }, build: (b, t) => one('GatherElements')(b, [x(b, t.T!, 2, 3), idx(b, t.Tind!, [2, 1], [2, 0])], { axis: { i: 1 } }) },
  ScatterElements: {
    vary: { T: NUM, Tind: IDX }, defaults: { T: 'float32', Tind: 'int64' },
    build: (b, t) => one('ScatterElements')(b, [x(b, t.T!, 2, 3), idx(b, t.Tind!, [2, 1], [2, 0]), x(b, t.T!, 2, 1)], { axis: { i: 1 }, reduction: { s: 'add' } }),
  },
  ScatterND: { vary: { T: NUM }, defaults: { T: 'float32' }, build: (b, t) => one('ScatterND')(b, [x(b, t.T!, 4, 3), idx(b, 'int64', [2, 1], [3, 1]), x(b, t.T!, 2, 3)], { reduction: { s: 'add' } }) },
  Expand: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Expand')(b, [x(b, t.T!, 1, 3), b.ints([4, 3])]) },
  Tile: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Tile')(b, [x(b, t.T!, 2, 3), b.ints([2, 1])]) },
  Pad: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Pad')(b, [x(b, t.T!, 2, 3), b.ints([1, 0, 0, 2])]) },
  Shape: { vary: { T: ALL }, defaults: { T: 'float32' }, build: (b, t) => one('Shape')(b, [x(b, t.T!, 2, 3)]) },
  ConstantOfShape: { vary: { T2: ALL }, defaults: { T2: 'float32' }, build: (b, t) => one('ConstantOfShape')(b, [b.ints([2, 3])], { value: { t: tensor(t.T2!, [1], [1]) } }) },
  MatMul: { vary: { T: NUM }, defaults: { T: 'float32' }, build: (b, t) => one('MatMul')(b, [x(b, t.T!, 2, 3, 4), x(b, t.T!, 4, 5)]) },
  Gemm: { vary: { T: NUM }, defaults: { T: 'float32' }, build: (b, t) => one('Gemm')(b, [x(b, t.T!, 2, 3), x(b, t.T!, 4, 3), x(b, t.T!, 4)], { transB: { i: 1 } }) },
  LayerNormalization: { vary: { T: FLOAT }, defaults: { T: 'float32' }, build: (b, t) => one('LayerNormalization')(b, [x(b, t.T!, 2, 3), x(b, t.T!, 3), x(b, t.T!, 3)], { axis: { i: -1 } }) },
  BatchNormalization: {
    vary: { T: FLOAT }, defaults: { T: 'float32' }, refusals: [{ attr: 'training_mode', value: 1 }],
    build: (b, t, attrs = {}) => one('BatchNormalization')(b, [x(b, t.T!, 2, 3, 4), x(b, t.T!, 3), x(b, t.T!, 3), x(b, t.T!, 3), x(b, t.T!, 3)], attrs),
  },
  Conv: { vary: { T: FLOAT }, defaults: { T: 'float32' }, build: (b, t) => one('Conv')(b, [x(b, t.T!, 1, 2, 5, 5), x(b, t.T!, 3, 2, 3, 3), x(b, t.T!, 3)], { kernel_shape: { ints: [3, 3] } }) },
  ConvTranspose: { vary: { T: FLOAT }, defaults: { T: 'float32' }, build: (b, t) => one('ConvTranspose')(b, [x(b, t.T!, 1, 2, 4, 4), x(b, t.T!, 2, 3, 3, 3)], { kernel_shape: { ints: [3, 3] } }) },
  MaxPool: {
    vary: { T: [...FLOAT, 'int8', 'uint8'] }, defaults: { T: 'float32' }, refusals: [{ output: 1 }],
    build: (b, t, attrs) => {
      const outs = pool('MaxPool', FLOAT).build(b, t);
      return attrs?.output1 ? outs : [withoutOutput(b, outs[0]!)];
    },
  },
  AveragePool: pool('AveragePool', FLOAT),
};

/** Drops every output but `y` from its node (an omitted optional output, as ONNX allows). */
function withoutOutput(b: GraphBuilder, y: Value): Value {
  const n = b.graph.nodes.find((m) => m.outputs.includes(y))! as { outputs: readonly Value[] };
  n.outputs = [y];
  return y;
}

function onnxCode(t: DType): number {
  return { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16 }[t];
}

interface Case { id: string; op: string; opset: number; types: Types; attrs?: Record<string, Attr> }

/** One model per case; `null` when the builder refuses the node (a type its shape inference rejects). */
function model(c: Case): { bytes: Uint8Array; node: string; inputs: Value[] } | null {
  const b = new GraphBuilder(c.op);
  let outs: Value[];
  try {
    outs = PROBES[c.op]!.build(b, c.types, c.attrs);
  } catch {
    return null;
  }
  outs.forEach((v, i) => b.output(v, `y${i}`));
  const node = b.graph.nodes.find((n) => n.opType === c.op)!.name;
  const m = decodeModel(encodeModel(b.graph).model);
  m.opsetImport[0]!.version = BigInt(c.opset);
  return { bytes: reencodeModel(m), node, inputs: b.graph.inputs };
}

const ZEROS: Record<DType, ((n: number) => ArrayLike<number> | ArrayLike<bigint>) | null> = {
  float32: (n) => new Float32Array(n), float64: (n) => new Float64Array(n), float16: (n) => new Uint16Array(n), bfloat16: null,
  int64: (n) => new BigInt64Array(n), int32: (n) => new Int32Array(n), int8: (n) => new Int8Array(n), uint8: (n) => new Uint8Array(n), bool: (n) => new Uint8Array(n),
};

/** Child: creates one session per case, each after a marker line on stderr, where ORT's verbose log also goes. */
async function child(ep: string, cases: Case[]): Promise<void> {
  const ort = await import('onnxruntime-node');
  for (const c of cases) {
    const m = model(c);
    if (!m) {
      process.stderr.write(`@@case ${c.id} unbuildable\n`);
      continue;
    }
    process.stderr.write(`@@case ${c.id} ${m.node}\n`);
    try {
      const s = await ort.InferenceSession.create(m.bytes, { executionProviders: [ep], logSeverityLevel: 0, graphOptimizationLevel: 'disabled' });
      // Some kernels are taken when the session is made and refuse the node when it runs (WebGPU's MaxPool with
      // the Indices output): run it once on zeros.
      if (m.inputs.every((v) => ZEROS[v.dtype])) {
        const feeds = Object.fromEntries(m.inputs.map((v) => {
          const shape = v.shape as number[];
          return [v.name, new ort.Tensor(v.dtype as 'float32', ZEROS[v.dtype]!(shape.reduce((a, d) => a * d, 1)) as Float32Array, shape)];
        }));
        try {
          await s.run(feeds);
        } catch (e) {
          process.stderr.write(`@@runerror ${(e as Error).message.split('\n')[0]}\n`);
        }
      }
      await s.release();
    } catch (e) {
      process.stderr.write(`@@error ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
}

type Outcome = { placed: string; runError?: string } | { error: string } | 'unbuildable';

/** Parent: runs the child and reads, per case, the provider its node was placed on. */
function run(ep: string, cases: Case[]): Map<string, Outcome> {
  // ORT logs through a C++ stream that stops for good at the first EAGAIN of a non-blocking pipe: log to a file.
  const self = fileURLToPath(import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'vhssl-kernels-'));
  const logPath = join(dir, 'ort.log');
  const fd = openSync(logPath, 'w');
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', ep], { input: JSON.stringify(cases), stdio: ['pipe', 'inherit', fd], env: process.env });
  closeSync(fd);
  const log = readFileSync(logPath, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) process.stderr.write(`measure: the child process ended with ${r.status ?? r.signal} after ${log.split('@@case').length - 1} of ${cases.length} cases\n`);
  const out = new Map<string, Outcome>();
  let cur: { id: string; node: string } | null = null;
  let lastEp = '';
  for (const line of log.split('\n')) {
    const m = /^@@case (\S+) (\S+)/.exec(line);
    if (m) {
      cur = { id: m[1]!, node: m[2]! };
      if (m[2] === 'unbuildable') out.set(m[1]!, 'unbuildable');
      continue;
    }
    if (!cur) continue;
    const e = /^@@error (.*)/.exec(line);
    if (e) out.set(cur.id, { error: e[1]! });
    const re = /^@@runerror (.*)/.exec(line);
    const o = out.get(cur.id);
    if (re && o !== undefined && o !== 'unbuildable' && 'placed' in o) o.runError = re[1]!;
    const all = /All nodes placed on \[(\w+)\]/.exec(line);
    if (all) out.set(cur.id, { placed: all[1]! });
    const some = /Node\(s\) placed on \[(\w+)\]/.exec(line);
    if (some) lastEp = some[1]!;
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s+\S+ \((.*)\)$/.exec(line);
    if (node && node[1] === cur.node) out.set(cur.id, { placed: lastEp });
  }
  return out;
}

/** ai.onnx schema versions per op (onnx.json beside this file). */
const SCHEMAS = JSON.parse(readFileSync(new URL('./onnx.json', import.meta.url), 'utf8')) as { ops: Record<string, { versions: number[] }> };

function measure(ep: string, provider: string): unknown {
  const since = (op: string, opset: number) => Math.max(...SCHEMAS.ops[op]!.versions.filter((v) => v <= opset));
  const plan: Case[] = [];
  const versionsOf = (op: string) => {
    const p = PROBES[op]!;
    const vs = SCHEMAS.ops[op]!.versions.filter((v) => v <= OPSET);
    const from = since(op, Math.max(p.from ?? 13, vs[0]!));
    return vs.filter((v) => v >= from);
  };
  for (const op of Object.keys(PROBES)) {
    for (const v of versionsOf(op)) {
      const p = PROBES[op]!;
      plan.push({ id: `${op}@${v}`, op, opset: v, types: p.defaults });
      for (const [c, cands] of Object.entries(p.vary)) {
        for (const t of cands) plan.push({ id: `${op}@${v}:${c}=${t}`, op, opset: v, types: { ...p.defaults, [c]: t } });
      }
      for (const r of p.refusals ?? []) {
        // An output refusal reaches the probe as a pseudo-attribute `output<k>` that its build reads.
        const attrs = 'attr' in r ? { [r.attr]: { i: r.value } } : { [`output${r.output}`]: { i: 1 } };
        plan.push({ id: `${op}@${v}:${refusalId(r)}`, op, opset: v, types: p.defaults, attrs });
      }
    }
  }
  const res = run(ep, plan);
  const on = (id: string) => {
    const o = res.get(id);
    return o !== undefined && o !== 'unbuildable' && 'placed' in o && o.placed === provider && o.runError === undefined;
  };
  const kernels: unknown[] = [];
  for (const op of Object.keys(PROBES)) {
    const vs = versionsOf(op);
    const last = Math.max(...SCHEMAS.ops[op]!.versions.filter((v) => v <= OPSET));
    let i = 0;
    while (i < vs.length) {
      if (!on(`${op}@${vs[i]}`)) {
        i++;
        continue;
      }
      let j = i;
      while (j + 1 < vs.length && on(`${op}@${vs[j + 1]}`)) j++;
      const end = vs[j] === last ? OPSET : vs[j + 1]! - 1;
      const types: Record<string, string[]> = {};
      for (const [c, cands] of Object.entries(PROBES[op]!.vary)) {
        types[c] = cands.filter((t) => on(`${op}@${vs[i]}:${c}=${t}`)).map(onnxName);
      }
      const refuses = (PROBES[op]!.refusals ?? []).filter((r) => !on(`${op}@${vs[i]}:${refusalId(r)}`));
      kernels.push({ op, domain: 'ai.onnx', since: vs[i], end, types, ...(refuses.length ? { refuses } : {}) });
      i = j + 1;
    }
  }
  const ortVersion = (JSON.parse(readFileSync(new URL('../../../node_modules/onnxruntime-node/package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return {
    provider,
    onnxruntime: `${ortVersion} (onnxruntime-node, the build it bundles), measured`,
    source: {
      method: 'src/runtime/kernels/measure.ts: one single-node model per (op, schema version, element type), a session with this provider and verbose logging, and the node placement ORT logs; see README.md beside it',
      measured_on: process.env.KERNELS_MEASURED_ON ?? 'unrecorded',
    },
    scope: "the ops of vhssl's vocabulary (src/graph/ops), each from the schema version whose form vhssl emits to opset " + OPSET + '; an op missing here has no kernel for any of them',
    format: `one entry per run of consecutive schema versions whose nodes the provider takes: [since, end] (end ${OPSET}: measured up to opset ${OPSET}, the newest this onnxruntime loads), and per type constraint the element types it took among vhssl's (${DTYPES.join(', ')}), as ONNX names (float = float32, double = float64); 'refuses': attribute values (or optional outputs) the kernel takes when the session is created and then refuses when the node runs (a failed run, not a CPU fallback)`,
    kernels,
  };
}

/** The tables' layout: one key per line, one kernel per line. */
export function tableJson(t: Record<string, unknown>): string {
  const lines = Object.entries(t).map(([k, v]) => {
    if (Array.isArray(v)) return ` ${JSON.stringify(k)}: [\n${v.map((e) => `  ${JSON.stringify(e)}`).join(',\n')}\n ]`;
    return ` ${JSON.stringify(k)}: ${JSON.stringify(v)}`;
  });
  return `{\n${lines.join(',\n')}\n}\n`;
}

export function onnxName(t: DType): string {
  return t === 'float32' ? 'float' : t === 'float64' ? 'double' : t;
}

const args = process.argv.slice(2);
if (args[0] === '--child') {
  await child(args[1]!, JSON.parse(readFileSync(0, 'utf8')) as Case[]);
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const ep = args[0] ?? 'webgpu';
  const provider = { webgpu: 'WebGpuExecutionProvider', cuda: 'CUDAExecutionProvider', cpu: 'CPUExecutionProvider' }[ep] ?? ep;
  process.stdout.write(tableJson(measure(ep, provider) as Record<string, unknown>));
}
