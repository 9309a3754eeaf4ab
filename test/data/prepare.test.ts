import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeFrames } from '../../src/data/ffmpeg.ts';
import { StoreReader, type VideoRecord } from '../../src/data/store.ts';
import { cli, makeImage, makeVideo, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('prepare');
after(cleanup);

const index = (out: string, tag = ''): VideoRecord[] =>
  readFileSync(join(out, `index${tag}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as VideoRecord);
const report = (out: string, tag = '') =>
  readFileSync(join(out, `report${tag}.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; error: string });
const summary = (out: string, tag = '') => JSON.parse(readFileSync(join(out, `summary${tag}.json`), 'utf8'));
const rows = (out: string) => index(out).map((r) => `${r.split} ${r.id} ${r.label}`).sort();

async function prepareOk(args: string[]) {
  const r = await cli(['prepare', '--jobs', '2', ...args]);
  assert.equal(r.code, 0, r.err);
  return r;
}

describe('prepare layouts', () => {
  it('ucf101: classInd + trainlist/testlist of the chosen split, test labels from the folder name', async () => {
    const src = join(dir, 'ucf');
    const lists = join(src, 'ucfTrainTestlist');
    for (const v of ['ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01', 'ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01', 'HandstandPushups/v_HandStandPushups_g01_c01', 'HandstandPushups/v_HandStandPushups_g02_c01']) {
      makeVideo(join(src, 'UCF-101', `${v}.avi`), 6);
    }
    makeVideo(join(lists, 'x.avi'), 1);
    writeFileSync(join(lists, 'classInd.txt'), '1 ApplyEyeMakeup\n2 HandstandPushups\n');
    writeFileSync(join(lists, 'trainlist02.txt'), 'ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1\nHandstandPushups/v_HandStandPushups_g01_c01.avi 2\n');
    writeFileSync(join(lists, 'testlist02.txt'), 'ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi\r\nHandstandPushups/v_HandStandPushups_g02_c01.avi\r\n');
    const out = join(dir, 'ucf-out');
    await prepareOk(['--dataset', 'ucf101', '--src', src, '--out', out, '--split', '2', '--width', '16', '--height', '12']);
    assert.deepEqual(rows(out), ['test v_ApplyEyeMakeup_g02_c01 0', 'test v_HandStandPushups_g02_c01 1', 'train v_ApplyEyeMakeup_g01_c01 0', 'train v_HandStandPushups_g01_c01 1']);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'classes.json'), 'utf8')), ['ApplyEyeMakeup', 'HandstandPushups']);
    for (const r of index(out)) assert.deepEqual([r.frames, r.height, r.width, r.bytes], [6, 12, 16, 6 * 12 * 16 * 3]);
  });

  it('k400: CSV rows -> <id>_<start6>_<end6> files, classes sorted, unlabeled test rows get −1', async () => {
    const src = join(dir, 'k400');
    writeFileSync(join(makeVideo(join(src, 'train', 'zumba', 'abc_000010_000020.mp4'), 5), '..', '..', '..', 'train.csv'),
      'label,youtube_id,time_start,time_end,split,is_cc\nzumba,abc,10,20,train,0\n"air drumming",def,0,10,train,0\n');
    makeVideo(join(src, 'train', 'air drumming', 'def_000000_000010.mp4'), 5);
    makeVideo(join(src, 'val', 'ghi_000003_000013.mp4'), 5);
    makeVideo(join(src, 'test', 'jkl_000001_000011.mp4'), 5);
    writeFileSync(join(src, 'validate.csv'), 'label,youtube_id,time_start,time_end,split\nzumba,ghi,3,13,validate\n');
    writeFileSync(join(src, 'test.csv'), 'youtube_id,time_start,time_end,split\njkl,1,11,test\n');
    const out = join(dir, 'k400-out');
    await prepareOk(['--dataset', 'k400', '--src', src, '--out', out, '--size', '12']);
    assert.deepEqual(rows(out), ['test jkl_000001_000011 -1', 'train abc_000010_000020 1', 'train def_000000_000010 0', 'val ghi_000003_000013 1']);
    for (const r of index(out)) assert.deepEqual([r.height, r.width], [12, 16]);
    const out2 = join(dir, 'k400-val');
    await prepareOk(['--dataset', 'k400', '--src', src, '--out', out2, '--split', 'val']);
    assert.deepEqual(rows(out2), ['val ghi_000003_000013 1']);
  });

  it('ssv2: labels.json + partition JSONs, brackets removed from templates, <id>.webm', async () => {
    const src = join(dir, 'ssv2');
    for (const id of [11, 12, 13]) makeVideo(join(src, 'videos', `${id}.webm`), 4);
    writeFileSync(join(src, 'labels.json'), JSON.stringify({ 'Pushing something from left to right': '1', 'Holding something': '0' }));
    writeFileSync(join(src, 'train.json'), JSON.stringify([{ id: '11', template: 'Holding [something]' }, { id: '12', template: 'Pushing [something] from left to right' }]));
    writeFileSync(join(src, 'validation.json'), JSON.stringify([{ id: '13', template: 'Holding [something]' }]));
    const out = join(dir, 'ssv2-out');
    await prepareOk(['--dataset', 'ssv2', '--src', src, '--out', out]);
    assert.deepEqual(rows(out), ['train 11 0', 'train 12 1', 'val 13 0']);
    assert.deepEqual(index(out).map((r) => [r.frames, r.width, r.height]), [[4, 32, 24], [4, 32, 24], [4, 32, 24]]);
  });

  it('imagenet: split/class folders of images, one frame each', async () => {
    const src = join(dir, 'in');
    makeImage(join(src, 'train', 'n01', 'a.jpg'));
    makeImage(join(src, 'train', 'n02', 'b.png'));
    makeImage(join(src, 'val', 'n02', 'c.jpg'));
    const out = join(dir, 'in-out');
    await prepareOk(['--dataset', 'imagenet', '--src', src, '--out', out, '--size', '8']);
    assert.deepEqual(rows(out), ['train n01/a 0', 'train n02/b 1', 'val n02/c 1']);
    for (const r of index(out)) assert.deepEqual([r.frames, r.height, r.width, r.fps], [1, 8, 10, null]);
  });

  it('folder and csv: class sub-folders, path,label rows; unreadable videos are reported and skipped', async () => {
    const src = join(dir, 'folder');
    makeVideo(join(src, 'jump', 'a.mp4'), 5);
    makeVideo(join(src, 'run', 'b.webm'), 5);
    writeFileSync(join(src, 'run', 'empty.mp4'), '');
    writeFileSync(join(src, 'run', 'noise.avi'), Buffer.alloc(3000, 7));
    const out = join(dir, 'folder-out');
    const r = await prepareOk(['--dataset', 'folder', '--src', src, '--out', out]);
    assert.deepEqual(rows(out), ['train jump/a 0', 'train run/b 1']);
    assert.deepEqual(report(out).map((f) => [f.id, f.error]), [
      ['run/empty', `${join(src, 'run', 'empty.mp4')}: file is empty (0 bytes)`],
      ['run/noise', `${join(src, 'run', 'noise.avi')}: not a readable video (corrupt or truncated): Invalid data found when processing input`],
    ].sort());
    assert.match(r.err, /skipped .*empty\.mp4: file is empty/);
    assert.match(r.out, /prepared 2\/4 videos .* 2 unreadable, see report\.jsonl/);
    assert.equal(summary(out).failed, 2);

    writeFileSync(join(src, 'list.csv'), 'path,label,split\njump/a.mp4,jump,train\nrun/b.webm,run,test\nrun/gone.mp4,run,test\n');
    const out2 = join(dir, 'csv-out');
    await prepareOk(['--dataset', 'csv', '--src', join(src, 'list.csv'), '--out', out2]);
    assert.deepEqual(rows(out2), ['test run/b 1', 'train jump/a 0']);
    assert.deepEqual(report(out2), [{ id: 'run/gone', src: join(src, 'run', 'gone.mp4'), error: `${join(src, 'run', 'gone.mp4')}: no such file` }]);
  });

  it('stored bytes are the decoded frames, readable by offset', async () => {
    const out = join(dir, 'ssv2-out');
    const store = new StoreReader(out);
    const r = store.split('val')[0]!;
    const f = await decodeFrames(r.src, { width: r.width, height: r.height });
    assert.deepEqual(store.readVideo(r), f.data);
    const frame = new Uint8Array(r.height * r.width * 3);
    store.readFrame(r, 2, frame);
    assert.deepEqual(frame, f.data.subarray(2 * frame.length, 3 * frame.length));
    store.close();
  });
});

