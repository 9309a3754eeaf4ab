// Output paths and the environment, for every command that writes: an existing file, a directory where a file goes, a
// place nothing can be created in (/proc: Node 20's `mkdir -p` loops there forever, so those run in child processes
// under a timeout), a read-only place, a full disk mid-checkpoint; `arch.num_classes` against the store's classes;
// `--ep` shared by train and eval. Each is one line naming the path or key and what to do, and exit code 1.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs, { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { cli } from '../data/helpers.ts';
import { exportEncoder } from '../../src/eval/export.ts';
import { loadRun } from '../../src/eval/run.ts';
import { ensureProvider } from '../../src/runtime/session.ts';
import { makeRun, makeStore, tempDir, tinyConfig } from '../eval/fixtures.ts';
import { BIN } from './run.ts';

interface Ran { status: number | null; signal: NodeJS.Signals | null; stderr: string }

/** The CLI in a child process, killed after `ms` (a regression that spins must fail, not hang the suite). */
function vhsslWithin(ms: number, args: string[]): Promise<Ran> {
  // MALLOC_MMAP_MAX_ set: no re-exec, so the kill reaches the process that does the work.
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, MALLOC_MMAP_MAX_: '0' }, stdio: ['ignore', 'ignore', 'pipe'], timeout: ms, killSignal: 'SIGKILL' });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (status, signal) => resolve({ status, signal, stderr })));
}

type Call = (...args: unknown[]) => unknown;

/** Replaces `fs[name]` (and what every ESM `import { name } from 'node:fs'` sees) for the length of `fn`. */
async function withFs(name: 'openSync' | 'writeSync' | 'mkdtempSync', wrap: (original: Call) => Call, fn: () => Promise<void>): Promise<void> {
  const original = (fs[name] as Call).bind(fs);
  const m = mock.method(fs, name, wrap(original) as never);
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    m.mock.restore();
    syncBuiltinESMExports();
  }
}

const errnoError = (code: string, syscall: string, path?: string) =>
  Object.assign(new Error(`${code}: simulated, ${syscall}${path ? ` '${path}'` : ''}`), { code, errno: -1, syscall, ...(path ? { path } : {}) });

const oneLine = (r: { code: number; err: string }, re: RegExp, what: string) => {
  assert.equal(r.code, 1, `${what}: ${r.err}`);
  assert.match(r.err, re, what);
  assert.equal(r.err.split('\n').length, 1, `${what}: ${r.err}`);
};

