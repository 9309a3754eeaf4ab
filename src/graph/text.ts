// A readable, deterministic text dump of any decoded ONNX model (ours or not): header, signature, initializers, then
// one line per node, `y = Op(a, b) {axis=1, perm=[0,2,1]}  # float32[8,17,384]`, with Loop/If bodies indented.
// Reads the decoded ModelProto only; the enums below are onnx-buf's names for the schema's numbers.
import { AttributeProto_AttributeType as AT, TensorProto_DataLocation, TensorProto_DataType } from 'onnx-buf';
import { DTYPE_FROM_ONNX, float16BitsToFloat32 } from './dtype.ts';
import type { GraphProto, ModelProto } from './onnx.ts';

type NodeProto = GraphProto['node'][number];
type AttributeProto = NodeProto['attribute'][number];
type TensorProto = GraphProto['initializer'][number];
type ValueInfoProto = GraphProto['input'][number];
type TypeProto = NonNullable<ValueInfoProto['type']>;
type Dims = NonNullable<Extract<TypeProto['value'], { case: 'tensorType' }>['value']['shape']>['dim'];
type FunctionProto = ModelProto['functions'][number];

export interface TextOptions {
  /** Op counts and parameter totals instead of the signature, initializers and nodes. */
  summary?: boolean;
  /** Print at most this many nodes of the main graph; the rest are counted. */
  maxNodes?: number;
  /** Values shown per initializer (default 6). */
  values?: number;
  /** `length` bytes at `offset` of an external data file (`location` is relative to the model); undefined if absent. */
  readExternal?: (location: string, offset: number, length: number) => Uint8Array | undefined;
}

/** Bits per element of each ONNX data type (strings have no fixed size). */
const BITS: Record<number, number> = {
  1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64, 14: 64, 15: 128, 16: 16,
  17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4, 24: 8, 25: 2, 26: 2,
};

/** vhssl's names (float32, int64, ...) where it has one, else ONNX's lower-cased (uint16, float8e4m3fn, ...). */
export const dtypeName = (code: number): string =>
  DTYPE_FROM_ONNX[code] ?? TensorProto_DataType[code]?.toLowerCase() ?? `dtype${code}`;

