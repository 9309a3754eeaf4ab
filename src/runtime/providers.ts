// Provider coverage: which nodes of a graph the CUDA or WebGPU execution provider of onnxruntime 1.30 has no kernel
// for, and so would run on the CPU (with copies across the host boundary on each side), or takes and then refuses
// when it runs (kind 'refused': the run fails). Read from the kernel tables
// in ./kernels (cuda.json read from onnxruntime's registrations, webgpu.json measured on onnxruntime-node 1.30's
// bundled WebGPU EP; onnx.json gives each op's schema versions and type constraints). ORT matches a node to a kernel
// by op, domain, the node's schema version (the newest version of the op <= the model's opset) and the element type
// bound to each type constraint the kernel lists; this does the same.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DType } from '../graph/dtype.ts';
import type { Graph, Node } from '../graph/ir.ts';
import { OPSET } from '../graph/ops/index.ts';

export const PROVIDERS = ['cuda', 'webgpu'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const PROVIDER_NAMES: Record<Provider, string> = { cuda: 'CUDA', webgpu: 'WebGPU' };

const KernelSchema = z.object({
  op: z.string(),
  domain: z.string(),
  since: z.number().int(),
  /** null: this version and every later one (ORT's `since+`). */
  end: z.number().int().nullable(),
  /** Element types (ONNX names) per type constraint; a constraint not listed here is not checked. */
  types: z.record(z.string(), z.array(z.string())),
  /** Integer attribute values the kernel takes when the session is created and refuses when the node runs. */
  refuses: z.array(z.union([z.object({ attr: z.string(), value: z.number().int() }), z.object({ output: z.number().int() })])).optional(),
});
const TableSchema = z.object({ provider: z.string(), onnxruntime: z.string(), kernels: z.array(KernelSchema) }).passthrough();
const OnnxSchema = z.object({
  opset: z.number().int(),
  ops: z.record(z.string(), z.object({ versions: z.array(z.number().int()), inputs: z.array(z.string()), outputs: z.array(z.string()) })),
});

export type Kernel = z.infer<typeof KernelSchema>;
export type KernelTable = z.infer<typeof TableSchema>;
type OpSchema = z.infer<typeof OnnxSchema>['ops'][string];

function readJson<T extends z.ZodTypeAny>(file: string, schema: T): z.infer<T> {
  const url = new URL(`./kernels/${file}`, import.meta.url);
  const r = schema.safeParse(JSON.parse(readFileSync(url, 'utf8')));
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`src/runtime/kernels/${file}: ${i.path.join('.')}: ${i.message}`);
  }
  return r.data;
}

const tables = new Map<Provider, KernelTable>();
/** The kernel table of `provider` (read once). */
export function kernelTable(provider: Provider): KernelTable {
  let t = tables.get(provider);
  if (!t) tables.set(provider, (t = readJson(`${provider}.json`, TableSchema)));
  return t;
}

let onnx: z.infer<typeof OnnxSchema> | undefined;
/** ai.onnx schema facts of vhssl's ops: versions and the type constraint of each input and output. */
export function onnxSchemas(): Record<string, OpSchema> {
  onnx ??= readJson('onnx.json', OnnxSchema);
  return onnx.ops;
}

/** The schema version a node of `op` has in a model of ai.onnx `opset`, or null when the op does not exist yet. */
export function schemaVersion(op: string, opset: number): number | null {
  const vs = onnxSchemas()[op]?.versions.filter((v) => v <= opset) ?? [];
  return vs.length ? Math.max(...vs) : null;
}

/** ONNX's name of a vhssl element type, as kernel tables spell it. */
export const onnxTypeName = (t: DType): string => (t === 'float32' ? 'float' : t === 'float64' ? 'double' : t);

export type Reason =
  | { kind: 'unknown-op' }
  | { kind: 'no-kernel' }
  | { kind: 'opset'; since: number; covered: [number, number | null][] }
  | { kind: 'type'; constraint: string; arg: string; dtype: DType; accepted: string[] }
  /** Not a fallback: ORT gives the node to the provider, whose kernel then fails the run. */
  | { kind: 'refused'; what: string };

export interface Fallback {
  /** The node's name (`scope/Op_i`; a subgraph's nodes are prefixed with their owner's name). */
  node: string;
  op: string;
  domain: string;
  opset: number;
  /** The node's schema version at `opset`. */
  since: number | null;
  inputs: (DType | null)[];
  outputs: DType[];
  reason: Reason;
  /** The reason in words. */
  why: string;
}

