// Broken files never stop a preparation: >100 files derived from real videos (truncated, bit-flipped, zeroed, empty,
// text, a directory, dangling and looping links) sit next to good ones in a folder layout. Each good video is stored
// exactly as ffmpeg decodes it; each derived one is either stored and equal to ffmpeg's own decode of that same file,
// or reported on exactly one line naming it; never both, never neither. The odd entries are always reported.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { binaries } from '../../src/data/ffmpeg.ts';
import { StoreReader } from '../../src/data/store.ts';
import { Rng } from '../../src/rng.ts';
import { cli, makeVideo, reference, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('fuzz');
after(cleanup);

/**
 * ffmpeg's rgb24 decode of `file` with prepare's options (native w×h, one decoder thread, every decoded frame kept as
 * it is: no duplicates or drops to fill a constant rate); null when ffmpeg fails.
 */
function decodeLikePrepare(file: string, w: number, h: number): Buffer | null {
  const args = ['-nostdin', '-v', 'error', '-threads', '1', '-i', file, '-map', '0:v:0', '-an', '-sn', '-vf', `scale=${w}:${h}:flags=bicubic`];
  const r = spawnSync(binaries().ffmpeg, [...args, '-vsync', 'passthrough', '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1'], { maxBuffer: 1 << 26 });
  return r.status === 0 ? r.stdout : null;
}

/** Broken variants of `bytes`, by name: truncations, byte flips, zeroed header and tail (26 per source). */
function variants(bytes: Buffer, rng: Rng): [string, Buffer][] {
  const n = bytes.length;
  const out: [string, Buffer][] = [];
  for (const f of [0.02, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.97, 0.995]) out.push([`cut${Math.round(f * 1000)}`, bytes.subarray(0, Math.floor(n * f))]);
  out.push(['cut-last-byte', bytes.subarray(0, n - 1)], ['cut-32-bytes', bytes.subarray(0, 32)]);
  for (let k = 0; k < 10; k++) {
    const b = Buffer.from(bytes);
    for (let j = 0; j < (k < 8 ? 1 : 16); j++) {
      const at = Math.floor(rng.uniform() * n);
      b[at] = b[at]! ^ (1 + Math.floor(rng.uniform() * 255));
    }
    out.push([`flip${k}`, b]);
  }
  for (const [name, from, to] of [['zero-head16', 0, 16], ['zero-head256', 0, 256], ['zero-head1k', 0, 1024], ['zero-tail64', n - 64, n]] as const) {
    const b = Buffer.from(bytes);
    b.fill(0, from, to);
    out.push([name, b]);
  }
  return out;
}

describe('prepare fuzz: broken files next to good ones', () => {
  it('stores every good video exactly, and each broken one is stored-as-ffmpeg-decodes-it or reported once', async (t) => {
    const src = join(dir, 'src');
    const rng = Rng.fromSeed(7, 'fuzz');
    const good: string[] = [];
    const derived: string[] = [];
    const odd: string[] = [];
    for (const ext of ['mp4', 'webm', 'avi', 'mkv']) {
      const cls = join(src, ext);
      for (const pattern of ['testsrc2', 'mandelbrot']) good.push(makeVideo(join(cls, `good-${pattern}.${ext}`), 12, 32, 24, pattern));
      for (const [name, b] of variants(readFileSync(good.at(-2)!), rng)) {
        const file = join(cls, `${name}.${ext}`);
        writeFileSync(file, b);
        derived.push(file);
      }
    }
    const cls = join(src, 'mp4');
    writeFileSync(join(cls, 'empty.mp4'), '');
    writeFileSync(join(cls, 'text.mp4'), 'not a video, just some text renamed\n'.repeat(20));
    makeVideo(join(cls, 'folder.avi', 'inside.avi'), 4);
    symlinkSync(join(src, 'nowhere.mp4'), join(cls, 'dangling.mp4'));
    symlinkSync('loop.mp4', join(cls, 'loop.mp4'));
    symlinkSync('..', join(cls, 'parent'));
    odd.push(...['empty.mp4', 'text.mp4', 'folder.avi', 'dangling.mp4', 'loop.mp4', 'parent'].map((f) => join(cls, f)));
    assert.ok(derived.length + odd.length >= 100, `${derived.length + odd.length} broken files`);

    const out = join(dir, 'out');
    const started = Date.now();
    const r = await cli(['prepare', '--dataset', 'folder', '--src', src, '--out', out, '--jobs', '2', '--timeout', '20']);
    t.diagnostic(`prepare of ${good.length + derived.length + odd.length} files: ${Date.now() - started} ms`);
    assert.equal(r.code, 0, r.err);

    const report = readFileSync(join(out, 'report.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; src: string; error: string });
    const reported = (f: string) => report.filter((x) => x.src === f);
    const store = new StoreReader(out);
    const stored = new Map(store.records.map((x) => [x.src, x]));
    const wrong: string[] = [];
    for (const f of good) {
      const rec = stored.get(f);
      if (!rec) wrong.push(`good ${f}: not stored (${reported(f)[0]?.error ?? 'not reported either'})`);
      else if (!reference(f).equals(store.readVideo(rec))) wrong.push(`good ${f}: stored bytes differ from ffmpeg's decode`);
    }
    let kept = 0;
    for (const f of derived) {
      const rec = stored.get(f);
      const lines = reported(f);
      if ((rec ? 1 : 0) + lines.length !== 1) wrong.push(`${f}: stored ${rec ? 'yes' : 'no'}, reported ${lines.length} times`);
      else if (lines[0] && !lines[0].error.includes(f)) wrong.push(`${f}: report line does not name it: ${lines[0].error}`);
      else if (rec) {
        kept++;
        const ref = decodeLikePrepare(f, rec.width, rec.height);
        if (!ref) wrong.push(`${f}: stored, but ffmpeg fails on it`);
        else if (!ref.equals(store.readVideo(rec))) wrong.push(`${f}: stored ${rec.frames} frames that differ from ffmpeg's decode (${ref.length / (rec.width * rec.height * 3)} frames)`);
      }
    }
    for (const f of odd) {
      const lines = reported(f);
      if (lines.length !== 1 || !lines[0]!.error.startsWith(`${f}: `)) wrong.push(`${f}: reported ${lines.length} times, expected once`);
    }
    const known = new Set([...good, ...derived, ...odd]);
    for (const x of report) if (!known.has(x.src) || good.includes(x.src)) wrong.push(`unexpected report line: ${x.error}`);
    for (const x of store.records) if (!known.has(x.src)) wrong.push(`unexpected stored video: ${x.src}`);
    store.close();
    t.diagnostic(`derived: ${kept} stored as ffmpeg decodes them, ${derived.length - kept} reported`);
    assert.deepEqual(wrong, []);
    assert.ok(derived.length - kept >= derived.length / 4, 'most truncated or zeroed files are unreadable');
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.failed, report.length);
    assert.match(r.out, new RegExp(`prepared ${stored.size}/${stored.size + report.length} videos .* ${report.length} unreadable`));
  });
});
