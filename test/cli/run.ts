// Runs the real CLI (bin/vhssl.js) in a child process.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/vhssl.js', import.meta.url));

export interface Ran { status: number | null; stdout: string; stderr: string }

export function vhssl(args: readonly string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Ran {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: o.cwd, env: { ...process.env, ...o.env }, timeout: o.timeout ?? 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
