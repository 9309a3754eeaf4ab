// `npm test`: node's test runner over every test/**/*.test.ts (or the files given), one file at a time, with TMPDIR
// set to a private folder of this run. Everything the tests and the processes they start put in the temporary
// folder stays inside it, nothing else that cleans the system's temporary folder can disturb it, and it is removed at
// the end, also after Ctrl-C or a kill of this process by SIGTERM.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const top = fileURLToPath(new URL('..', import.meta.url));
const given = process.argv.slice(2);
const files = given.length > 0 ? given : readdirSync(join(top, 'test'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.ts'))
  .map((f) => relative(process.cwd(), join(top, 'test', f)))
  .sort();
const root = mkdtempSync(join(tmpdir(), 'vhssl-test-run-'));
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: root },
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => {
  // The project's folders all start with vhssl-; the shared fixtures (test/fixtures.ts) live for the whole run.
  const left = readdirSync(root).filter((f) => f.startsWith('vhssl-') && f !== 'vhssl-test-cache');
  if (left.length > 0) console.error(`test/run.mjs: tests left ${left.length} folders behind (removed now): ${left.slice(0, 10).join(', ')}`);
  rmSync(root, { recursive: true, force: true });
  process.exit(code ?? (signal ? 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 }[signal] ?? 9) : 1));
});
