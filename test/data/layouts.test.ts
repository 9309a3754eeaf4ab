// Odd trees under --src: dangling links, link loops, directories named like videos, FIFOs and unreadable folders are
// reported (one line each, naming the path) and skipped; they never stop the layout walk or the preparation.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs, { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { after, describe, it, mock } from 'node:test';
import { readLayout } from '../../src/data/layouts/index.ts';
import type { Skipped } from '../../src/data/layouts/types.ts';
import { cli, makeVideo, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('layouts');
after(cleanup);

const touch = (file: string, text = 'x') => {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
};
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Skipped);
const ids = (skipped: Skipped[]) => skipped.map((s) => s.id).sort();

/** <src>/jump/{a.mp4, dangling.mp4 → nowhere, self.mp4 → itself, box.avi/, up → .., root → /}, <src>/run/b.mp4. */
function oddTree(src: string): void {
  touch(join(src, 'jump', 'a.mp4'));
  touch(join(src, 'run', 'b.mp4'));
  symlinkSync(join(src, 'nowhere.mp4'), join(src, 'jump', 'dangling.mp4'));
  symlinkSync('self.mp4', join(src, 'jump', 'self.mp4'));
  touch(join(src, 'jump', 'box.avi', 'inner.mp4'));
  symlinkSync('..', join(src, 'jump', 'up'));
  symlinkSync('/', join(src, 'jump', 'root'));
}

