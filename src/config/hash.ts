// The config's identity: its canonical JSON (keys sorted) and the hash that names its artifacts and runs.
import { createHash } from 'node:crypto';
import type { Config } from './schema.ts';

/** JSON with object keys sorted at every level and no whitespace: equal configs give equal strings. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`canonicalJson: non-finite number ${v}`);
  return JSON.stringify(v);
}

export const configHash = (config: Config): string => createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
