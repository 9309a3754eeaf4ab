// safetensors (https://github.com/huggingface/safetensors): u64 little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}, space-padded so the data
// starts on an 8-byte boundary), then the tensors' bytes, contiguous, offsets relative to the start of the data.
// Bytes in and out, with no file access, so browsers use it too (files: safetensors.ts). Decoded with every offset,
// dtype and shape checked against the bytes before any data is used.
import { UserError } from '../errors.ts';
import { allocate, BYTES_PER_ELEMENT, type DType } from './dtype.ts';
import { numel, tensorBytes, type Tensor } from './tensor.ts';

const CODE: Record<DType, string> = {
  float32: 'F32', float64: 'F64', float16: 'F16', bfloat16: 'BF16', int64: 'I64', int32: 'I32', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};
const DTYPE_OF: Record<string, DType> = Object.fromEntries(Object.entries(CODE).map(([d, c]) => [c, d as DType]));
const METADATA = '__metadata__';
/** The reference implementation's limit; a larger header is a corrupt length field. */
const MAX_HEADER = 100_000_000;

export interface Safetensors {
  /** In file order. */
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

export type TensorMap = Readonly<Record<string, Tensor>> | ReadonlyMap<string, Tensor>;

const entriesOf = (t: TensorMap): [string, Tensor][] => (t instanceof Map ? [...t.entries()] : Object.entries(t as Record<string, Tensor>));

const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function assertLittleEndian(): void {
  if (!littleEndian) throw new Error('safetensors: only little-endian hosts are supported');
}

export function encodeSafetensors(tensors: TensorMap, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  assertLittleEndian();
  const list = entriesOf(tensors);
  for (const [name, t] of list) {
    if (name === METADATA) throw new Error(`safetensors: "${METADATA}" is not a tensor name`);
    if (t.data.length !== numel(t.shape)) throw new Error(`safetensors: ${name} has ${t.data.length} values for shape [${t.shape.join(',')}]`);
  }
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new Error(`safetensors: metadata "${k}" is not a string`);
  // Larger elements first, then by name (as the reference writer does): every tensor starts aligned to its element.
  list.sort(([a, x], [b, y]) => BYTES_PER_ELEMENT[y.dtype] - BYTES_PER_ELEMENT[x.dtype] || (a < b ? -1 : a > b ? 1 : 0));

  const header: Record<string, unknown> = Object.keys(metadata).length ? { [METADATA]: metadata } : {};
  let offset = 0;
  for (const [name, t] of list) {
    const end = offset + t.data.byteLength;
    header[name] = { dtype: CODE[t.dtype], shape: [...t.shape], data_offsets: [offset, end] };
    offset = end;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  // Space-padded to a multiple of 8 bytes.
  const json = new Uint8Array(Math.ceil(text.length / 8) * 8).fill(0x20);
  json.set(text);

  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const [, t] of list) {
    out.set(tensorBytes(t), at);
    at += t.data.byteLength;
  }
  return out;
}

interface Entry { name: string; dtype: DType; shape: number[]; begin: number; end: number }

const isIndex = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

function parseEntry(where: string, name: string, info: unknown): Entry {
  const bad = (problem: string) => new UserError(where, `tensor "${name}": ${problem}`);
  if (typeof info !== 'object' || info === null || Array.isArray(info)) throw bad('expected {dtype, shape, data_offsets}');
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_OF)) throw bad(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.values(CODE).join(', ')})`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) throw bad(`expected a shape of non-negative integers, got ${JSON.stringify(shape)}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0]! > offsets[1]!) {
    throw bad(`expected data_offsets [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(offsets)}`);
  }
  const d = DTYPE_OF[dtype]!;
  const need = numel(shape) * BYTES_PER_ELEMENT[d];
  const [begin, end] = offsets as [number, number];
  if (end - begin !== need) throw bad(`data_offsets [${begin}, ${end}] span ${end - begin} bytes, but ${dtype} [${shape.join(', ')}] needs ${need}`);
  return { name, dtype: d, shape, begin, end };
}

export function decodeSafetensors(bytes: Uint8Array, where = 'safetensors'): Safetensors {
  assertLittleEndian();
  const fail = (problem: string): never => {
    throw new UserError(where, problem);
  };
  if (bytes.length < 8) fail(`truncated: ${bytes.length} bytes, less than the 8-byte header length`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) fail(`corrupt header length ${n} (more than ${MAX_HEADER} bytes)`);
  if (n > BigInt(bytes.length - 8)) fail(`truncated or corrupt: the header length is ${n} bytes but only ${bytes.length - 8} follow`);
  const headerEnd = 8 + Number(n);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch (e) {
    fail(`corrupt header: not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('corrupt header: expected a JSON object');

  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA) {
      if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`corrupt header: ${METADATA} must map strings to strings`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`corrupt header: ${METADATA}.${k} is ${JSON.stringify(v)}, not a string`);
        metadata[k] = v as string;
      }
    } else {
      entries.push(parseEntry(where, name, info));
    }
  }

  // The tensors must tile the data area exactly: no gap, no overlap, nothing after the last.
  const size = bytes.length - headerEnd;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let prev: Entry | undefined;
  for (const e of entries) {
    if (e.begin !== expected) {
      const after = prev ? `after tensor "${prev.name}" (ending at ${prev.end})` : 'at the start of the data';
      fail(`tensor "${e.name}": data_offsets [${e.begin}, ${e.end}] ${e.begin < expected ? 'overlap' : 'leave a gap'} ${after}`);
    }
    expected = e.end;
    prev = e;
  }
  if (expected > size) fail(`truncated: the header describes ${expected} bytes of tensor data, the file holds ${size}`);
  if (expected < size) fail(`corrupt: ${size - expected} bytes after the last tensor's data`);

  const tensors = new Map<string, Tensor>();
  for (const e of entries) {
    const data = allocate(e.dtype, numel(e.shape));
    new Uint8Array(data.buffer).set(bytes.subarray(headerEnd + e.begin, headerEnd + e.end));
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

