// Running a sweep's runs: each one a real `vhssl train` child process (this package's bin/vhssl.js on this Node),
// at most `jobs` at once, its stdout and stderr appended to RUN_DIR/train.log. Finished runs are skipped, runs with a
// checkpoint resumed (`vhssl train --resume --out RUN_DIR`: the config saved in the run), the others started.
//
// Signals. The children run in their own process groups, so a Ctrl-C on the terminal reaches the sweep only, and the
// sweep passes the first SIGINT or SIGTERM on to every running child, once: `vhssl train` then saves a checkpoint
// after its current step and exits 130 or 143. No new run starts; the sweep exits 128 + the signal's number when the
// children are gone. Later signals are not passed on: a wrapper such as npx passes Ctrl-C on to its child, which the
// terminal has signalled already, so one press can arrive twice, and a second SIGINT would make `vhssl train` quit
// without its checkpoint. To stop at once, kill the sweep (kill -9): the children are started as bin/vhssl.js starts
// its own re-executed child (malloc settings in the environment, VHSSL_REEXECUTED and an IPC channel), so one process
// does the work and gets the signal, and it exits at once when the kernel closes the channel of a dead sweep.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mallocEnv, NODE_FLAGS } from '../runtime/node-flags.ts';
import { stopExitCode, type StopSignal } from '../train/stop.ts';
import { metricsLine, runMetrics } from './metrics.ts';
import type { PlannedRun, SweepPlan } from './plan.ts';
import { checkpointStep, resumable, runStatus, writeAttempt, type Attempt } from './status.ts';

export const BIN = fileURLToPath(new URL('../../bin/vhssl.js', import.meta.url));

export interface RunnerOptions {
  /** Children at once. */
  jobs: number;
  /** `--threads` of each child: max(1, floor(cores / jobs)). */
  threads: number;
  /** `--ep` of each child, when given. */
  ep?: string;
  /** Progress lines. */
  log: (line: string) => void;
}

export type Action = 'skip' | 'fresh' | 'resume';

/** What a sweep does with a run now: skip it (finished), resume it (it has a checkpoint) or start it. */
export function actionOf(run: PlannedRun): Action {
  if (runStatus(run.runDir) === 'finished') return 'skip';
  return resumable(run.runDir) ? 'resume' : 'fresh';
}

/** The arguments of the `vhssl train` that does `action` for `run`. */
export function trainArgs(plan: SweepPlan, run: PlannedRun, action: Exclude<Action, 'skip'>, o: Pick<RunnerOptions, 'threads' | 'ep'>): string[] {
  const common = ['--out', run.runDir, '--threads', String(o.threads), ...(o.ep ? ['--ep', o.ep] : [])];
  if (action === 'resume') return ['train', '--resume', ...common];
  return ['train', '--config', plan.config, ...[...plan.set, ...run.set].flatMap((s) => ['--set', s]), ...common];
}

/** A command line a shell reads back as these arguments. */
export const shellLine = (args: readonly string[]): string => args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');

export const logFile = (run: PlannedRun) => join(run.runDir, 'train.log');

export interface RunReport {
  run: PlannedRun;
  result: 'skipped' | Attempt['status'];
  attempt?: Attempt;
}

export interface SweepResult {
  reports: RunReport[];
  /** The first stop signal received, or null. */
  signal: StopSignal | null;
  /** 0; 128 + the signal's number when stopped by one; 1 when a run failed. */
  exitCode: number;
}

/** The line of `log` (from byte `from` on) that says why a run failed: its last `vhssl ...` line, else its last line. */
function failureLine(log: string, from: number): string {
  if (!existsSync(log)) return 'no output';
  const size = statSync(log).size;
  const start = Math.max(from, size - 16384);
  const buf = Buffer.alloc(size - start);
  const fd = openSync(log, 'r');
  try {
    readSync(fd, buf, 0, buf.length, start);
  } finally {
    closeSync(fd);
  }
  const lines = buf.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  return [...lines].reverse().find((l) => l.startsWith('vhssl ')) ?? lines.at(-1) ?? 'no output';
}

const label = (plan: SweepPlan, run: PlannedRun) => `[${run.index + 1}/${plan.runs.length}] ${run.name}`;

/** How an attempt ended: exit 0 finished it; 130, 143 or death by SIGINT or SIGTERM interrupted it; else it failed. */
function outcome(exit: number | null, killedBy: string | null): Attempt['status'] {
  if (exit === 0) return 'finished';
  return exit === 130 || exit === 143 || killedBy === 'SIGINT' || killedBy === 'SIGTERM' ? 'interrupted' : 'failed';
}

/** `exit 1`, `killed by SIGKILL`, or `not started` (the process could not be started). */
export const howEnded = (a: Attempt): string => (a.exit !== null ? `exit ${a.exit}` : a.signal !== null ? `killed by ${a.signal}` : 'not started');