/** Shortest decimal that reads back as the same float32 (attributes are float32: 1e-5, not 0.000009999999747). */
function fmtFloat32(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  for (let p = 1; p < 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(x);
}

const fmtValue = (v: number | bigint | boolean): string => (typeof v === 'number' && !Number.isInteger(v) ? String(Number(v.toPrecision(6))) : String(v));

const fmtDims = (dims: Dims): string =>
  `[${dims.map((d) => (d.value.case === 'dimValue' ? String(d.value.value) : d.value.case === 'dimParam' ? d.value.value : '?')).join(',')}]`;

/** `float32[B,3,224,224]`; a tensor type without a shape (rank unknown) prints as its dtype alone. */
export function fmtType(t: TypeProto | undefined): string | undefined {
  const v = t?.value;
  switch (v?.case) {
    case 'tensorType': return `${dtypeName(v.value.elemType)}${v.value.shape ? fmtDims(v.value.shape.dim) : ''}`;
    case 'sparseTensorType': return `sparse ${dtypeName(v.value.elemType)}${v.value.shape ? fmtDims(v.value.shape.dim) : ''}`;
    case 'sequenceType': return `seq(${fmtType(v.value.elemType) ?? '?'})`;
    case 'mapType': return `map(${dtypeName(v.value.keyType)}, ${fmtType(v.value.valueType) ?? '?'})`;
    case 'optionalType': return `optional(${fmtType(v.value.elemType) ?? '?'})`;
    default: return undefined;
  }
}

const tensorType = (p: TensorProto): string => `${dtypeName(p.dataType)}[${p.dims.join(',')}]`;
const numel = (p: TensorProto): number => p.dims.reduce((a, d) => a * Number(d), 1);
const tensorBytes = (p: TensorProto): number => Math.ceil((numel(p) * (BITS[p.dataType] ?? 0)) / 8);
const externalEntry = (p: TensorProto, key: string): string | undefined => p.externalData.find((e) => e.key === key)?.value;
const isExternal = (p: TensorProto): boolean => p.dataLocation === TensorProto_DataLocation.EXTERNAL;

/** Reads element `i` of little-endian raw data. */
function rawElement(code: number, view: DataView, i: number): number | bigint | boolean | undefined {
  switch (code) {
    case 1: return view.getFloat32(4 * i, true);
    case 2: return view.getUint8(i);
    case 3: return view.getInt8(i);
    case 4: return view.getUint16(2 * i, true);
    case 5: return view.getInt16(2 * i, true);
    case 6: return view.getInt32(4 * i, true);
    case 7: return view.getBigInt64(8 * i, true);
    case 9: return view.getUint8(i) !== 0;
    case 10: return float16BitsToFloat32(view.getUint16(2 * i, true));
    case 11: return view.getFloat64(8 * i, true);
    case 12: return view.getUint32(4 * i, true);
    case 13: return view.getBigUint64(8 * i, true);
    case 16: return new Float32Array(new Uint32Array([view.getUint16(2 * i, true) << 16]).buffer)[0];
    default: return undefined;
  }
}

/** The first `k` values of a tensor, from raw_data, external data, or the typed fields; undefined when unreadable. */
function firstValues(p: TensorProto, k: number, o: TextOptions): (number | bigint | boolean | string)[] | undefined {
  const n = Math.min(k, numel(p));
  let raw: Uint8Array | undefined = p.rawData.byteLength ? p.rawData : undefined;
  if (isExternal(p)) {
    const offset = Number(externalEntry(p, 'offset') ?? 0);
    raw = o.readExternal?.(externalEntry(p, 'location') ?? '', offset, Math.ceil((n * (BITS[p.dataType] ?? 0)) / 8));
    if (!raw) return undefined;
  }
  if (raw) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = [];
    for (let i = 0; i < n; i++) {
      const v = (BITS[p.dataType] ?? 0) * (i + 1) <= 8 * raw.byteLength ? rawElement(p.dataType, view, i) : undefined;
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  }
  const code = p.dataType;
  if (code === 8) return p.stringData.slice(0, n).map((s) => JSON.stringify(new TextDecoder().decode(s)));
  if (code === 1) return p.floatData.slice(0, n);
  if (code === 11) return p.doubleData.slice(0, n);
  if (code === 7) return p.int64Data.slice(0, n);
  if (code === 12 || code === 13) return p.uint64Data.slice(0, n);
  if (code === 10) return p.int32Data.slice(0, n).map(float16BitsToFloat32);
  if (code === 9) return p.int32Data.slice(0, n).map((v) => v !== 0);
  return BITS[code] !== undefined && BITS[code]! >= 8 ? p.int32Data.slice(0, n) : undefined;
}

/** `[0.5, -1, 2, …]` (or undefined when the values cannot be read here). */
function preview(p: TensorProto, o: TextOptions): string | undefined {
  const k = o.values ?? 6;
  const vs = firstValues(p, k, o);
  if (!vs) return undefined;
  const more = numel(p) > vs.length ? ', …' : '';
  return `[${vs.map((v) => (typeof v === 'string' ? v : fmtValue(v))).join(', ')}${more}]`;
}

function initializerLine(p: TensorProto, o: TextOptions): string {
  const where = isExternal(p) ? ` external(${externalEntry(p, 'location')} @${externalEntry(p, 'offset') ?? 0} +${externalEntry(p, 'length') ?? '?'})` : '';
  const vals = preview(p, o);
  return `${p.name}: ${tensorType(p)}${where}${vals ? ` = ${vals}` : ''}`;
}

const utf8 = (b: Uint8Array): string => JSON.stringify(new TextDecoder().decode(b));

function fmtAttr(a: AttributeProto, o: TextOptions): string {
  if (a.refAttrName) return `@${a.refAttrName}`;
  const tensor = (t: TensorProto) => {
    const vals = preview(t, o);
    return `tensor(${tensorType(t)}${vals ? `: ${vals}` : ''})`;
  };
  const graph = (g: GraphProto) => `graph "${g.name}"`;
  switch (a.type) {
    case AT.FLOAT: return fmtFloat32(a.f);
    case AT.INT: return String(a.i);
    case AT.STRING: return utf8(a.s);
    case AT.TENSOR: return a.t ? tensor(a.t) : 'tensor()';
    case AT.GRAPH: return a.g ? graph(a.g) : 'graph()';
    case AT.SPARSE_TENSOR: return 'sparse tensor';
    case AT.TYPE_PROTO: return fmtType(a.tp) ?? '?';
    case AT.FLOATS: return `[${a.floats.map(fmtFloat32).join(',')}]`;
    case AT.INTS: return `[${a.ints.join(',')}]`;
    case AT.STRINGS: return `[${a.strings.map(utf8).join(',')}]`;
    case AT.TENSORS: return `[${a.tensors.map(tensor).join(', ')}]`;
    case AT.GRAPHS: return `[${a.graphs.map(graph).join(', ')}]`;
    case AT.SPARSE_TENSORS: return `[${a.sparseTensors.length} sparse tensors]`;
    case AT.TYPE_PROTOS: return `[${a.typeProtos.map((t) => fmtType(t) ?? '?').join(', ')}]`;
    default: return '?';
  }
}

/** Types of the values a graph names: its inputs, outputs, value_info and initializers, over the enclosing scope's. */
function typesOf(g: GraphProto, outer?: ReadonlyMap<string, string>): Map<string, string> {
  const types = new Map(outer);
  for (const v of [...g.input, ...g.valueInfo, ...g.output]) {
    const t = fmtType(v.type);
    if (t) types.set(v.name, t);
  }
  for (const p of g.initializer) types.set(p.name, tensorType(p));
  return types;
}

function nodeLines(n: NodeProto, types: ReadonlyMap<string, string>, indent: string, o: TextOptions): string[] {
  const attrs = [...n.attribute].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const attrText = attrs.length ? ` {${attrs.map((a) => `${a.name}=${fmtAttr(a, o)}`).join(', ')}}` : '';
  const outs = n.output.map((v) => v || '""').join(', ');
  const ins = n.input.map((v) => v || '""').join(', ');
  const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
  const known = n.output.map((v) => types.get(v));
  const notes = known.some((t) => t) ? [known.map((t) => t ?? '?').join(', ')] : [];
  if (n.name && n.name !== n.output[0]) notes.push(`node ${n.name}`);
  const lines = [`${indent}${outs} = ${op}(${ins})${attrText}${notes.length ? `  # ${notes.join('; ')}` : ''}`];
  for (const a of attrs) {
    const gs = a.type === AT.GRAPH && a.g ? [a.g] : a.type === AT.GRAPHS ? a.graphs : [];
    for (const g of gs) lines.push(...graphLines(g, `${indent}  `, `${a.name}: `, typesOf(g, types), o, Infinity));
  }
  return lines;
}

function graphLines(g: GraphProto, indent: string, label: string, types: ReadonlyMap<string, string>, o: TextOptions, maxNodes: number): string[] {
  const count = (s: number, what: string) => `${s} ${what}${s === 1 ? '' : 's'}`;
  const lines = [`${indent}${label}graph "${g.name}" (${count(g.node.length, 'node')}, ${count(g.initializer.length, 'initializer')})`];
  const at = `${indent}  `;
  if (g.docString) lines.push(`${at}doc: ${JSON.stringify(g.docString)}`);
  const section = (title: string, items: string[]) => {
    if (items.length) lines.push(`${at}${title}:`, ...items.map((s) => `${at}  ${s}`));
  };
  section('inputs', g.input.map((v) => `${v.name}: ${fmtType(v.type) ?? '?'}`));
  section('outputs', g.output.map((v) => `${v.name}: ${fmtType(v.type) ?? '?'}`));
  section('initializers', g.initializer.map((p) => initializerLine(p, o)));
  section('sparse initializers', g.sparseInitializer.map((s) => `${s.values?.name ?? '?'}: sparse ${dtypeName(s.values?.dataType ?? 0)}[${s.dims.join(',')}]`));
  if (g.node.length) {
    lines.push(`${at}nodes:`);
    for (const n of g.node.slice(0, maxNodes)) lines.push(...nodeLines(n, types, `${at}  `, o));
    if (g.node.length > maxNodes) lines.push(`${at}  … ${count(g.node.length - maxNodes, 'more node')}`);
  }
  return lines;
}

function functionLines(f: FunctionProto, o: TextOptions): string[] {
  const name = f.domain ? `${f.domain}.${f.name}` : f.name;
  const attrs = f.attribute.length ? ` {${f.attribute.join(', ')}}` : '';
  const head = `function ${name}(${f.input.join(', ')}) -> (${f.output.join(', ')})${attrs}`;
  const types = new Map(f.valueInfo.flatMap((v) => (fmtType(v.type) ? [[v.name, fmtType(v.type)!] as const] : [])));
  return [head, ...f.node.flatMap((n) => nodeLines(n, types, '  ', o))];
}

function headerLines(m: ModelProto): string[] {
  const opsets = m.opsetImport.map((s) => `${s.domain || 'ai.onnx'} ${s.version}`).join(', ');
  const producer = [m.producerName, m.producerVersion].filter(Boolean).join(' ');
  const lines = [`ONNX model: ir_version ${m.irVersion}, opset ${opsets || 'none'}${producer ? `, producer ${producer}` : ''}`];
  if (m.domain) lines.push(`  domain: ${m.domain}`);
  if (m.modelVersion) lines.push(`  model_version: ${m.modelVersion}`);
  if (m.docString) lines.push(`  doc: ${JSON.stringify(m.docString)}`);
  for (const e of m.metadataProps) lines.push(`  metadata ${e.key}: ${JSON.stringify(e.value)}`);
  return lines;
}

/** Every node, subgraphs and functions included. */
function allNodes(g: GraphProto | undefined): NodeProto[] {
  if (!g) return [];
  return g.node.flatMap((n) => [n, ...n.attribute.flatMap((a) => [...(a.g ? [a.g] : []), ...a.graphs].flatMap(allNodes))]);
}

const fmtBytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 2 ** 20 ? `${(n / 1024).toFixed(1)} KiB` : n < 2 ** 30 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 2 ** 30).toFixed(2)} GiB`;

function summaryLines(m: ModelProto): string[] {
  const g = m.graph!;
  const nodes = [...allNodes(g), ...m.functions.flatMap((f) => f.node)];
  const inits = g.initializer;
  const values = inits.reduce((a, p) => a + numel(p), 0);
  const bytes = inits.reduce((a, p) => a + tensorBytes(p), 0);
  const external = inits.filter(isExternal).length;
  // Graph inputs with a static shape (vhssl feeds its parameters as inputs).
  const shapes = g.input.map((v) => (v.type?.value.case === 'tensorType' ? v.type.value.value : undefined));
  const fixed = shapes.filter((t) => t?.shape?.dim.every((d) => d.value.case === 'dimValue'));
  const inputValues = fixed.reduce((a, t) => a + t!.shape!.dim.reduce((p, d) => p * Number(d.value.value), 1), 0);
  const inputBytes = fixed.reduce((a, t) => a + Math.ceil((t!.shape!.dim.reduce((p, d) => p * Number(d.value.value), 1) * (BITS[t!.elemType] ?? 0)) / 8), 0);
  const counts = new Map<string, number>();
  for (const n of nodes) {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
  const ops = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const width = Math.max(0, ...ops.map(([op]) => op.length));
  return [
    `graph "${g.name}": ${g.node.length} nodes (${nodes.length} with subgraphs and functions), ${g.input.length} inputs, ${g.output.length} outputs`,
    `initializers: ${inits.length} tensors, ${values} values, ${fmtBytes(bytes)}${external ? ` (${external} external)` : ''}`,
    `static-shape inputs: ${fixed.length} tensors, ${inputValues} values, ${fmtBytes(inputBytes)}${fixed.length < g.input.length ? ` (+${g.input.length - fixed.length} with symbolic or unknown dims)` : ''}`,
    `ops (${ops.length} types):`,
    ...ops.map(([op, n]) => `  ${op.padEnd(width)}  ${n}`),
  ];
}

/** The dump, one string ending in a newline. */
export function modelToText(m: ModelProto, o: TextOptions = {}): string {
  const lines = headerLines(m);
  if (!m.graph) lines.push('(no graph)');
  else if (o.summary) lines.push(...summaryLines(m));
  else {
    lines.push(...graphLines(m.graph, '', '', typesOf(m.graph), o, o.maxNodes ?? Infinity));
    for (const f of m.functions) lines.push(...functionLines(f, o));
  }
  return `${lines.join('\n')}\n`;
}