describe('layout walk: odd entries are skipped with one problem each', () => {
  it('folder: dangling link, link loop, links to ancestors, a directory named x.avi, a FIFO', () => {
    const src = join(dir, 'odd');
    oddTree(src);
    spawnSync('mkfifo', [join(src, 'run', 'pipe.mp4')]);
    touch(join(src, 'run', 'notes.txt'));
    const l = readLayout('folder', src);
    assert.deepEqual(l.classes, ['jump', 'run']);
    assert.deepEqual(l.entries.map((e) => e.id), ['jump/a', 'run/b']);
    const error = (rel: string) => l.skipped.find((s) => s.id === rel)?.error;
    assert.deepEqual(ids(l.skipped), ['jump/box.avi', 'jump/dangling.mp4', 'jump/root', 'jump/self.mp4', 'jump/up', 'run/pipe.mp4']);
    for (const s of l.skipped) {
      assert.equal(s.src, join(src, s.id));
      assert.ok(s.error.startsWith(`${s.src}: `), s.error);
    }
    assert.equal(error('jump/dangling.mp4'), `${join(src, 'jump', 'dangling.mp4')}: dangling symbolic link: its target "${join(src, 'nowhere.mp4')}" does not exist`);
    assert.match(error('jump/self.mp4')!, /symbolic link loop.*ELOOP/);
    assert.match(error('jump/up')!, new RegExp(`directory loop: leads back to ${src}, a directory above it`));
    assert.match(error('jump/root')!, /directory loop: leads back to \/, a directory above it/);
    assert.match(error('jump/box.avi')!, /box\.avi: is a directory, not a file/);
    assert.match(error('run/pipe.mp4')!, /not a regular file/);
  });

  it('folder: a dangling class folder is reported; problems in splits not kept are not', () => {
    const src = join(dir, 'splits');
    touch(join(src, 'train', 'jump', 'a.mp4'));
    touch(join(src, 'val', 'jump', 'b.mp4'));
    symlinkSync(join(dir, 'gone'), join(src, 'train', 'run'));
    symlinkSync(join(dir, 'gone'), join(src, 'val', 'jump', 'c.mp4'));
    symlinkSync(join(dir, 'gone'), join(src, 'test'));
    const all = readLayout('folder', src);
    assert.deepEqual(all.entries.map((e) => `${e.split} ${e.id}`), ['train jump/a', 'val jump/b']);
    assert.deepEqual(ids(all.skipped), ['test', 'train/run', 'val/jump/c.mp4']);
    const val = readLayout('folder', src, 'val');
    assert.deepEqual(ids(val.skipped), ['val/jump/c.mp4']);
    const bare = join(dir, 'bare');
    touch(join(bare, 'notes.txt'));
    symlinkSync(join(dir, 'gone'), join(bare, 'jump'));
    assert.throws(() => readLayout('folder', bare), /bare: no class sub-folders found; 1 unreadable, e\.g\. .*jump: dangling symbolic link/);
  });

  it('an unreadable directory is one problem; the rest of the tree is read', () => {
    const src = join(dir, 'locked');
    touch(join(src, 'jump', 'a.mp4'));
    touch(join(src, 'jump', 'secret', 'b.mp4'));
    touch(join(src, 'run', 'c.mp4'));
    const secret = join(src, 'jump', 'secret');
    // Permission bits do not stop root (CI runs as root), and a process dropped to another user may not reach the
    // repository: readdir of the folder fails with EACCES as it does for a user who may not read it.
    const readdir = fs.readdirSync;
    const m = mock.method(fs, 'readdirSync', ((path: string, ...rest: unknown[]) => {
      if (path === secret) throw Object.assign(new Error(`EACCES: permission denied, scandir '${secret}'`), { code: 'EACCES', errno: -13, syscall: 'scandir', path: secret });
      return (readdir as (...a: unknown[]) => unknown)(path, ...rest);
    }) as never);
    syncBuiltinESMExports();
    let l: ReturnType<typeof readLayout>;
    try {
      l = readLayout('folder', src);
    } finally {
      m.mock.restore();
      syncBuiltinESMExports();
    }
    assert.deepEqual(l.entries.map((e) => e.id), ['jump/a', 'run/c']);
    assert.deepEqual(l.skipped, [
      { id: 'jump/secret', src: secret, error: `${secret}: unreadable directory: EACCES (nothing below it is prepared)` },
    ]);
  });

  it('k400 and ssv2: a listed clip found only as a dangling link is that video\'s one problem; a missing one stays an entry', () => {
    const k = join(dir, 'k400');
    touch(join(k, 'train.csv'), 'label,youtube_id,time_start,time_end,split\nzumba,aaa,0,10,train\nzumba,bbb,0,10,train\nzumba,ccc,0,10,train\n');
    touch(join(k, 'clips', 'aaa_000000_000010.mp4'));
    symlinkSync(join(dir, 'gone'), join(k, 'clips', 'bbb_000000_000010.mp4'));
    symlinkSync(join(dir, 'gone'), join(k, 'clips', 'zzz_000000_000010.mp4'));
    mkdirSync(join(k, 'clips', 'loop'));
    symlinkSync('..', join(k, 'clips', 'loop', 'back'));
    const kl = readLayout('k400', k);
    assert.deepEqual(kl.entries.map((e) => [e.id, e.src]), [
      ['aaa_000000_000010', join(k, 'clips', 'aaa_000000_000010.mp4')],
      ['ccc_000000_000010', join(k, 'train', 'ccc_000000_000010.mp4')],
    ]);
    assert.deepEqual(ids(kl.skipped), ['bbb_000000_000010', 'clips/loop/back', 'clips/zzz_000000_000010.mp4']);
    assert.equal(kl.skipped.find((s) => s.id === 'bbb_000000_000010')!.src, join(k, 'clips', 'bbb_000000_000010.mp4'));

    const s = join(dir, 'ssv2');
    touch(join(s, 'labels.json'), JSON.stringify({ Holding: '0' }));
    touch(join(s, 'train.json'), JSON.stringify([{ id: 1, template: 'Holding' }, { id: 2, template: 'Holding' }, { id: 3, template: 'Holding' }]));
    touch(join(s, 'videos', '1.webm'));
    symlinkSync(join(dir, 'gone'), join(s, 'videos', '2.webm'));
    mkdirSync(join(s, 'videos', '9.webm'));
    const sl = readLayout('ssv2', s);
    assert.deepEqual(sl.entries.map((e) => [e.id, e.src]), [['1', join(s, 'videos', '1.webm')], ['3', join(s, '3.webm')]]);
    assert.deepEqual(ids(sl.skipped), ['2', 'videos/9.webm']);
  });

  it('ucf101: the video folder is found even when the first listed video is missing', () => {
    const u = join(dir, 'ucf');
    touch(join(u, 'ucfTrainTestlist', 'classInd.txt'), '1 Jump\n');
    touch(join(u, 'ucfTrainTestlist', 'trainlist01.txt'), 'Jump/v_a.avi 1\nJump/v_b.avi 1\n');
    touch(join(u, 'ucfTrainTestlist', 'testlist01.txt'), 'Jump/v_c.avi\n');
    touch(join(u, 'UCF-101', 'Jump', 'v_b.avi'));
    const l = readLayout('ucf101', u);
    assert.deepEqual(l.entries.map((e) => e.src), ['v_a', 'v_b', 'v_c'].map((v) => join(u, 'UCF-101', 'Jump', `${v}.avi`)));
  });

  it('a dangling annotation link is reported like any other; a malformed partition file stops the run with one line', () => {
    const k = join(dir, 'k400-dir-csv');
    touch(join(k, 'a.csv'), 'youtube_id,time_start,time_end\n');
    symlinkSync(join(dir, 'gone'), join(k, 'b.csv'));
    assert.deepEqual(ids(readLayout('k400', k).skipped), ['b.csv']);
    const s = join(dir, 'ssv2-bad');
    touch(join(s, 'labels.json'), '{}');
    touch(join(s, 'train.json'), '{"id": 1}');
    assert.throws(() => readLayout('ssv2', s), /train\.json: expected a JSON array/);
  });
});