/** The progress line of an ended attempt; `why` is the line that says why a failed one failed. */
function attemptLine(run: PlannedRun, a: Attempt, why: string): string {
  const how = howEnded(a);
  if (a.status === 'finished') return `finished: ${metricsLine(runMetrics(run.runDir))}`;
  if (a.status === 'interrupted') {
    return `interrupted (${how}) ${a.step !== null ? `with a checkpoint at step ${a.step}; rerun the sweep to resume it` : 'before its first checkpoint; a rerun starts it again'}`;
  }
  return `failed (${how}): ${why}; log ${a.log}`;
}

/** Runs `runs` (a shard's, in order) of `plan`: skips, resumes, starts; returns when every child is gone. */
export async function runSweep(plan: SweepPlan, runs: readonly PlannedRun[], o: RunnerOptions): Promise<SweepResult> {
  const reports: RunReport[] = [];
  const queue: { run: PlannedRun; action: Exclude<Action, 'skip'> }[] = [];
  for (const run of runs) {
    const action = actionOf(run);
    if (action === 'skip') {
      const m = metricsLine(runMetrics(run.runDir));
      o.log(`${label(plan, run)}: finished before, skipped${m ? ` (${m})` : ''}`);
      reports.push({ run, result: 'skipped' });
    } else {
      queue.push({ run, action });
    }
  }

  const running = new Set<ChildProcess>();
  let signal: StopSignal | null = null;
  let repeated = false;
  const onSignal = (s: StopSignal) => {
    if (signal !== null) {
      if (!repeated && running.size) o.log(`${s} again: still waiting for ${running.size} run${running.size > 1 ? 's' : ''} to save a checkpoint (to stop at once, kill -9 ${process.pid}: the runs stop with the sweep, without a checkpoint)`);
      repeated = true;
      return;
    }
    signal = s;
    if (running.size) o.log(`${s}: each running run saves a checkpoint after its current step and stops; no new run starts`);
    for (const child of running) child.kill(s);
  };
  const handlers = (['SIGINT', 'SIGTERM'] as const).map((s) => [s, () => onSignal(s)] as const);
  for (const [s, h] of handlers) process.on(s, h);

  const env = {
    ...process.env,
    ...mallocEnv(process.env),
    VHSSL_REEXECUTED: '1',
  };

  try {
    // A write that fails here (a full disk) ends the sweep with its message; running children stop with it.
    await new Promise<void>((resolve, reject) => {
      const next = () => {
        while (signal === null && running.size < o.jobs && queue.length > 0) launch(queue.shift()!);
        if (running.size === 0) resolve();
      };
      const launch = ({ run, action }: (typeof queue)[number]) => {
        const args = trainArgs(plan, run, action, o);
        const log = logFile(run);
        mkdirSync(run.runDir, { recursive: true });
        appendFileSync(log, `# vhssl sweep, ${new Date().toISOString()}: ${shellLine(['vhssl', ...args])}\n`);
        const from = statSync(log).size;
        const fd = openSync(log, 'a');
        let child: ChildProcess;
        try {
          child = spawn(process.execPath, [...NODE_FLAGS, BIN, ...args], { stdio: ['ignore', fd, fd, 'ipc'], detached: true, env });
        } finally {
          closeSync(fd);
        }
        running.add(child);
        const at = action === 'resume' ? `resuming${checkpointStep(run.runDir) === null ? '' : ` from step ${checkpointStep(run.runDir)}`}` : 'started';
        o.log(`${label(plan, run)}: ${at} (threads ${o.threads}; log ${log})`);
        let done = false;
        const end = (exit: number | null, killedBy: string | null, error?: string) => {
          if (done) return;
          done = true;
          running.delete(child);
          try {
            const attempt: Attempt = { status: outcome(exit, killedBy), exit, signal: killedBy, step: checkpointStep(run.runDir), time: new Date().toISOString(), log };
            writeAttempt(run.runDir, attempt);
            reports.push({ run, result: attempt.status, attempt });
            o.log(`${label(plan, run)}: ${attemptLine(run, attempt, error ?? (attempt.status === 'failed' ? failureLine(log, from) : ''))}`);
            next();
          } catch (e) {
            reject(e);
          }
        };
        child.on('error', (e) => end(null, null, `cannot start ${process.execPath}: ${e.message}`));
        child.on('exit', (code, sig) => end(code, sig));
      };
      next();
    });
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }

  const failed = reports.filter((r) => r.result === 'failed');
  const exitCode = signal !== null ? stopExitCode(signal) : failed.length > 0 ? 1 : 0;
  return { reports: reports.sort((a, b) => a.run.index - b.run.index), signal, exitCode };
}
