// ONNX encoding: the only module that touches protobuf. IR graph → ModelProto bytes (deterministic: same graph, same
// bytes), external data for large initializers, and decoding back for round trips and `vhssl inspect`.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AT,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  TensorProto_DataLocation,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type TensorProto,
  type ValueInfoProto,
} from 'onnx-buf';
import { allocate, DTYPE_FROM_ONNX, ONNX_DTYPE } from './dtype.ts';
import type { Attr, Graph, Value } from './ir.ts';
import { IR_VERSION, OPSET } from './ops/index.ts';
import { tensorBytes, type Tensor } from './tensor.ts';

export type { ModelProto, GraphProto };

export interface EncodeOptions {
  /** Initializers of at least this many bytes go to the external data file (default: never). */
  externalThreshold?: number;
  /** File name (relative to the model file) of the external data. */
  externalFile?: string;
  /** Model-level metadata_props. */
  metadata?: Record<string, string>;
  producerVersion?: string;
  docString?: string;
}

export interface Encoded {
  model: Uint8Array;
  /** Bytes of the external data file, when some initializer went there. */
  external?: Uint8Array;
}

function valueInfo(v: Value): ValueInfoProto {
  const dims = v.shape.map((d) =>
    create(TensorShapeProto_DimensionSchema, typeof d === 'number' ? { value: { case: 'dimValue', value: BigInt(d) } } : { value: { case: 'dimParam', value: d } }),
  );
  return create(ValueInfoProtoSchema, {
    name: v.name,
    type: create(TypeProtoSchema, {
      value: { case: 'tensorType', value: create(TypeProto_TensorSchema, { elemType: ONNX_DTYPE[v.dtype], shape: create(TensorShapeProtoSchema, { dim: dims }) }) },
    }),
  });
}

function tensorProto(name: string, t: Tensor): TensorProto {
  return create(TensorProtoSchema, {
    name,
    dims: t.shape.map((d) => BigInt(d)),
    dataType: ONNX_DTYPE[t.dtype],
    rawData: new Uint8Array(tensorBytes(t)),
  });
}

function attribute(name: string, a: Attr, ext: ExternalWriter | null): AttributeProto {
  if ('i' in a) return create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(a.i) });
  if ('f' in a) return create(AttributeProtoSchema, { name, type: AT.FLOAT, f: a.f });
  if ('s' in a) return create(AttributeProtoSchema, { name, type: AT.STRING, s: new TextEncoder().encode(a.s) });
  if ('ints' in a) return create(AttributeProtoSchema, { name, type: AT.INTS, ints: a.ints.map((x) => BigInt(x)) });
  if ('floats' in a) return create(AttributeProtoSchema, { name, type: AT.FLOATS, floats: [...a.floats] });
  if ('t' in a) return create(AttributeProtoSchema, { name, type: AT.TENSOR, t: tensorProto('', a.t) });
  return create(AttributeProtoSchema, { name, type: AT.GRAPH, g: graphProto(a.g, ext) });
}

class ExternalWriter {
  private readonly chunks: Uint8Array[] = [];
  private offset = 0;
  constructor(readonly file: string, readonly threshold: number) {}

  /** Moves `t`'s bytes to the external file (4096-aligned, as onnx's own writer does). */
  place(p: TensorProto): void {
    if (p.rawData.byteLength < this.threshold) return;
    const pad = (4096 - (this.offset % 4096)) % 4096;
    if (pad) this.chunks.push(new Uint8Array(pad));
    this.offset += pad;
    const entry = (key: string, value: string) => create(StringStringEntryProtoSchema, { key, value });
    p.externalData = [entry('location', this.file), entry('offset', String(this.offset)), entry('length', String(p.rawData.byteLength))];
    p.dataLocation = TensorProto_DataLocation.EXTERNAL;
    this.chunks.push(p.rawData);
    this.offset += p.rawData.byteLength;
    p.rawData = new Uint8Array(0);
  }

  bytes(): Uint8Array | undefined {
    return this.chunks.length ? Buffer.concat(this.chunks) : undefined;
  }
}

function graphProto(g: Graph, ext: ExternalWriter | null): GraphProto {
  const initializers = g.constants.map((c) => {
    const p = tensorProto(c.name, c.data!);
    ext?.place(p);
    return p;
  });
  return create(GraphProtoSchema, {
    name: g.name,
    docString: g.doc ?? '',
    input: g.inputs.map(valueInfo),
    output: g.outputs.map(valueInfo),
    initializer: initializers,
    node: g.nodes.map((n) =>
      create(NodeProtoSchema, {
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: n.inputs.map((v) => v?.name ?? ''),
        output: n.outputs.map((v) => v.name),
        // Sorted attributes: the same node always serialises to the same bytes.
        attribute: Object.keys(n.attrs).sort().map((k) => attribute(k, n.attrs[k]!, ext)),
      }),
    ),
  });
}

export function encodeModel(g: Graph, o: EncodeOptions = {}): Encoded {
  const ext = o.externalThreshold !== undefined ? new ExternalWriter(o.externalFile ?? `${g.name}.onnx.data`, o.externalThreshold) : null;
  const model = create(ModelProtoSchema, {
    irVersion: BigInt(IR_VERSION),
    producerName: 'vhssl',
    producerVersion: o.producerVersion ?? '0.1.0',
    docString: o.docString ?? '',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(OPSET) })],
    graph: graphProto(g, ext),
    metadataProps: Object.keys(o.metadata ?? {}).sort().map((key) => create(StringStringEntryProtoSchema, { key, value: o.metadata![key]! })),
  });
  return { model: toBinary(ModelProtoSchema, model), external: ext?.bytes() };
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return fromBinary(ModelProtoSchema, bytes);
}

/** Re-serialises a decoded model (for round-trip checks). */
export function reencodeModel(m: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, m);
}

/** A tensor from a TensorProto (raw_data or typed fields; external data read from `external` when given). */
export function tensorFromProto(p: TensorProto, external?: Uint8Array): Tensor {
  const dtype = DTYPE_FROM_ONNX[p.dataType];
  if (!dtype) throw new Error(`tensor ${p.name}: unsupported data type ${p.dataType}`);
  const shape = p.dims.map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = allocate(dtype, n);
  let raw: Uint8Array = p.rawData;
  if (p.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    if (!external) throw new Error(`tensor ${p.name}: its data is external and no external file was given`);
    const get = (k: string) => Number(p.externalData.find((e) => e.key === k)?.value ?? 0);
    raw = external.subarray(get('offset'), get('offset') + get('length'));
  }
  if (raw.byteLength) {
    new Uint8Array(data.buffer).set(raw);
  } else if (dtype === 'int64') {
    p.int64Data.forEach((v, i) => ((data as BigInt64Array)[i] = v));
  } else if (dtype === 'float64') {
    p.doubleData.forEach((v, i) => ((data as Float64Array)[i] = v));
  } else if (dtype === 'float32') {
    p.floatData.forEach((v, i) => ((data as Float32Array)[i] = v));
  } else {
    p.int32Data.forEach((v, i) => ((data as Int32Array)[i] = v));
  }
  return { dtype, shape, data };
}
