// `vhssl train` run safety, end to end on real data: one writer per run directory (a lock that names its holder; the
// lock of a killed run is taken over), the re-executed child dies with its parent, SIGTERM stops like Ctrl-C (a
// checkpoint, exit 143) also through the wrapper, and a resume removes temp files of killed writes and leaves one
// metrics row per step.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NODE_FLAGS } from '../../src/runtime/node-flags.ts';
import { movingMnist } from '../fixtures.ts';
import { vhssl } from '../cli/run.ts';
import { tempDir } from '../temp.ts';
import { background, childrenOf, gone, killAll, lastStep, longRun, metricRows, until } from './procs.ts';

const { dir: tmp, cleanup } = tempDir('run-safety');
const started = new Set<number>();
let data = '';
const direct = { MALLOC_MMAP_MAX_: '0' };
const lockOf = (run: string) => join(run, 'train.lock');

/** A run SIGKILLed once it has written a checkpoint; returns the checkpoint's step and the killed pid. */
async function killedRun(run: string, ...extra: string[]): Promise<{ at: number; pid: number }> {
  const a = background(longRun(data, run, '--set', 'train.checkpoint.every_steps=5', ...extra), { wrapper: false });
  started.add(a.child.pid!);
  await until('the first checkpoint', () => lastStep(run));
  a.child.kill('SIGKILL');
  await a.exited;
  return { at: lastStep(run)!, pid: a.child.pid! };
}

