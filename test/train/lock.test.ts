// The run directory's lock (src/train/lock.ts) on its own: holder named, stale locks (dead pid, reused pid) taken
// over, a lock of another host never judged from here, release only of one's own lock, and one winner among runs that
// take over the same stale lock at once.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { LOCK_FILE, processStart, RunLock, type LockHolder } from '../../src/train/lock.ts';
import { tempDir } from '../temp.ts';
import { killAll, until } from './procs.ts';

const { dir: tmp, cleanup } = tempDir('lock');
const started = new Set<number>();
let n = 0;
const runDir = () => join(tmp, `run-${n++}`);
const write = (dir: string, h: LockHolder) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify(h));
};
const holderOf = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockHolder;
/** The pid of a process that has exited (and been reaped). */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('run lock', () => {
  after(() => {
    killAll(started);
    cleanup();
  });

  test('names its holder; a second acquire is refused with pid, host and start; release removes it', () => {
    const dir = runDir();
    const lock = RunLock.acquire(dir, () => {});
    const h = holderOf(dir);
    assert.equal(h.pid, process.pid);
    assert.equal(h.host, hostname());
    assert.ok(!Number.isNaN(Date.parse(h.started)));
    if (process.platform === 'linux') assert.equal(h.start, processStart(process.pid));
    assert.throws(() => RunLock.acquire(dir, () => {}), (e: unknown) => e instanceof UserError && e.message === `${dir}: is in use by another vhssl train: pid ${process.pid} on host ${hostname()}, started ${h.started} (wait for it to end, or stop it with Ctrl-C or SIGTERM (both save a checkpoint), or choose another --out)`);
    lock.release();
    assert.ok(!existsSync(join(dir, LOCK_FILE)));
    assert.ok(!existsSync(dir), 'a run directory the lock made and nothing else used is removed');
  });

  test('a lock whose pid is dead is taken over, and the log says why', () => {
    const dir = runDir();
    const pid = deadPid();
    write(dir, { pid, host: hostname(), started: '2020-01-01T00:00:00.000Z', start: null });
    const lines: string[] = [];
    const lock = RunLock.acquire(dir, (l) => lines.push(l));
    assert.equal(holderOf(dir).pid, process.pid);
    assert.deepEqual(lines, [`${dir}: taking over the lock of a run that is gone (pid ${pid} on host ${hostname()}, started 2020-01-01T00:00:00.000Z: pid ${pid} is no longer running)`]);
    lock.release();
  });

  test('a reused pid (alive, but another process than the holder) is stale: the start time tells them apart', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
    // A run restarted in a container often gets the very pid of the run it replaces: here, this test's own pid.
    const dir = runDir();
    write(dir, { pid: process.pid, host: hostname(), started: '2020-01-01T00:00:00.000Z', start: `${processStart(process.pid)!.split(':')[0]}:1` });
    const lines: string[] = [];
    const lock = RunLock.acquire(dir, (l) => lines.push(l));
    assert.match(lines.join('\n'), new RegExp(`pid ${process.pid} is now another process`));
    lock.release();
  });

  test('a lock of another host is refused with how to remove it, and left as it is', () => {
    const dir = runDir();
    const h = { pid: deadPid(), host: 'node-17.cluster', started: '2020-01-01T00:00:00.000Z', start: null };
    write(dir, h);
    assert.throws(() => RunLock.acquire(dir, () => {}), (e: unknown) =>
      e instanceof UserError && e.message === `${dir}: is locked by vhssl train pid ${h.pid} on host node-17.cluster, started 2020-01-01T00:00:00.000Z, which this host (${hostname()}) cannot check (if that run is no longer running, remove ${join(dir, LOCK_FILE)})`);
    assert.deepEqual(holderOf(dir), h);
  });

  test('an unreadable lock file is refused, not overwritten', () => {
    const dir = runDir();
    mkdirSync(dir);
    writeFileSync(join(dir, LOCK_FILE), 'not json');
    assert.throws(() => RunLock.acquire(dir, () => {}), /train\.lock: is not a lock file vhssl can read \(remove it if no vhssl train is using this run directory\)/);
    assert.equal(readFileSync(join(dir, LOCK_FILE), 'utf8'), 'not json');
  });

  test('release leaves a lock that is not its own', () => {
    const dir = runDir();
    const lock = RunLock.acquire(dir, () => {});
    const other = { pid: 1, host: 'elsewhere', started: '2020-01-01T00:00:00.000Z', start: null };
    write(dir, other);
    lock.release();
    assert.deepEqual(holderOf(dir), other);
  });

  test('of several runs taking over one stale lock at once, exactly one gets it', async () => {
    const dir = runDir();
    write(dir, { pid: deadPid(), host: hostname(), started: '2020-01-01T00:00:00.000Z', start: null });
    // Every contender waits for "go" on stdin (so they race), reports, then holds what it got until stdin closes.
    const script = `
      import { RunLock } from ${JSON.stringify(new URL('../../src/train/lock.ts', import.meta.url).href)};
      let lock = null;
      console.log('ready');
      process.stdin.once('data', () => {
        try { lock = RunLock.acquire(${JSON.stringify(dir)}, () => {}); console.log('got'); } catch (e) { console.log('refused: ' + e.message); }
      });
      process.stdin.on('end', () => { lock?.release(); process.exit(0); });`;
    const contenders = Array.from({ length: 4 }, () => {
      const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      started.add(c.pid!);
      let out = '';
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      return { c, ready: () => out.startsWith('ready\n'), out: () => out.slice('ready\n'.length), exited: new Promise((resolve) => c.on('exit', resolve)) };
    });
    await until('every contender to start', () => contenders.every((k) => k.ready()));
    for (const k of contenders) k.c.stdin!.write('go\n');
    await until('every contender to report', () => contenders.every((k) => k.out().includes('\n')));
    const got = contenders.filter((k) => k.out().startsWith('got'));
    assert.equal(got.length, 1, contenders.map((k) => k.out()).join(''));
    for (const k of contenders) if (!k.out().startsWith('got')) assert.match(k.out(), /is in use by another vhssl train: pid \d+/);
    assert.equal(holderOf(dir).pid, got[0]!.c.pid);
    for (const k of contenders) k.c.stdin!.end();
    await Promise.all(contenders.map((k) => k.exited));
    assert.ok(!existsSync(join(dir, LOCK_FILE)));
    assert.deepEqual(readdirSync(dir), [], 'no lock and no temp file left');
  });
});
