// Runs the real CLI (bin/vhssl.js) in a child process.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/vhssl.js', import.meta.url));

export interface Ran { status: number | null; stdout: string; stderr: string }

export function vhssl(args: readonly string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): Ran {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: o.cwd, env: { ...process.env, ...o.env }, timeout: o.timeout ?? 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs the CLI with `args` and SIGKILLs it as soon as `file` exists (a checkpoint, say); resolves once it has exited,
 * also when it exited before `file` appeared.
 */
export async function killWhenExists(args: readonly string[], file: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const poll = setInterval(() => {
    if (existsSync(file)) {
      clearInterval(poll);
      child.kill('SIGKILL');
    }
  }, 5);
  await exited;
  clearInterval(poll);
}