describe('output paths and environment errors', () => {
  const tmp = tempDir('errors');
  const file = join(tmp.dir, 'a-file');
  const runDir = join(tmp.dir, 'run');
  let store = '';
  const train = (out: string, ...extra: string[]) => ['train', '--config', 'tiny', '--set', `data.root=${store}`, '--set', 'data.workers=0', '--set', 'eval.knn.every=0', '--set', 'train.batch_size=4', '--out', out, ...extra];
  before(() => {
    store = makeStore(join(tmp.dir, 'store'), { perClass: 2, perClassTest: 1 });
    makeRun(runDir, tinyConfig(store));
    writeFileSync(file, 'not a directory');
  });
  after(() => tmp.cleanup());

  test('--out under /proc: every command stops at once with one line, instead of spinning in mkdir -p', async () => {
    const cases: [string, string[]][] = [
      ['prepare', ['prepare', '--dataset', 'moving-mnist', '--videos', '2', '--frames', '2', '--size', '16', '--out', '/proc/vhssl-test/store']],
      ['build-graph', ['build-graph', '--config', 'tiny', '--out', '/proc/vhssl-test/artifacts']],
      ['train', train('/proc/vhssl-test/run', '--max-steps', '1')],
      ['export', ['export', '--run', runDir, '--out', '/proc/vhssl-test/encoder.onnx']],
    ];
    // In parallel: a regression costs one timeout, not four. 60 s is far above the ~2 s these take on a busy machine.
    const ran = await Promise.all(cases.map(([, args]) => vhsslWithin(60_000, args)));
    for (const [i, [name]] of cases.entries()) {
      const r = ran[i]!;
      assert.equal(r.signal, null, `${name}: killed after 60 s (still running: mkdir -p spinning?)`);
      assert.equal(r.status, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^vhssl ${name}: /proc/vhssl-test/\\S+: cannot create it in /proc: ENOENT, this file system takes no new files \\(choose another --out, somewhere you can write\\)\\n$`));
    }
  });

  test('--out that is an existing file, or below one: one line for every command, nothing written', async () => {
    const cases: [string[], RegExp][] = [
      [['prepare', '--dataset', 'moving-mnist', '--out', file], /^vhssl prepare: .*a-file: exists and is not a directory \(--out takes a directory; choose another path\)$/],
      [['build-graph', '--config', 'tiny', '--out', file], /^vhssl build-graph: .*a-file: exists and is not a directory/],
      [['build-graph', '--config', 'tiny', '--out', join(file, 'artifacts')], /^vhssl build-graph: .*a-file\/artifacts: cannot create it: .*a-file is a file, not a directory \(choose another --out\)$/],
      [train(file), /^vhssl train: .*a-file: exists and is not a directory \(--out takes a directory; choose another path\)$/],
      [['export', '--run', runDir, '--out', join(file, 'encoder.onnx')], /^vhssl export: .*a-file\/encoder\.onnx: cannot create it: .*a-file is a file, not a directory/],
    ];
    for (const [args, re] of cases) oneLine(await cli(args), re, args.join(' '));
    assert.equal(readFileSync(file, 'utf8'), 'not a directory');
  });

  test('export to a directory, or to a place root cannot write (/sys): one line', async () => {
    oneLine(await cli(['export', '--run', runDir, '--out', tmp.dir]), /^vhssl export: .*vhssl-errors-\w+: is a directory \(--out takes the path of a file to write\)$/, 'a directory');
    oneLine(await cli(['export', '--run', runDir, '--out', '/sys/vhssl-test.onnx']), /^vhssl export: \/sys\/vhssl-test\.onnx: cannot create it in \/sys: (EPERM|EACCES|EROFS), [\w -]+ \(choose another --out, somewhere you can write\)$/, '/sys');
  });

  test('a directory where a write puts a file (EISDIR) names the file', () => {
    const out = join(tmp.dir, 'ext', 'big.onnx');
    mkdirSync(`${out}.data`, { recursive: true });
    assert.throws(() => exportEncoder(loadRun(runDir), out, { externalAbove: 0 }), (e: Error) => {
      assert.equal(e.name, 'UserError');
      assert.match(e.message, /ext\/big\.onnx\.data: cannot write it: EISDIR, it is a directory \(give the path of a file; any earlier version of the file is intact\)$/);
      return true;
    });
    assert.deepEqual(readdirSync(join(tmp.dir, 'ext')).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
  });

  test('eval on a run directory on a read-only file system: one line before any work', async () => {
    // Root writes through permission bits, so EROFS is injected at the probe, the first write eval makes.
    const readOnly = (mkdtemp: Call): Call => (prefix, ...rest) => {
      if (String(prefix).startsWith(runDir)) throw errnoError('EROFS', 'mkdtemp', String(prefix));
      return mkdtemp(prefix, ...rest);
    };
    await withFs('mkdtempSync', readOnly, async () => {
      const r = await cli(['eval', 'knn', '--run', runDir]);
      oneLine(r, /^vhssl eval: .*\/run: cannot write in it: EROFS, read-only file system \(eval writes its results into the run directory: copy the run somewhere you can write\)$/, 'eval knn');
    });
    assert.ok(!existsSync(join(runDir, 'eval.jsonl')) && !existsSync(join(runDir, 'features')), 'nothing computed or written');
  });

  test('disk full while exporting: one line naming the file; the earlier file is intact, no temp file left', async () => {
    const out = join(tmp.dir, 'full', 'encoder.onnx');
    mkdirSync(join(tmp.dir, 'full'));
    writeFileSync(out, 'the earlier export');
    const diskFull = (): Call => () => {
      throw errnoError('ENOSPC', 'write');
    };
    await withFs('writeSync', diskFull, async () => {
      const r = await cli(['export', '--run', runDir, '--out', out]);
      oneLine(r, /^vhssl export: .*full\/encoder\.onnx: cannot write it: ENOSPC, no space left on the device \(free some space, or write to another disk; any earlier version of the file is intact\)$/, 'export');
    });
    assert.equal(readFileSync(out, 'utf8'), 'the earlier export');
    assert.deepEqual(readdirSync(join(tmp.dir, 'full')), ['encoder.onnx']);
  });

  test('disk full at a checkpoint: one line naming it and how to resume; the last checkpoint is intact and resumes', async () => {
    const run = join(tmp.dir, 'full-run');
    const args = train(run, '--max-steps', '3', '--set', 'train.checkpoint.every_steps=1');
    const full = new Set<number>();
    // The second checkpoint's temp file is on a full disk: its open works, its first write fails.
    const track = (open: Call): Call => (path, ...rest) => {
      const fd = open(path, ...rest) as number;
      if (/\.step-00000002\.safetensors\..*\.tmp$/.test(String(path))) full.add(fd);
      return fd;
    };
    const fullOn = (write: Call): Call => (fd, ...rest) => {
      if (full.has(fd as number)) throw errnoError('ENOSPC', 'write');
      return write(fd, ...rest);
    };
    await withFs('openSync', track, () => withFs('writeSync', fullOn, async () => {
      const r = await cli(args);
      assert.equal(r.code, 1, r.err);
      const last = r.err.split('\n').at(-1)!;
      assert.match(last, new RegExp(`^vhssl train: .*full-run/checkpoints/step-00000002\\.safetensors: cannot write it: ENOSPC, no space left on the device \\(free some space, or write to another disk; any earlier version of the file is intact; the last checkpoint is intact: continue with vhssl train --resume --out .*full-run\\)$`));
      assert.doesNotMatch(r.err, /^\s+at /m, 'no stack trace');
    }));
    assert.equal(full.size, 1, 'the second checkpoint was attempted once');
    const dir = join(run, 'checkpoints');
    assert.equal(readlinkSync(join(dir, 'last.safetensors')), 'step-00000001.safetensors');
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temp file left');
    const resumed = await cli(['train', '--resume', '--out', run, '--max-steps', '3']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.err, /resuming from .*step-00000001\.safetensors at step 1/);
    assert.equal(readlinkSync(join(dir, 'last.safetensors')), 'step-00000003.safetensors');
  });

  test('arch.num_classes below the store\'s classes: a config error at start naming the key, value and count', async () => {
    const run = join(tmp.dir, 'cls-small');
    const r = await cli(train(run, '--set', 'arch.task=cls', '--set', 'arch.num_classes=2', '--max-steps', '1'));
    oneLine(r, /^vhssl train: config\.arch\.num_classes: expected at least the 4 classes of the store .*store, got 2 \(set arch\.num_classes=4\)$/, 'num_classes 2');
    assert.ok(!existsSync(run), 'nothing written');
  });

  test('arch.num_classes above the store\'s classes: a warning, and the run trains', async () => {
    const run = join(tmp.dir, 'cls-large');
    const r = await cli(train(run, '--set', 'arch.task=cls', '--set', 'arch.num_classes=6', '--max-steps', '1'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err.split('\n')[0]!, /^vhssl train: warning: config\.arch\.num_classes: 6 is more than the 4 classes of the store .*store: 2 outputs of the head are never a target \(set arch\.num_classes=4\)$/);
    assert.match(r.out, /stopped at step 1 \(--max-steps\)/);
  });

  test('--ep: train and eval list the same providers in --help', async () => {
    for (const command of ['train', 'eval']) {
      const help = await cli([command, '--help']);
      assert.match(help.out, /--ep cpu\|cuda\|webgpu/, `${command} --help`);
    }
  });

  test('--ep: an unknown provider is the same one line for train and every eval subcommand', async () => {
    const message = (command: string) => new RegExp(`^vhssl ${command}: --ep: unknown execution provider "tpu" \\(use one of cpu, cuda, webgpu\\)$`);
    oneLine(await cli([...train(join(tmp.dir, 'ep')), '--ep', 'tpu']), message('train'), 'train --ep tpu');
    for (const sub of ['knn', 'probe', 'finetune', 'pictures', 'report']) oneLine(await cli(['eval', sub, '--run', runDir, '--ep', 'tpu']), message('eval'), `eval ${sub} --ep tpu`);
  });

  test('eval --ep webgpu where webgpu cannot start: one line, for every subcommand', async (t) => {
    if (await ensureProvider('webgpu').then(() => true, () => false)) return t.skip('webgpu runs on this machine');
    for (const sub of ['knn', 'probe', 'finetune', 'pictures', 'report']) {
      oneLine(await cli(['eval', sub, '--run', runDir, '--ep', 'webgpu']), /^vhssl eval: --ep webgpu: the webgpu provider cannot start on this machine: /, `eval ${sub} --ep webgpu`);
    }
  });
});
