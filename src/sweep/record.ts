// DIR/sweep.json: what a sweep is (base config, shared --set options, grid, every combination with its name and
// config hash), written once before its first run. It holds nothing that differs between the shards or reruns of one
// sweep (no time, no shard, no --jobs), so every shard of an array job writes the same bytes into a shared DIR. A
// later `vhssl sweep` into DIR must describe the same sweep, or it is refused.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic.ts';
import { UserError } from '../errors.ts';
import type { SweepPlan } from './plan.ts';

export const SWEEP_FORMAT = 'vhssl-sweep/1';

export interface SweepRecord {
  format: typeof SWEEP_FORMAT;
  config: string;
  set: string[];
  grid: { key: string; values: string[] }[];
  combinations: { index: number; name: string; set: string[]; config_hash: string }[];
}

export const sweepFile = (dir: string) => join(dir, 'sweep.json');

export const recordOf = (p: SweepPlan): SweepRecord => ({
  format: SWEEP_FORMAT,
  config: p.config,
  set: p.set,
  grid: p.axes.map((a) => ({ key: a.key, values: a.values })),
  combinations: p.runs.map((r) => ({ index: r.index, name: r.name, set: r.set, config_hash: r.hash })),
});

const gridText = (g: SweepRecord['grid']) => g.map((a) => `--grid ${a.key}=${a.values.join(',')}`).join(' ');
const setText = (s: readonly string[]) => (s.length ? s.map((x) => `--set ${x}`).join(' ') : 'no --set');

/** DIR/sweep.json, checked for its shape; null when there is none. */
export function readSweepRecord(dir: string): SweepRecord | null {
  const file = sweepFile(dir);
  if (!existsSync(file)) return null;
  let r: Partial<SweepRecord>;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as Partial<SweepRecord>;
  } catch (e) {
    throw new UserError(file, `not valid JSON: ${(e as Error).message}`, 'restore it, or choose another --out');
  }
  if (r?.format !== SWEEP_FORMAT || !Array.isArray(r.grid) || !Array.isArray(r.combinations) || !Array.isArray(r.set) || typeof r.config !== 'string') {
    throw new UserError(file, `not a sweep record of format ${SWEEP_FORMAT}`, 'restore it, or choose another --out');
  }
  return r as SweepRecord;
}

/** What makes `now` another sweep than the one recorded, or null when they are the same. */
export function sweepDifference(was: SweepRecord, now: SweepRecord): string | null {
  if (was.config !== now.config) return `it was made with the base config ${was.config}, now ${now.config}`;
  if (gridText(was.grid) !== gridText(now.grid)) return `it was made with another grid: ${gridText(was.grid)}; now ${gridText(now.grid)}`;
  if (setText(was.set) !== setText(now.set)) {
    const gone = was.set.filter((x) => !now.set.includes(x));
    const added = now.set.filter((x) => !was.set.includes(x));
    const diff = [gone.length ? `without ${setText(gone)}` : '', added.length ? `with ${setText(added)}` : ''].filter(Boolean).join(', ');
    return `its --set options differ: ${diff ? `now ${diff}` : `the same ones in another order: ${setText(was.set)}, now ${setText(now.set)}`}`;
  }
  const changed = now.combinations.find((c, i) => was.combinations[i]?.config_hash !== c.config_hash);
  if (changed) {
    const before = was.combinations[changed.index]?.config_hash;
    return `the combination ${changed.set.join(' ')} gave config ${before} then and gives ${changed.config_hash} now: ${now.config} or vhssl's defaults changed since`;
  }
  return null;
}

/** Refuses a DIR/sweep.json that describes another sweep than `plan`. */
export function checkSameSweep(plan: SweepPlan): void {
  const was = readSweepRecord(plan.dir);
  const diff = was && sweepDifference(was, recordOf(plan));
  if (diff) throw new UserError(plan.dir, `holds another sweep: ${diff}`, 'rerun with the same base config, --set and --grid options to continue it, or choose another --out');
}

/**
 * Records the plan in DIR/sweep.json unless it is there (checkSameSweep first). Atomic, and the same bytes from every
 * shard, so shards starting at once cannot tear it.
 */
export function writeSweepRecord(plan: SweepPlan): void {
  if (existsSync(sweepFile(plan.dir))) return;
  mkdirSync(plan.dir, { recursive: true });
  writeFileAtomic(sweepFile(plan.dir), `${JSON.stringify(recordOf(plan), null, 2)}\n`);
}
