// safetensors: round trips of every dtype, the byte layout of the format, and refusal of corrupt or truncated files.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isUserError } from '../../src/errors.ts';
import { tensor, type Tensor } from '../../src/graph/tensor.ts';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../src/graph/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'vhssl-st-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TENSORS: Record<string, Tensor> = {
  'space.blocks.0.attn.qkv.weight': tensor('float32', [2, 3], [1, -2, 3.5, 0, 1e-20, -7]),
  'f64': tensor('float64', [3], [Math.PI, -1, 1e300]),
  'f16': tensor('float16', [2], [0x3c00, 0xc000]),
  'bf16': tensor('bfloat16', [1, 2], [0x3f80, 0x4000]),
  'step': tensor('int64', [], [123456789012345n]),
  'i32': tensor('int32', [2, 2], [1, -2, 3, -4]),
  'i8': tensor('int8', [3], [-128, 0, 127]),
  'u8': tensor('uint8', [2], [0, 255]),
  'mask': tensor('bool', [3], [1, 0, 1]),
  'empty': tensor('float32', [0, 4]),
};

/** The header and data area of an encoded file. */
function split(bytes: Uint8Array): { header: Record<string, any>; n: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')), n };
}

/** A file with this header (JSON text, unpadded) and this many data bytes. */
function rawFile(name: string, headerJson: string, dataBytes: number): string {
  const h = Buffer.from(headerJson, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([len, h, Buffer.alloc(dataBytes)]));
  return p;
}

function refusal(path: string): string {
  try {
    readSafetensors(path);
  } catch (e) {
    assert.ok(isUserError(e), String(e));
    assert.ok(e.message.startsWith(`${path}: `), e.message);
    return e.message.slice(path.length + 2);
  }
  assert.fail(`${path} was accepted`);
}

describe('round trip', () => {
  test('every dtype, scalars and empty tensors, with metadata', () => {
    const path = join(dir, 'all.safetensors');
    writeSafetensors(path, TENSORS, { config_hash: 'abcd', format: 'pt' });
    const back = readSafetensors(path);
    assert.deepEqual(back.metadata, { config_hash: 'abcd', format: 'pt' });
    assert.deepEqual([...back.tensors.keys()].sort(), Object.keys(TENSORS).sort());
    for (const [name, t] of Object.entries(TENSORS)) {
      const u = back.tensors.get(name)!;
      assert.equal(u.dtype, t.dtype, name);
      assert.deepEqual(u.shape, t.shape, name);
      assert.deepEqual(u.data, t.data, name);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  test('the layout follows the format: padded header, aligned contiguous data, deterministic bytes', () => {
    const bytes = encodeSafetensors(TENSORS, { a: 'b' });
    const { header, n } = split(bytes);
    assert.equal((8 + n) % 8, 0);
    assert.deepEqual(Object.keys(header)[0], '__metadata__');
    const spans = Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => v.data_offsets as [number, number]);
    spans.sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [b, e] of spans) {
      assert.equal(b, at);
      at = e;
    }
    assert.equal(at, bytes.length - 8 - n);
    for (const v of Object.values(header).filter((v) => v.dtype)) {
      const size = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, I8: 1, U8: 1, BOOL: 1 }[v.dtype as string]!;
      assert.equal((8 + n + v.data_offsets[0]) % size, 0, `${v.dtype} aligned`);
    }
    const reordered = Object.fromEntries(Object.entries(TENSORS).reverse());
    assert.deepEqual(encodeSafetensors(reordered, { a: 'b' }), bytes);
  });

  test('reads a file laid out by hand as the reference writer does', () => {
    const json = '{"test":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}';
    const h = Buffer.concat([Buffer.from(json), Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    const data = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
    const file = Buffer.concat([len, h, data]);
    const { tensors, metadata } = decodeSafetensors(file);
    assert.deepEqual(metadata, {});
    assert.deepEqual(Array.from(tensors.get('test')!.data as Float32Array), [1, 2, 3, 4]);
    assert.deepEqual(encodeSafetensors({ test: tensor('float32', [2, 2], [1, 2, 3, 4]) }), new Uint8Array(file));
  });
});

describe('refuses corrupt and truncated files, naming the file and the problem', () => {
  test('shorter than the length field', () => {
    const p = join(dir, 'short.safetensors');
    writeFileSync(p, Buffer.from([1, 2, 3]));
    assert.match(refusal(p), /^truncated: 3 bytes, less than the 8-byte header length$/);
  });

  test('header length beyond the file', () => {
    const p = join(dir, 'long-header.safetensors');
    const bytes = Buffer.from(encodeSafetensors({ a: tensor('float32', [2]) }));
    bytes.writeBigUInt64LE(10_000n, 0);
    writeFileSync(p, bytes);
    assert.match(refusal(p), /^truncated or corrupt: the header length is 10000 bytes but only \d+ follow$/);
    bytes.writeBigUInt64LE(1n << 60n, 0);
    writeFileSync(p, bytes);
    assert.match(refusal(p), /^corrupt header length \d+/);
  });

  test('header that is not JSON, or not an object', () => {
    assert.match(refusal(rawFile('notjson.safetensors', '{"a": {"dtype": "F32",', 0)), /^corrupt header: not valid UTF-8 JSON/);
    assert.match(refusal(rawFile('array.safetensors', '[1, 2]', 0)), /^corrupt header: expected a JSON object$/);
    assert.match(refusal(rawFile('meta.safetensors', '{"__metadata__": {"k": 3}}', 0)), /__metadata__\.k is 3, not a string/);
  });

  test('unsupported dtype, bad shape, size mismatch', () => {
    assert.match(refusal(rawFile('dtype.safetensors', '{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}', 1)), /^tensor "a": unsupported dtype "F8_E4M3"/);
    assert.match(refusal(rawFile('shape.safetensors', '{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', 4)), /^tensor "a": expected a shape of non-negative integers, got \[-1\]/);
    assert.match(refusal(rawFile('size.safetensors', '{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}', 12)), /^tensor "a": data_offsets \[0, 12\] span 12 bytes, but F32 \[2, 2\] needs 16$/);
  });

  test('truncated data', () => {
    const bytes = encodeSafetensors(TENSORS);
    const p = join(dir, 'truncated.safetensors');
    writeFileSync(p, bytes.subarray(0, bytes.length - 5));
    const { n } = split(bytes);
    assert.equal(refusal(p), `truncated: the header describes ${bytes.length - 8 - n} bytes of tensor data, the file holds ${bytes.length - 8 - n - 5}`);
  });

  test('wrong offsets: overlap, gap, reversed, trailing bytes', () => {
    const two = (a: [number, number], b: [number, number], data: number) =>
      rawFile(`off-${a}-${b}-${data}.safetensors`, JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: a }, b: { dtype: 'F32', shape: [2], data_offsets: b } }), data);
    assert.match(refusal(two([0, 8], [4, 12], 12)), /^tensor "b": data_offsets \[4, 12\] overlap after tensor "a" \(ending at 8\)$/);
    assert.match(refusal(two([0, 8], [12, 20], 20)), /^tensor "b": data_offsets \[12, 20\] leave a gap after tensor "a"/);
    assert.match(refusal(two([8, 0], [0, 8], 16)), /^tensor "a": expected data_offsets \[begin, end\] with 0 ≤ begin ≤ end, got \[8,0\]$/);
    assert.match(refusal(two([0, 8], [8, 16], 20)), /^corrupt: 4 bytes after the last tensor's data$/);
  });

  test('a missing file', () => {
    assert.match(refusal(join(dir, 'nope.safetensors')), /^cannot read: ENOENT$/);
  });
});