describe('prepare resumes and splits work', () => {
  let src: string;
  before(() => {
    src = join(dir, 'many');
    const lines = ['path,label'];
    for (let i = 0; i < 24; i++) {
      makeVideo(join(src, `v${String(i).padStart(2, '0')}.mp4`), 4, 16, 16, i % 2 ? 'mandelbrot' : 'testsrc2');
      lines.push(`v${String(i).padStart(2, '0')}.mp4,${i % 3}`);
    }
    writeFileSync(join(src, 'labels.csv'), `${lines.join('\n')}\n`);
  });

  it('killed mid-way (SIGKILL), a re-run finishes without redoing or losing videos', async () => {
    const out = join(dir, 'killed');
    const child = spawn(process.execPath, ['bin/vhssl.js', 'prepare', '--dataset', 'csv', '--src', src, '--out', out, '--jobs', '1'], { stdio: 'ignore' });
    const file = join(out, 'index.jsonl');
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (existsSync(file) && readFileSync(file, 'utf8').split('\n').length > 4) {
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        }
      }, 5);
      child.on('exit', () => (clearInterval(poll), reject(new Error('prepare finished before it could be killed'))));
    });
    await new Promise((r) => child.once('close', r));
    const before = index(out).length;
    assert.ok(before >= 4 && before < 24, `${before} videos done before the kill`);
    const r = await prepareOk(['--dataset', 'csv', '--src', src, '--out', out]);
    assert.match(r.out, new RegExp(`prepared 24/24 videos .*${before} already done, 0 unreadable`));
    const recs = index(out);
    assert.equal(new Set(recs.map((x) => x.id)).size, 24);
    assert.equal(recs.length, 24);
    const again = await prepareOk(['--dataset', 'csv', '--src', src, '--out', out, '--verify']);
    assert.match(again.out, /24 already done/);
    assert.equal(summary(out).droppedOnResume, 0);
  });

  it('a torn index line, bytes past the last record and a record whose bytes are lost are repaired on resume', async () => {
    const out = join(dir, 'torn');
    await prepareOk(['--dataset', 'csv', '--src', src, '--out', out]);
    const recs = index(out);
    const last = recs.reduce((a, b) => (a.offset > b.offset ? a : b));
    const shard = join(out, last.shard);
    const size = statSync(shard).size;
    appendFileSync(shard, Buffer.alloc(1000, 1));
    appendFileSync(join(out, 'index.jsonl'), JSON.stringify({ ...last, id: 'ghost', offset: size + 5000 }) + '\n{"id":"to');
    const r = await prepareOk(['--dataset', 'csv', '--src', src, '--out', out]);
    assert.match(r.out, /prepared 24\/24 videos .*24 already done/);
    assert.equal(statSync(shard).size, size);
    assert.deepEqual(index(out).map((x) => x.id), recs.map((x) => x.id));
    assert.equal(summary(out).droppedOnResume, 1);

    const bytes = readFileSync(shard);
    bytes[last.offset + 7] = bytes[last.offset + 7]! ^ 0xff;
    writeFileSync(shard, bytes);
    const v = await prepareOk(['--dataset', 'csv', '--src', src, '--out', out, '--verify']);
    assert.match(v.err, /1 indexed videos failed verification/);
    assert.match(v.out, /prepared 24\/24 videos .*23 already done/);
  });

  it('--shard i/n splits the videos between jobs; the store reads all shard indexes as one', async () => {
    const out = join(dir, 'sharded');
    await prepareOk(['--dataset', 'csv', '--src', src, '--out', out, '--shard', '0/3']);
    await prepareOk(['--dataset', 'csv', '--src', src, '--out', out, '--shard', '2/3', '--shard-mb', '1']);
    const other = join(dir, 'sharded-b');
    await prepareOk(['--dataset', 'csv', '--src', src, '--out', other, '--shard', '1/3']);
    assert.deepEqual(index(out, '-0of3').map((r) => r.id).sort(), ['v00', 'v03', 'v06', 'v09', 'v12', 'v15', 'v18', 'v21']);
    assert.equal(summary(out, '-2of3').done, 8);
    const store = new StoreReader([out, other]);
    assert.deepEqual(store.records.map((r) => r.id), Array.from({ length: 24 }, (_, i) => `v${String(i).padStart(2, '0')}`));
    assert.deepEqual(store.classes, ['0', '1', '2']);
    store.close();
  });
});