describe('prepare reports what the layout skipped', () => {
  it('one report line per odd entry (id, src, error), logged, and counted as failed; videos still prepared', async () => {
    const src = join(dir, 'prep');
    oddTree(src);
    makeVideo(join(src, 'jump', 'a.mp4'), 3);
    makeVideo(join(src, 'run', 'b.mp4'), 3);
    const out = join(dir, 'prep-out');
    const r = await cli(['prepare', '--dataset', 'folder', '--src', src, '--out', out, '--jobs', '2']);
    assert.equal(r.code, 0, r.err);
    const report = lines(join(out, 'report.jsonl'));
    const odd = ['jump/box.avi', 'jump/dangling.mp4', 'jump/root', 'jump/self.mp4', 'jump/up'];
    assert.deepEqual(ids(report), odd);
    for (const f of report) {
      assert.deepEqual(Object.keys(f), ['id', 'src', 'error']);
      assert.equal(f.src, join(src, f.id));
      assert.match(r.err, new RegExp(`skipped ${f.src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    }
    assert.match(r.out, /prepared 2\/7 videos .* 5 unreadable, see report\.jsonl/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.deepEqual([summary.selected, summary.failed, summary.preparedNow], [7, 5, 2]);

    const sharded = join(dir, 'prep-shards');
    for (const i of [0, 1]) {
      const s = await cli(['prepare', '--dataset', 'folder', '--src', src, '--out', sharded, '--shard', `${i}/2`]);
      assert.equal(s.code, 0, s.err);
    }
    const both = [...lines(join(sharded, 'report-0of2.jsonl')), ...lines(join(sharded, 'report-1of2.jsonl'))];
    assert.deepEqual(ids(both), odd);
  });

  it('csv: a listed path that is a directory or a dangling link reaches the decoder and is reported once', async () => {
    const src = join(dir, 'csv');
    makeVideo(join(src, 'a.mp4'), 3);
    mkdirSync(join(src, 'dir.mp4'));
    symlinkSync(join(dir, 'gone'), join(src, 'link.mp4'));
    touch(join(src, 'labels.csv'), 'path,label\na.mp4,x\ndir.mp4,x\nlink.mp4,y\n');
    const out = join(dir, 'csv-out');
    const r = await cli(['prepare', '--dataset', 'csv', '--src', src, '--out', out, '--jobs', '2']);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(lines(join(out, 'report.jsonl')).map((f) => [f.id, f.src]).sort(), [['dir', join(src, 'dir.mp4')], ['link', join(src, 'link.mp4')]]);
    assert.match(r.out, /prepared 1\/3 videos .* 2 unreadable/);
  });
});
