// Layering config trees: defaults ← custom file ← `--set` overrides. Mappings merge key by key, lists and scalars
// replace whole, and a mapping whose `name` differs from the one below replaces it whole (an `adamw` optimizer section
// does not inherit the `sgd` momentum).
import YAML from 'yaml';
import { UserError } from '../errors.ts';

export type Tree = null | boolean | number | string | Tree[] | { [key: string]: Tree };
export type Mapping = { [key: string]: Tree };
export type Path = readonly (string | number)[];

export const isMapping = (t: unknown): t is Mapping => typeof t === 'object' && t !== null && !Array.isArray(t);

export function merge(base: Tree | undefined, over: Tree): Tree {
  if (!isMapping(base) || !isMapping(over)) return over;
  if ('name' in over && 'name' in base && over.name !== base.name) return over;
  const out: Mapping = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

/** The value at `path`, or undefined where the path leaves the tree. */
export function getPath(t: unknown, path: Path): unknown {
  let cur: unknown = t;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** Whether `path` (or a path above it) is set in `t`: a value there, or a non-mapping value above it. */
export function setsPath(t: unknown, path: Path): boolean {
  let cur: unknown = t;
  for (const k of path) {
    if (!isMapping(cur)) return false;
    if (!(k in cur)) return false;
    cur = cur[k as string];
    if (!isMapping(cur)) return true;
  }
  return true;
}

export interface SetOverride {
  /** As given: `train.optimizer.lr=0.05`. */
  readonly raw: string;
  readonly path: readonly string[];
  readonly tree: Mapping;
}

/** `key.path=value`, the value read as YAML (scalars and flow collections: `[space,time]`, `{name: adamw}`). */
export function parseSet(raw: string): SetOverride {
  const eq = raw.indexOf('=');
  const where = `--set ${raw}`;
  if (eq <= 0) throw new UserError(where, 'expected key.path=value', 'e.g. --set train.optimizer.lr=0.05');
  const path = raw.slice(0, eq).trim().split('.');
  if (path.some((k) => k === '')) throw new UserError(where, `"${raw.slice(0, eq)}" is not a key path`, 'keys are separated by single dots');
  let value: Tree;
  try {
    value = YAML.parse(raw.slice(eq + 1)) ?? null;
  } catch (e) {
    throw new UserError(where, `the value is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  let tree: Tree = value;
  for (let i = path.length - 1; i >= 0; i--) tree = { [path[i]!]: tree };
  return { raw, path, tree: tree as Mapping };
}
