// Under load no valid video is lost or stored wrong: many small videos are prepared concurrently while busy-loop
// threads occupy every core, and every stored video must equal ffmpeg's own rgb24 decode byte for byte.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { StoreReader } from '../../src/data/store.ts';
import { cli, makeVideo, reference, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('decode-load');
const SOURCES = ['testsrc2', 'mandelbrot', 'rgbtestsrc', 'smptebars'];
const VIDEOS = 64;

/**
 * Load for as long as the test runs: two spinning processes per core, a spinning thread here, and this event loop
 * itself blocked for 20 ms of every 25 (a process doing CPU work between its I/O callbacks, as training does).
 */
function busy(): () => Promise<void> {
  const procs = Array.from({ length: 2 * availableParallelism() }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  const thread = new Worker('for (;;) {}', { eval: true });
  const loop = setInterval(() => {
    const until = performance.now() + 20;
    while (performance.now() < until);
  }, 5);
  return async () => {
    clearInterval(loop);
    for (const p of procs) p.kill('SIGKILL');
    await thread.terminate();
  };
}

describe('prepare under load', () => {
  const files: string[] = [];
  before(() => {
    for (let k = 0; k < VIDEOS; k++) {
      const ext = k % 3 === 0 ? 'avi' : 'mp4';
      files.push(makeVideo(join(dir, 'src', `c${k % 4}`, `v${String(k).padStart(2, '0')}.${ext}`), 8, 32, 32, SOURCES[k % 4]));
    }
  });
  after(cleanup);

  it('stores every video exactly while every core is busy', async () => {
    const out = join(dir, 'out');
    const stop = busy();
    let r;
    try {
      r = await cli(['prepare', '--dataset', 'folder', '--src', join(dir, 'src'), '--out', out, '--jobs', '6']);
    } finally {
      await stop();
    }
    assert.equal(r.code, 0, r.err);
    const store = new StoreReader(out);
    try {
      assert.equal(store.records.length, VIDEOS, `stored ${store.records.length} of ${VIDEOS} videos:\n${r.err}`);
      for (const rec of store.records) {
        const src = files.find((f) => f.endsWith(`${rec.id}.avi`) || f.endsWith(`${rec.id}.mp4`));
        assert.ok(src, rec.id);
        const want = reference(src);
        assert.equal(rec.frames, 8, `${rec.id}: ${rec.frames} frames`);
        assert.ok(Buffer.from(store.readVideo(rec)).equals(want), `${rec.id}: stored bytes differ from ffmpeg's decode`);
      }
    } finally {
      store.close();
    }
  });
});
