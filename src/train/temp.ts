// Temp files of a run's writers, left behind when a run is killed mid-write. They are removed when a run starts or
// resumes, under the run's lock (no other writer can own one then), and only under the names the writers give them:
// `.<name>.<pid>.<base-36 time>.tmp` (writeFileAtomic: checkpoints, config.yaml, metrics.jsonl), `.<name>.<pid>.tmp`
// (the switch of the last/best links, a lock takeover, the artifacts build) and `.<name>.<pid>.tmp.old` (the
// artifacts build's previous directory).
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Removes the temp files of `dir` whose target name matches `names` (anchored); returns the names removed. */
export function removeStaleTemp(dir: string, names: RegExp): string[] {
  const pattern = new RegExp(`^\\.(?:${names.source})\\.\\d+(?:\\.[0-9a-z]+)?\\.tmp(?:\\.old)?$`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const stale = entries.filter((f) => pattern.test(f));
  for (const f of stale) rmSync(join(dir, f), { recursive: true, force: true });
  return stale;
}
