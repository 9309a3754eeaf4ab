// One writer per run directory: `vhssl train` holds RUN_DIR/train.lock while it runs. The lock file is created with
// O_EXCL and names its holder {pid, host, started, start}; a second `vhssl train` on the same directory (new run or
// --resume) is refused with that holder. A lock left by a killed run (SIGKILL, power loss) is stale and taken over
// when its holder is provably gone: same host, and the pid is dead, a zombie, or now a different process (its start
// time differs: pids are reused, and in a container a restarted run often gets the very pid of the one it replaces).
// A lock of another host is never judged from here: the message says how to remove it.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { tempPath } from '../atomic.ts';
import { UserError } from '../errors.ts';

export const LOCK_FILE = 'train.lock';

export interface LockHolder {
  pid: number;
  host: string;
  /** When the holder took the lock (ISO 8601), for people. */
  started: string;
  /** The holder process's identity beyond its pid: `<boot id>:<start time in clock ticks>` (Linux), or null. */
  start: string | null;
}

/** `<boot id>:<starttime>` of a live process from /proc (field 22 of /proc/<pid>/stat), or null where unknown. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return `${boot}:${fields[19]}`;
  } catch {
    return null;
  }
}

/** Whether `pid` runs: signal 0 reaches it (EPERM: it exists, as another user) and it is not a zombie. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Why `h`'s lock no longer holds, or null while its holder may still be running. */
function staleReason(h: LockHolder): string | null {
  if (h.host !== hostname()) return null;
  if (!alive(h.pid)) return `pid ${h.pid} is no longer running`;
  if (h.start !== null) {
    const now = processStart(h.pid);
    if (now !== null && now !== h.start) return `pid ${h.pid} is now another process`;
  }
  return null;
}

const describe = (h: LockHolder) => `pid ${h.pid} on host ${h.host}, started ${h.started}`;

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function parse(text: string): LockHolder | null {
  try {
    const h = JSON.parse(text) as LockHolder;
    return Number.isSafeInteger(h.pid) && h.pid > 0 && typeof h.host === 'string' && typeof h.started === 'string' ? { ...h, start: h.start ?? null } : null;
  } catch {
    return null;
  }
}

/**
 * The lock file's text and holder; null when there is no lock file. A holder writes its lock right after creating it,
 * so an empty or partial file is read again for a while before it counts as unreadable.
 */
function readHolder(file: string): { text: string; holder: LockHolder | null } | null {
  for (let i = 0; ; i++) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    const holder = parse(text);
    if (holder || i >= 40) return { text, holder };
    sleep(50);
  }
}

/** Creates `file` holding `text` if it does not exist (O_EXCL); false if it does. */
function createExclusive(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw e;
  }
  closeSync(fd);
  return true;
}

export class RunLock implements Disposable {
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(readonly file: string, private readonly text: string, private readonly createdDir: string | null) {
    // process.exit (a second Ctrl-C, the parent's death) skips `finally` blocks but not 'exit' listeners.
    process.on('exit', this.onExit);
  }

  /**
   * Takes the lock of `runDir` (created if missing), taking over a stale one (`log` says so). Throws a UserError
   * naming the holder while another run holds it.
   */
  static acquire(runDir: string, log: (line: string) => void): RunLock {
    const createdDir = mkdirSync(runDir, { recursive: true }) === undefined ? null : runDir;
    const file = join(runDir, LOCK_FILE);
    const mine: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString(), start: processStart(process.pid) };
    const text = `${JSON.stringify(mine)}\n`;
    try {
      for (let attempt = 0; attempt < 10; attempt++) {
        if (createExclusive(file, text)) return new RunLock(file, text, createdDir);
        const held = readHolder(file);
        if (held === null) continue;
        const { holder } = held;
        if (!holder) throw new UserError(file, 'is not a lock file vhssl can read', 'remove it if no vhssl train is using this run directory');
        if (holder.host !== hostname()) {
          throw new UserError(runDir, `is locked by vhssl train ${describe(holder)}, which this host (${hostname()}) cannot check`, `if that run is no longer running, remove ${file}`);
        }
        const reason = staleReason(holder);
        if (reason === null) {
          throw new UserError(runDir, `is in use by another vhssl train: ${describe(holder)}`, 'wait for it to end, or stop it with Ctrl-C or SIGTERM (both save a checkpoint), or choose another --out');
        }
        if (takeOver(file, held.text)) log(`${runDir}: taking over the lock of a run that is gone (${describe(holder)}: ${reason})`);
      }
      throw new UserError(file, 'changed hands 10 times while this run tried to take it', 'another vhssl train is starting on this run directory');
    } catch (e) {
      if (createdDir) removeIfEmpty(createdDir);
      throw e;
    }
  }

  /** Removes the lock if it is still this run's; removes the run directory too if this run made it and left it empty. */
  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    try {
      if (readHolder(this.file)?.text === this.text) rmSync(this.file, { force: true });
    } catch {
      // best effort: a lock left behind is stale once this process is gone, and the next run takes it over
    }
    if (this.createdDir) removeIfEmpty(this.createdDir);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    // gone or not empty: nothing to tidy
  }
}

/**
 * Removes the stale lock whose text is `stale`. Several runs may judge the same lock stale at once: the lock is moved
 * aside (rename is atomic, one mover wins) and checked; a lock that turns out to be a newer one is put back.
 * True when this run removed the stale lock.
 */
function takeOver(file: string, stale: string): boolean {
  const aside = tempPath(file);
  try {
    renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  const moved = readFileSync(aside, 'utf8');
  if (moved !== stale) createExclusive(file, moved);
  rmSync(aside, { force: true });
  return moved === stale;
}
