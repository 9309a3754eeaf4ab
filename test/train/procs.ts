// Helpers of the run-safety tests: `vhssl train` in the background, waiting on conditions (never on fixed delays),
// and processes seen through /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN } from '../cli/run.ts';

/** A tiny config on `data` that trains for long enough to be stopped: 10 000 steps. */
export const longRun = (data: string, out: string, ...extra: string[]) => [
  'train', '--config', 'tiny', '--set', `data.root=${data}`, '--set', 'train.batch_size=8', '--set', 'eval.knn.every=0',
  '--set', 'train.epochs=100', '--set', 'train.steps_per_epoch=100', '--set', 'train.log_every=1', '--out', out, ...extra,
];

export interface Background {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs the CLI in the background. `wrapper: false` sets MALLOC_MMAP_MAX_ so the process is the training process
 * itself; `wrapper: true` removes it so bin/vhssl.js re-executes itself and the process is the parent wrapper.
 */
export function background(args: readonly string[], o: { wrapper: boolean }): Background {
  const env = { ...process.env };
  if (o.wrapper) delete env.MALLOC_MMAP_MAX_;
  else env.MALLOC_MMAP_MAX_ = '0';
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stderr: () => err, exited };
}

/** Polls `f` until it returns a truthy value; fails naming `what` after `ms` (generous: the machine may be busy). */
export async function until<T>(what: string, f: () => T | null | undefined | false, ms = 120_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await sleep(20);
  }
}

/** Fields 3.. of /proc/<pid>/stat (state, ppid, ...), or null when there is no such process. */
function stat(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Whether `pid` is gone: no such process, or a zombie waiting to be reaped (it runs no code any more). */
export const gone = (pid: number): boolean => {
  const s = stat(pid);
  return s === null || s[0] === 'Z';
};

/** The live child processes of `pid`. */
export const childrenOf = (pid: number): number[] =>
  readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => stat(p)?.[1] === String(pid) && !gone(p));

/** The step of the checkpoint `last` points at, or null before the first. */
export function lastStep(run: string): number | null {
  const link = join(run, 'checkpoints', 'last.safetensors');
  if (!existsSync(link)) return null;
  return Number(/step-(\d+)/.exec(readlinkSync(link))![1]);
}

/** The rows of metrics.jsonl that parse (a killed run may leave a torn last line). */
export function metricRows(run: string): Record<string, unknown>[] {
  const file = join(run, 'metrics.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/** Kills what a test left running (SIGKILL by pid; an already gone pid is fine). */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
