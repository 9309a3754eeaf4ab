import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { binaries, decodeFrames, probe } from '../../src/data/ffmpeg.ts';
import { cli, ffmpeg, makeImage, makeVideo, reference, tempDir } from './helpers.ts';

const writeCsv = (file: string, videos: string[]): string => {
  writeFileSync(file, videos.map((v) => `${v},a\n`).join(''));
  return file;
};

const { dir, cleanup } = tempDir('ffmpeg');
after(cleanup);

const rejects = (p: Promise<unknown>, file: string, re: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.equal(e.where, file);
    assert.match(e.problem, re);
    return true;
  });

describe('ffmpeg decode', () => {
  for (const ext of ['mp4', 'webm', 'avi'] as const) {
    it(`decodes ${ext} with the frame count, size and pixels of ffmpeg's own rgb24 output`, async () => {
      const file = makeVideo(join(dir, `pattern.${ext}`), 12, 32, 24);
      const p = await probe(file);
      assert.equal(p.width, 32);
      assert.equal(p.height, 24);
      assert.equal(p.fps, 25);
      assert.equal(p.frames, 12);
      const f = await decodeFrames(file, { width: 32, height: 24, expectSeconds: p.duration });
      assert.equal(f.frames, 12);
      assert.equal(f.seconds, 12 / 25);
      assert.equal(f.data.length, 12 * 24 * 32 * 3);
      assert.deepEqual(Buffer.from(f.data), reference(file));
    });
  }

  it('scales, resamples the frame rate, seeks and limits the frame count like ffmpeg', async () => {
    const file = makeVideo(join(dir, 'long.mp4'), 16, 32, 24, 'mandelbrot');
    const f = await decodeFrames(file, { width: 16, height: 12, fps: 12.5 });
    assert.equal(f.frames, 8);
    assert.deepEqual(Buffer.from(f.data), reference(file, ['-vf', 'fps=12.5,scale=16:12:flags=bicubic']));
    const g = await decodeFrames(file, { width: 32, height: 24, start: 0.2, maxFrames: 5 });
    assert.equal(g.frames, 5);
    assert.deepEqual(Buffer.from(g.data), ffmpeg(['-ss', '0.2', '-i', file, '-frames:v', '5', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']));
  });

  it('decodes a still image as one frame', async () => {
    const file = makeImage(join(dir, 'still.jpg'));
    const p = await probe(file);
    assert.equal(p.frames, 1);
    const f = await decodeFrames(file, { width: 20, height: 16 });
    assert.equal(f.frames, 1);
    assert.deepEqual(Buffer.from(f.data), reference(file));
  });
});

describe('native frames', () => {
  /** 12 decodable frames in a 48-frame, 15 fps AVI: 3 frames of every 15, the others empty chunks (as in tree.avi). */
  const gappy = () => {
    const file = join(dir, 'gappy.avi');
    ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=32x24:rate=15', '-t', '3.2', '-vf', "select='lt(mod(n\\,15)\\,3)'", '-vsync', 'vfr', '-c:v', 'mjpeg', file]);
    return file;
  };

  it('stores exactly the decoded frames without --fps, and their effective rate', async () => {
    const file = gappy();
    const p = await probe(file);
    assert.deepEqual([p.frames, p.fps, p.duration], [48, 15, 3.2]);
    const f = await decodeFrames(file, { width: 32, height: 24, expectSeconds: p.duration });
    assert.equal(f.frames, 12);
    assert.equal(f.seconds, 3.2);
    assert.deepEqual(Buffer.from(f.data), reference(file, ['-vsync', 'passthrough']));
    const out = join(dir, 'gappy-store');
    const r = await cli(['prepare', '--dataset', 'csv', '--src', writeCsv(join(dir, 'gappy.csv'), [file]), '--out', out]);
    assert.equal(r.code, 0, r.err);
    const rec = JSON.parse(readFileSync(join(out, 'index.jsonl'), 'utf8'));
    assert.deepEqual([rec.frames, rec.fps, rec.seconds], [12, 3.75, 3.2]);
  });

  it('resamples to --fps explicitly: duplicates fill the gaps', async () => {
    const file = gappy();
    const f = await decodeFrames(file, { width: 32, height: 24, fps: 15 });
    assert.equal(f.frames, 48);
    assert.deepEqual(Buffer.from(f.data), reference(file, ['-vf', 'fps=15,scale=32:24:flags=bicubic']));
  });

  it('reserves memory for what arrives, not for what the container claims', async () => {
    const file = join(dir, 'claims.avi');
    ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:size=1920x1080:rate=25', '-frames:v', '2', '-c:v', 'mjpeg', file]);
    const avi = readFileSync(file);
    avi.writeUInt32LE(1_000_000, avi.indexOf('avih') + 24); // total frames
    avi.writeUInt32LE(1_000_000, avi.indexOf('strh') + 40); // stream length
    writeFileSync(file, avi);
    const p = await probe(file);
    assert.equal(p.frames, 1_000_000);
    await rejects(decodeFrames(file, { width: 1920, height: 1080, expectSeconds: p.duration }), file, /^truncated: decoded 2 frames covering 0\.08 of 40000 s$/);
  });
});

describe('ffmpeg errors name the file', () => {
  let good: Buffer;
  before(() => {
    good = readFileSync(makeVideo(join(dir, 'good.avi'), 16));
  });

  it('missing file', async () => {
    const file = join(dir, 'nope.mp4');
    await rejects(probe(file), file, /^no such file$/);
    await rejects(decodeFrames(file, { width: 8, height: 8 }), file, /^no such file$/);
  });

  it('zero-length file', async () => {
    const file = join(dir, 'empty.mp4');
    writeFileSync(file, '');
    await rejects(probe(file), file, /^file is empty \(0 bytes\)$/);
    await rejects(decodeFrames(file, { width: 8, height: 8 }), file, /^file is empty \(0 bytes\)$/);
  });

  it('corrupt file (random bytes)', async () => {
    const file = join(dir, 'noise.mp4');
    writeFileSync(file, Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) % 251)));
    await rejects(probe(file), file, /^not a readable video \(corrupt or truncated\): /);
    await rejects(decodeFrames(file, { width: 8, height: 8 }), file, /^decoding failed \(corrupt or truncated\): /);
  });

  it('truncated mp4 (index at the end, cut off)', async () => {
    const mp4 = readFileSync(makeVideo(join(dir, 'whole.mp4'), 16));
    const file = join(dir, 'cut.mp4');
    writeFileSync(file, mp4.subarray(0, mp4.length >> 1));
    await rejects(probe(file), file, /^not a readable video \(corrupt or truncated\): moov atom not found/);
  });

  it('truncated avi (header promises more frames than remain)', async () => {
    const file = join(dir, 'cut.avi');
    writeFileSync(file, good.subarray(0, good.length >> 1));
    const p = await probe(file);
    await rejects(decodeFrames(file, { width: 32, height: 24, expectSeconds: p.duration }), file, /^truncated: decoded \d+ frames covering 0\.\d+ of 0\.\d+ s$/);
  });

  it('unsupported codec', async () => {
    const file = join(dir, 'zzzz.avi');
    writeFileSync(file, Buffer.from(good.toString('latin1').replaceAll('MJPG', 'ZZZZ'), 'latin1'));
    await rejects(probe(file), file, /^unsupported codec \(tag "ZZZZ"\)/);
    await rejects(decodeFrames(file, { width: 32, height: 24 }), file, /^unsupported codec: Decoder \(codec none\) not found/);
  });

  it('no video stream', async () => {
    const file = join(dir, 'tone.wav');
    ffmpeg(['-f', 'lavfi', '-i', 'sine=duration=0.1', file]);
    await rejects(probe(file), file, /^has no video stream$/);
  });

  it('a stalled decode is killed after the timeout and the child is reaped', async () => {
    const fifo = join(dir, 'stall.fifo');
    spawnSync('mkfifo', [fifo]);
    const fd = openSync(fifo, 'r+'); // keeps a writer open, so ffmpeg blocks reading instead of seeing EOF
    try {
      const t = performance.now();
      await rejects(decodeFrames(fifo, { width: 8, height: 8, timeoutMs: 400 }), fifo, /^decoding stalled: no output for 0.4 s \(ffmpeg killed\)$/);
      assert.ok(performance.now() - t < 5000);
      // This test's own fifo (its folder is unique), not another test run's.
      const left = spawnSync('pgrep', ['-f', `${binaries().ffmpeg}.*${fifo}`]).stdout.toString().trim();
      assert.equal(left, '', 'ffmpeg is still running');
    } finally {
      closeSync(fd);
    }
  });
});
