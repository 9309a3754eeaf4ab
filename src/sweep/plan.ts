// A sweep's plan: the base config, the `--set` options every run shares, the grid and every combination with the
// hash of the config it gives. Every combination's config is loaded and validated here, before any run starts, the
// way `vhssl train --config BASE --set ... --set <grid values>` will load it; a bad key or value names the --grid
// option it came from.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { storeRoot } from '../data/from-config.ts';
import { UserError } from '../errors.ts';
import { combinations, parseGrid, type Axis, type Combination } from './grid.ts';

export interface PlannedRun extends Combination {
  /** The hash of the merged config (as `vhssl train` computes it). */
  hash: string;
  /** DIR/<name> */
  runDir: string;
}

export interface SweepPlan {
  dir: string;
  /** The base config file, resolved (a name like `tiny` becomes the path of config/tiny.yaml). */
  config: string;
  /** `--set` options of every run, before the grid's. */
  set: string[];
  axes: Axis[];
  runs: PlannedRun[];
}

export interface PlanOptions {
  dir: string;
  config: string;
  set: readonly string[];
  grid: readonly string[];
}

/** The `--grid` option whose key is at or above the config path `where` (`config.train.optimizer.lr`), if any. */
function axisAt(axes: readonly Axis[], where: string): Axis | undefined {
  return axes.find((a) => {
    const at = `config.${a.key}`;
    return where === at || where.startsWith(`${at}.`) || where.startsWith(`${at}[`);
  });
}

/**
 * A config error of one combination, told as the --grid option at fault (its key is at or above the key at fault),
 * or else as the combination (a check across keys: `arch.patch=5` against `data.height`).
 */
function gridError(e: UserError, axes: readonly Axis[], c: Combination): UserError {
  const axis = axisAt(axes, e.where);
  return new UserError(axis ? axis.option : `--grid combination ${c.set.join(' ')}`, `${e.where}: ${e.problem}`, e.hint);
}

/** Loads and checks every combination's config; refuses two combinations that give the same config. */
export function planSweep(o: PlanOptions): SweepPlan {
  const axes = parseGrid(o.grid);
  const combos = combinations(axes);
  // The base alone first: its own errors are told as they are, not as the grid's.
  const base = loadConfig({ file: o.config, set: o.set });
  const config = resolve(base.file!);
  const byHash = new Map<string, Combination>();
  const runs = combos.map((c): PlannedRun => {
    let hash: string;
    try {
      const loaded = loadConfig({ file: config, set: [...o.set, ...c.set] });
      storeRoot(loaded.config);
      hash = loaded.hash;
    } catch (e) {
      throw e instanceof UserError ? gridError(e, axes, c) : e;
    }
    const twin = byHash.get(hash);
    if (twin) throw new UserError('--grid', `the combinations ${twin.set.join(' ')} and ${c.set.join(' ')} give the same config (${hash})`, 'give each value once, in one spelling');
    byHash.set(hash, c);
    return { ...c, hash, runDir: join(o.dir, c.name) };
  });
  return { dir: o.dir, config, set: [...o.set], axes, runs };
}

/** Every run directory already there holds its combination's config: a sweep never continues someone else's run. */
export function checkRunDirs(plan: SweepPlan): void {
  for (const r of plan.runs) {
    const file = join(r.runDir, 'config.yaml');
    if (!existsSync(file)) continue;
    const { hash } = loadConfig({ file });
    if (hash !== r.hash) {
      throw new UserError(r.runDir, `holds a run of config ${hash}, but the combination ${r.set.join(' ')} gives config ${r.hash}`, 'move that run away, or choose another --out');
    }
  }
}
