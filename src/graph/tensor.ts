// A host tensor: dtype, static shape, and a typed array in row-major order.
import { allocate, type DType, type TypedArray } from './dtype.ts';

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TypedArray;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function tensor(dtype: DType, shape: readonly number[], values?: ArrayLike<number> | ArrayLike<bigint> | TypedArray): Tensor {
  const n = numel(shape);
  const data = allocate(dtype, n);
  if (values !== undefined) {
    if (values.length !== n) throw new RangeError(`tensor: ${values.length} values for shape [${shape.join(',')}] (${n} elements)`);
    if (data instanceof BigInt64Array) {
      for (let i = 0; i < n; i++) data[i] = BigInt(values[i] as number | bigint);
    } else {
      for (let i = 0; i < n; i++) (data as Float64Array)[i] = Number(values[i]);
    }
  }
  return { dtype, shape: [...shape], data };
}

export const scalar = (dtype: DType, v: number): Tensor => tensor(dtype, [], [v]);

export const int64s = (values: readonly number[]): Tensor => tensor('int64', [values.length], values);

/** Values as plain numbers (int64 converted; fine for shapes and indices). */
export function toNumbers(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** Stable bytes of a tensor's data (little-endian, as ONNX raw_data wants). */
export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
