// Turning schema issues and failed checks into one UserError: the key path, what was expected, what was found, and a
// hint (the closest known key, where the value came from).
import type { z } from 'zod';
import { UserError } from '../errors.ts';
import { getPath, isMapping, type Path } from './merge.ts';

export interface Problem {
  readonly path: Path;
  readonly problem: string;
  readonly hint?: string;
}

export const keyPath = (path: Path): string =>
  path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : `${s}.${k}`), 'config');

/** A value as the user wrote it, short. */
export function render(v: unknown): string {
  if (v === undefined) return 'nothing (the key is missing)';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

// ---- walking the schema (zod v4 defs) ---------------------------------------------------------------------------

type Schema = z.core.$ZodType;
interface Def {
  type: string;
  innerType?: Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  items?: Schema[];
  valueType?: Schema;
  options?: Schema[];
  discriminator?: string;
  values?: unknown[];
}
const def = (s: Schema): Def => s._zod.def as unknown as Def;
const WRAPPERS = new Set(['nullable', 'optional', 'default', 'prefault', 'readonly', 'nonoptional']);

/** The option of a discriminated union that `value` selects, or the schema itself. */
function resolve(s: Schema, value: unknown): Schema {
  while (WRAPPERS.has(def(s).type)) s = def(s).innerType!;
  const d = def(s);
  if (d.type === 'union' && d.discriminator && isMapping(value)) {
    const hit = d.options!.find((o) => def(def(o).shape![d.discriminator!]!).values?.includes(value[d.discriminator!]));
    if (hit) return hit;
  }
  return s;
}

function schemaAt(root: Schema, path: Path, data: unknown): Schema | undefined {
  let s: Schema | undefined = root;
  for (let i = 0; i < path.length && s; i++) {
    const d = def(resolve(s, getPath(data, path.slice(0, i))));
    const k = path[i]!;
    s = d.type === 'object' ? d.shape![k as string]
      : d.type === 'array' ? d.element
      : d.type === 'tuple' ? d.items![k as number]
      : d.type === 'record' ? d.valueType
      : undefined;
  }
  return s && resolve(s, getPath(data, path));
}

/** The union (if any) directly at `path`, for "this key belongs to another optimizer" hints. */
function unionAt(root: Schema, path: Path, data: unknown): Def | undefined {
  const parent = path.length ? schemaAt(root, path.slice(0, -1), data) : undefined;
  if (!parent) return undefined;
  let s: Schema | undefined = def(parent).shape?.[path[path.length - 1] as string];
  while (s && WRAPPERS.has(def(s).type)) s = def(s).innerType;
  return s && def(s).type === 'union' && def(s).discriminator ? def(s) : undefined;
}

// ---- closest key ------------------------------------------------------------------------------------------------

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

// ---- issues → problems ------------------------------------------------------------------------------------------

export function problemOf(issue: z.core.$ZodIssue, root: Schema, data: unknown): Problem {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const path = [...issue.path] as Path;
    const here = schemaAt(root, path, data);
    const known = here ? Object.keys(def(here).shape ?? {}) : [];
    const union = unionAt(root, path, data);
    if (union) {
      const disc = union.discriminator!;
      const own = getPath(data, [...path, disc]);
      const other = union.options!.find((o) => key in (def(o).shape ?? {}));
      if (other) {
        const name = def(def(other).shape![disc]!).values![0];
        const noun = String(path[path.length - 1]);
        return {
          path: [...path, key],
          problem: `unknown key for ${noun} ${render(own)}`,
          hint: `"${key}" belongs to ${noun} ${render(name)}; ${render(own)} takes ${known.filter((k) => k !== disc).join(', ')}`,
        };
      }
    }
    const near = closest(key, known);
    return { path: [...path, key], problem: 'unknown key', hint: near ? `did you mean "${near}"?` : `known keys: ${known.join(', ')}` };
  }
  const path = [...issue.path] as Path;
  return { path, problem: `expected ${issue.message}, got ${render(getPath(data, path))}` };
}

export function userError(p: Problem, source?: string): UserError {
  const hint = [p.hint, source].filter(Boolean).join('; ');
  return new UserError(keyPath(p.path), p.problem, hint || undefined);
}