describe('prepare rejects bad input with one line and exit code 1', () => {
  const ok = ['--out', join(dir, 'never')];
  const cases: [string[], RegExp][] = [
    [['--src', 'x', ...ok], /--dataset is required/],
    [['--dataset', 'mnist', '--src', 'x', ...ok], /--dataset: unknown dataset "mnist" \(expected one of ucf101, k400, ssv2, imagenet, folder, csv, moving-mnist\)/],
    [['--dataset', 'folder', '--src', 'x'], /--out is required/],
    [['--dataset', 'folder', ...ok], /--src is required/],
    [['--dataset', 'folder', '--src', join(dir, 'absent'), ...ok], /absent: no such file or directory/],
    [['--dataset', 'folder', '--src', dir, '--size', '0', ...ok], /--size: expected an integer ≥ 1, got "0"/],
    [['--dataset', 'folder', '--src', dir, '--size', '64', '--width', '64', ...ok], /give either --size .* or --width and --height/],
    [['--dataset', 'folder', '--src', dir, '--width', '64', ...ok], /--height: is required with the other/],
    [['--dataset', 'folder', '--src', dir, '--fps=-2', ...ok], /--fps: expected a positive number, got "-2"/],
    [['--dataset', 'folder', '--src', dir, '--jobs', 'many', ...ok], /--jobs: expected an integer ≥ 1, got "many"/],
    [['--dataset', 'folder', '--src', dir, '--shard', '3/3', ...ok], /--shard: expected i\/n with 0 ≤ i < n, got "3\/3"/],
    [['--dataset', 'folder', '--src', dir, '--shard', 'a', ...ok], /--shard: expected i\/n/],
    [['--dataset', 'folder', '--src', dir, '--frobnicate', ...ok], /Unknown option '--frobnicate' \(known options: --dataset/],
    [['--dataset', 'folder', '--src', dir, '--videos', '3', ...ok], /--videos: applies only to --dataset moving-mnist/],
    [['--dataset', 'folder', '--src', dir, '--digit', '14', ...ok], /--digit: applies only to --dataset moving-mnist/],
    [['--dataset', 'ucf101', '--src', dir, ...ok], /no classInd\.txt found/],
    [['--dataset', 'ucf101', '--src', join(dir, 'ucf'), '--split', '4', ...ok], /--split: UCF101 has official splits 1, 2 and 3, got "4"/],
    [['--dataset', 'ssv2', '--src', join(dir, 'in'), ...ok], /no labels\.json found/],
    [['--dataset', 'k400', '--src', join(dir, 'in'), ...ok], /no annotation CSV found/],
    [['--dataset', 'csv', '--src', join(dir, 'in'), ...ok], /labels\.csv: no such CSV file/],
    [['--dataset', 'moving-mnist', '--src', dir, ...ok], /--src: does not apply to moving-mnist/],
    [['--dataset', 'moving-mnist', '--size', '33', ...ok], /--size: moving-mnist needs an even size for H\.264, got 33/],
    [['--dataset', 'csv', '--src', join(dir, 'folder', 'list.csv'), '--out', join(dir, 'ucf-out')], /classes\.json: the store in --out was prepared with another class list/],
  ];
  for (const [argv, re] of cases) {
    it(argv.filter((a) => !a.startsWith(dir)).join(' '), async () => {
      const r = await cli(['prepare', ...argv]);
      assert.equal(r.code, 1);
      assert.match(r.err, re);
      assert.equal(r.err.split('\n').length, 1);
    });
  }
});