/** Binds each argument to its type constraint: [constraint, 'input 1' | 'output 0', dtype]. Fixed types are skipped. */
function bindings(s: OpSchema, n: Node): [string, string, DType][] {
  const out: [string, string, DType][] = [];
  const bind = (formal: readonly string[], actual: readonly (DType | null)[], what: string) => {
    actual.forEach((dt, i) => {
      if (dt === null || formal.length === 0) return;
      const last = formal[formal.length - 1]!;
      const f = i < formal.length ? formal[i]! : last.endsWith('...') ? last : null;
      if (f === null || f.startsWith('tensor(')) return;
      out.push([f.replace(/\.\.\.$/, ''), `${what} ${i}`, dt]);
    });
  };
  bind(s.inputs, n.inputs.map((v) => v?.dtype ?? null), 'input');
  bind(s.outputs, n.outputs.map((v) => v.dtype), 'output');
  return out;
}

const fmtRange = ([a, b]: [number, number | null]) => (b === null ? `${a}+` : a === b ? `${a}` : `${a}–${b}`);

/** Why `provider` has no kernel for `n` in a model of ai.onnx `opset`; null when it has one. */
export function kernelGap(n: Node, provider: Provider, opset: number = OPSET): { since: number | null; reason: Reason; why: string } | null {
  const name = PROVIDER_NAMES[provider];
  const s = onnxSchemas()[n.opType];
  const domain = n.domain === '' ? 'ai.onnx' : n.domain;
  if (!s || domain !== 'ai.onnx') {
    return { since: null, reason: { kind: 'unknown-op' }, why: `${domain} ${n.opType} is not in src/runtime/kernels/onnx.json: add its schema facts and kernel entries` };
  }
  const since = schemaVersion(n.opType, opset);
  const entries = kernelTable(provider).kernels.filter((k) => k.op === n.opType && k.domain === domain);
  if (since === null || entries.length === 0) return { since, reason: { kind: 'no-kernel' }, why: `${name} has no ${n.opType} kernel` };
  const inRange = entries.filter((k) => k.since <= since && (k.end === null || since <= k.end));
  if (inRange.length === 0) {
    const covered = entries.map((k) => [k.since, k.end] as [number, number | null]).sort((a, b) => a[0] - b[0]);
    return {
      since,
      reason: { kind: 'opset', since, covered },
      why: `opset ${opset} makes it ${n.opType}-${since}; ${name}'s ${n.opType} kernels cover versions ${covered.map(fmtRange).join(', ')}`,
    };
  }
  const binds = bindings(s, n);
  let first: Reason | null = null;
  for (const k of inRange) {
    const bad = binds.find(([c, , dt]) => k.types[c] !== undefined && !k.types[c]!.includes(onnxTypeName(dt)));
    if (bad) {
      first ??= { kind: 'type', constraint: bad[0], arg: bad[1], dtype: bad[2], accepted: k.types[bad[0]]! };
      continue;
    }
    const refused = k.refuses?.find((r) => ('attr' in r ? (n.attrs[r.attr] as { i?: number } | undefined)?.i === r.value : n.outputs.length > r.output));
    if (!refused) return null;
    const what = 'attr' in refused ? `${refused.attr}=${refused.value}` : `output ${refused.output}`;
    return { since, reason: { kind: 'refused', what }, why: `${name} takes ${n.opType}-${since} when the session is created and fails the run: its kernel refuses ${what}` };
  }
  const r = first as Extract<Reason, { kind: 'type' }>;
  return { since, reason: r, why: `${r.arg} is ${r.dtype}; ${name}'s ${n.opType}-${since} kernel takes ${r.constraint} in {${r.accepted.join(', ')}}` };
}

/** Every node of `graph` (and of its subgraphs) that `provider` has no kernel for (or refuses), in graph order. */
export function providerCoverage(graph: Graph, provider: Provider, opset: number = OPSET): Fallback[] {
  const out: Fallback[] = [];
  const walk = (g: Graph, prefix: string) => {
    for (const n of g.nodes) {
      const gap = kernelGap(n, provider, opset);
      if (gap) {
        out.push({
          node: prefix + n.name, op: n.opType, domain: n.domain === '' ? 'ai.onnx' : n.domain, opset, since: gap.since,
          inputs: n.inputs.map((v) => v?.dtype ?? null), outputs: n.outputs.map((v) => v.dtype), reason: gap.reason, why: gap.why,
        });
      }
      for (const a of Object.values(n.attrs)) if ('g' in a) walk(a.g, `${prefix}${n.name}/`);
    }
  };
  walk(graph, '');
  return out;
}

/** One line per fallback: `space/stem/MaxPool_0  MaxPool-12 (float32): WebGPU takes MaxPool-12 when the session … refuses output 1`. */
export function formatFallback(f: Fallback): string {
  const types = f.inputs.map((t) => t ?? '-').join(', ');
  return `${f.node}  ${f.op}${f.since === null ? '' : `-${f.since}`} (${types}): ${f.why}`;
}
