// The grid of a sweep, as pure functions: `--grid key=v1,v2` options → axes; axes → combinations in a fixed order
// (the cartesian product, the first --grid varying slowest, like nested loops written in the order given); each
// combination's run name; `--shard i/n` and the combinations a shard takes (k mod n = i).
import { createHash } from 'node:crypto';
import { UserError } from '../errors.ts';
import { parseSet } from '../config/index.ts';

export interface Axis {
  /** A config key path, as `--set` takes it: `train.optimizer.lr`. */
  key: string;
  /** The values as written (YAML, as `--set` reads them), in the order given. */
  values: string[];
  /** The option as given, for messages: `--grid train.optimizer.lr=0.05,0.1`. */
  option: string;
}

export interface Combination {
  /** 0-based position in the fixed order. */
  index: number;
  /** The run directory's name under the sweep's folder. */
  name: string;
  /** One `key=value` per axis, in axis order: the `--set` options that make this combination. */
  set: string[];
}

export interface Shard {
  index: number;
  count: number;
}

/** The `--grid` option that `axis` came from. */
const gridOption = (raw: string) => `--grid ${raw}`;

/**
 * `v1,v2,...` split at the commas outside brackets, braces and quotes, so that a YAML list or mapping is one value:
 * `[space,time],[patch,space,time]` → `[space,time]`, `[patch,space,time]`. Values are trimmed.
 */
export function splitValues(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') depth++;
    else if ((c === ']' || c === '}') && depth > 0) depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

/** One `--grid key=v1,v2,...` option: the key path and its values, each checked as `--set key=value` syntax. */
export function parseAxis(raw: string): Axis {
  const option = gridOption(raw);
  const eq = raw.indexOf('=');
  if (eq <= 0) throw new UserError(option, 'expected key.path=value1,value2,...', 'e.g. --grid train.optimizer.lr=0.05,0.1');
  const key = raw.slice(0, eq).trim();
  const text = raw.slice(eq + 1).trim();
  if (text === '') throw new UserError(option, `no values for ${key}`, `give one or more values separated by commas, e.g. --grid ${key}=a,b`);
  const values = splitValues(text);
  const empty = values.indexOf('');
  if (empty >= 0) throw new UserError(option, `value ${empty + 1} of ${values.length} is empty`, 'remove the extra comma');
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new UserError(option, `the value "${v}" is given twice`, 'each value once');
    seen.add(v);
    try {
      parseSet(`${key}=${v}`);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(option, e.problem, e.hint);
      throw e;
    }
  }
  return { key, values, option };
}

/** The axes of all `--grid` options: at least one, each key once. */
export function parseGrid(options: readonly string[]): Axis[] {
  if (options.length === 0) throw new UserError('--grid', 'at least one --grid key=value1,value2,... is required', 'e.g. --grid train.optimizer.lr=0.05,0.1');
  const axes = options.map(parseAxis);
  for (const [i, a] of axes.entries()) {
    const other = axes.slice(0, i).find((b) => b.key === a.key || a.key.startsWith(`${b.key}.`) || b.key.startsWith(`${a.key}.`));
    if (other) throw new UserError(a.option, `sets ${a.key}, which ${other.option} ${other.key === a.key ? 'also sets' : 'overlaps'}`, 'give each key in one --grid, its values separated by commas');
  }
  return axes;
}

const NAME_CHARS = /[^A-Za-z0-9._+-]+/g;
const MAX_NAME = 160;
const shortHash = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);

/**
 * The file-system-safe form of a key or value: letters, digits and `. _ + -` kept, any other run of characters
 * becomes `_`. When that changed anything, 6 hex digits of the sha256 of the original follow, so that two values
 * that differ only in such characters (`[a,b]`, `[a_b]`) still get different names.
 */
export function safePart(s: string): string {
  const safe = s.replace(NAME_CHARS, '_').replace(/^_+|_+$/g, '');
  return safe === s ? s : `${safe}${safe ? '_' : ''}${shortHash(s, 6)}`;
}

/**
 * A run's name from its grid values, in axis order: `key-value` joined by `__`, e.g.
 * `train.optimizer.lr-0.01__arch.patch-4`. It depends on those keys and values only, so it is stable across reruns
 * and shards. Names over 160 characters keep their first 150 and 8 hex digits of the whole name's sha256.
 */
export function runName(pairs: readonly (readonly [string, string])[]): string {
  const name = pairs.map(([k, v]) => `${safePart(k)}-${safePart(v)}`).join('__');
  return name.length <= MAX_NAME ? name : `${name.slice(0, MAX_NAME - 10)}_${shortHash(name, 8)}`;
}

/** Every combination of the axes' values: the first axis varies slowest. */
export function combinations(axes: readonly Axis[]): Combination[] {
  let rows: [string, string][][] = [[]];
  for (const a of axes) rows = rows.flatMap((row) => a.values.map((v) => [...row, [a.key, v] as [string, string]]));
  const out = rows.map((pairs, index) => ({ index, name: runName(pairs), set: pairs.map(([k, v]) => `${k}=${v}`) }));
  const byName = new Map<string, Combination>();
  for (const c of out) {
    const twin = byName.get(c.name);
    if (twin) throw new UserError('--grid', `the combinations ${twin.set.join(' ')} and ${c.set.join(' ')} get the same run name ${c.name}`, 'change one of the values');
    byName.set(c.name, c);
  }
  return out;
}

/** `--shard i/n` (0-based i), for SLURM arrays (`$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`) and Indexed Jobs. */
export function parseShard(v: string): Shard {
  const hint = 'e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT, or --shard $JOB_COMPLETION_INDEX/<completions>';
  const m = /^\s*(\S*)\s*\/\s*(\S*)\s*$/.exec(v);
  if (!m) throw new UserError('--shard', `expected i/n (shard i of n, 0-based), got "${v}"`, hint);
  const [i, n] = [m[1]!, m[2]!];
  if (!/^\d+$/.test(n) || Number(n) < 1) throw new UserError('--shard', `the shard count n of i/n must be an integer ≥ 1, got "${n}" in "${v}"`, hint);
  if (!/^\d+$/.test(i)) throw new UserError('--shard', `the shard index i of i/n must be an integer from 0 to ${Number(n) - 1}, got "${i}" in "${v}"`, hint);
  if (Number(i) >= Number(n)) {
    throw new UserError('--shard', `the shard index ${i} is not below the count ${n} in "${v}": shards are numbered 0 to ${Number(n) - 1}`, 'SLURM arrays: --array=0-<n-1>; Kubernetes: JOB_COMPLETION_INDEX runs from 0');
  }
  return { index: Number(i), count: Number(n) };
}

/** The combinations shard `s` takes: those whose index k has k mod n = i. */
export const inShard = <T extends { index: number }>(all: readonly T[], s: Shard | undefined): T[] => (s ? all.filter((c) => c.index % s.count === s.index) : [...all]);