describe('vhssl train: run safety', { skip: process.platform !== 'linux' && 'needs Linux (/proc, the re-execution)' }, () => {
  before(() => {
    data = movingMnist();
  });
  after(() => {
    killAll(started);
    cleanup();
  });

  test('a second train or a --resume on a live run is refused naming the holder; the lock goes with the run', async () => {
    const run = join(tmp, 'busy');
    const a = background(longRun(data, run, '--set', 'train.checkpoint.every_steps=5'), { wrapper: false });
    started.add(a.child.pid!);
    await until('the first checkpoint of the running run', () => lastStep(run));
    const holder = new RegExp(`: is in use by another vhssl train: pid ${a.child.pid} on host ${hostname()}, started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z `);
    for (const args of [longRun(data, run, '--max-steps', '1'), ['train', '--resume', '--out', run, '--max-steps', '1']]) {
      const r = vhssl(args, { env: direct });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, holder);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    a.child.kill('SIGINT');
    assert.equal((await a.exited).code, 130, a.stderr());
    assert.ok(!existsSync(lockOf(run)), 'the lock is released when the run ends');
  });

  test('the lock of a SIGKILLed run is stale and taken over by --resume', async () => {
    const run = join(tmp, 'stale');
    const { at, pid } = await killedRun(run);
    assert.equal((JSON.parse(readFileSync(lockOf(run), 'utf8')) as { pid: number }).pid, pid, 'the killed run left its lock');
    const r = vhssl(['train', '--resume', '--out', run, '--max-steps', String(at + 2)], { env: direct });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`taking over the lock of a run that is gone \\(pid ${pid} on host .*: pid ${pid} is no longer running\\)`));
    assert.equal(lastStep(run), at + 2);
    assert.ok(!existsSync(lockOf(run)));
  });

  test('the re-executed child dies with its parent when the parent is SIGKILLed, and stops writing', async () => {
    const run = join(tmp, 'orphan');
    const parent = background(longRun(data, run, '--set', 'train.checkpoint.every_steps=5'), { wrapper: true });
    started.add(parent.child.pid!);
    await until('the first checkpoint', () => lastStep(run));
    const children = childrenOf(parent.child.pid!);
    assert.equal(children.length, 1, `the wrapper runs one child, found ${children.join(', ')}`);
    const child = children[0]!;
    started.add(child);
    // The child runs with the process settings of src/runtime/node-flags.ts: V8's collector off ORT's cores, malloc
    // keeping freed memory.
    const argv = readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0');
    for (const flag of NODE_FLAGS) assert.ok(argv.includes(flag), `the child's command line ${argv.join(' ')} lacks ${flag}`);
    assert.ok(readFileSync(`/proc/${child}/environ`, 'utf8').split('\0').includes('MALLOC_MMAP_MAX_=0'), 'the child has MALLOC_MMAP_MAX_=0');
    parent.child.kill('SIGKILL');
    await parent.exited;
    await until(`child ${child} to die with its parent`, () => gone(child), 60_000);
    const written = () => JSON.stringify([readdirSync(join(run, 'checkpoints')).sort(), statSync(join(run, 'metrics.jsonl')).size]);
    const seen = written();
    await sleep(2000); // dozens of steps and several checkpoints' worth of time for a process still training
    assert.equal(written(), seen, 'nothing is written after the child is gone');
  });

  test('SIGTERM saves a checkpoint and exits 143; a second SIGTERM (a scheduler signals every process) changes nothing', async () => {
    const run = join(tmp, 'sigterm');
    const a = background(longRun(data, run, '--set', 'train.checkpoint.every_steps=100000'), { wrapper: false });
    started.add(a.child.pid!);
    await until('training steps', () => /step \d+\/10000/.test(a.stderr()));
    a.child.kill('SIGTERM');
    await until('the stop notice', () => /SIGTERM: saving a checkpoint after this step/.test(a.stderr()) || a.child.exitCode !== null || a.child.signalCode !== null);
    a.child.kill('SIGTERM');
    const { code, signal } = await a.exited;
    assert.equal(code, 143, `exit ${code} ${signal}: ${a.stderr()}`);
    const saved = /checkpoint saved at step (\d+): .*; continue with --resume/.exec(a.stderr());
    assert.ok(saved, a.stderr());
    assert.equal(lastStep(run), Number(saved[1]));
    assert.ok(!existsSync(lockOf(run)));
  });

  test('SIGTERM to the wrapper reaches the child, which checkpoints; the wrapper exits with its code', async () => {
    const run = join(tmp, 'sigterm-wrapped');
    const parent = background(longRun(data, run, '--set', 'train.checkpoint.every_steps=100000'), { wrapper: true });
    started.add(parent.child.pid!);
    await until('training steps', () => /step \d+\/10000/.test(parent.stderr()));
    for (const c of childrenOf(parent.child.pid!)) started.add(c);
    parent.child.kill('SIGTERM');
    const { code, signal } = await parent.exited;
    assert.equal(code, 143, `exit ${code} ${signal}: ${parent.stderr()}`);
    const saved = /checkpoint saved at step (\d+): .*; continue with --resume/.exec(parent.stderr());
    assert.ok(saved, parent.stderr());
    assert.equal(lastStep(run), Number(saved[1]));
  });

  test('a run finished through the wrapper exits 0 (the parent watch keeps nothing alive)', () => {
    const run = join(tmp, 'wrapped');
    const r = vhssl(longRun(data, run, '--max-steps', '3'), { env: { MALLOC_MMAP_MAX_: undefined } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lastStep(run), 3);
  });

  test('a resume removes the temp files that killed writes left, and nothing else', async () => {
    const run = join(tmp, 'temp');
    const { at } = await killedRun(run);
    const ckpts = join(run, 'checkpoints');
    const planted = [
      join(ckpts, `.step-${String(at + 5).padStart(8, '0')}.safetensors.4242.m1x2y3z.tmp`), // writeFileAtomic
      join(ckpts, '.last.safetensors.4242.tmp'), // the switch of the last link (a symlink)
      join(run, '.metrics.jsonl.4242.m1x2y3z.tmp'),
      join(run, '.artifacts.4242.tmp'), // an interrupted graph build (a directory)
    ];
    writeFileSync(planted[0]!, Buffer.alloc(1000, 7));
    symlinkSync(`step-${String(at + 5).padStart(8, '0')}.safetensors`, planted[1]!);
    writeFileSync(planted[2]!, '{"step":1}\n');
    mkdirSync(planted[3]!);
    writeFileSync(join(planted[3]!, 'step.onnx'), 'partial');
    const kept = [join(ckpts, 'notes.tmp'), join(ckpts, '.step-1.safetensors.tmp.bak'), join(run, '.my.safetensors.4242.tmp'), join(run, 'notes.txt')];
    for (const f of kept) writeFileSync(f, 'mine');

    const r = vhssl(['train', '--resume', '--out', run, '--max-steps', String(at + 1)], { env: direct });
    assert.equal(r.status, 0, r.stderr);
    for (const f of planted) assert.ok(!readdirSync(dirname(f)).includes(basename(f)), `${f} is removed`);
    for (const f of kept) assert.equal(readFileSync(f, 'utf8'), 'mine', `${f} is kept`);
    assert.match(r.stderr, /removed 4 temp files of an interrupted write/);
  });

  test('after a SIGKILL between checkpoints and --resume, metrics.jsonl has exactly one row per step', async () => {
    const run = join(tmp, 'rows');
    const a = background(longRun(data, run, '--set', 'train.checkpoint.every_steps=10'), { wrapper: false });
    const pid = a.child.pid!;
    started.add(pid);
    // Freeze the run (SIGSTOP) until it is caught with rows past its last checkpoint, then kill it there.
    for (const t0 = Date.now(); ; ) {
      assert.ok(Date.now() - t0 < 120_000, 'timed out waiting for rows past a checkpoint');
      process.kill(pid, 'SIGSTOP');
      await until('the run to stop', () => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('T'));
      const at = lastStep(run);
      if (at !== null && metricRows(run).some((row) => (row.step as number) > at)) break;
      process.kill(pid, 'SIGCONT');
      await sleep(50);
    }
    a.child.kill('SIGKILL');
    await a.exited;
    const at = lastStep(run)!;
    const reached = Math.max(...metricRows(run).map((row) => row.step as number));
    assert.ok(reached > at, `rows up to step ${reached}, checkpoint at ${at}`);

    const r = vhssl(['train', '--resume', '--out', run, '--max-steps', String(reached + 5)], { env: direct });
    assert.equal(r.status, 0, r.stderr);
    const steps = metricRows(run).map((row) => row.step);
    assert.deepEqual(steps, Array.from({ length: reached + 5 }, (_, i) => i + 1), 'steps 1.. once each, in order');
  });
});
