// safetensors files: written atomically (a temp file fsync'd, then renamed), read with every offset, dtype and shape
// checked (the format and its checks: safetensors-codec.ts).
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../atomic.ts';
import { UserError } from '../errors.ts';
import { decodeSafetensors, encodeSafetensors, type Safetensors, type TensorMap } from './safetensors-codec.ts';

export { decodeSafetensors, encodeSafetensors, type Safetensors } from './safetensors-codec.ts';

/** Writes through a temp file in the same directory, fsync'd, then renamed: a reader never sees a partial file. */
export function writeSafetensors(path: string, tensors: TensorMap, metadata?: Readonly<Record<string, string>>): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(path: string): Safetensors {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UserError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeSafetensors(bytes, path);
}
