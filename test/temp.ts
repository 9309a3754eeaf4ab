// Temporary folders for tests: each under os.tmpdir(), which `npm test` (test/run.mjs) points at a private root of
// its own run and removes afterwards; each test file still removes its own folders when it ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(name: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `vhssl-${name}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
