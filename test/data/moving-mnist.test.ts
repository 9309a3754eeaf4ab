import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { digitSize, renderVideo, resizeDigit } from '../../src/data/moving-mnist.ts';
import { Rng } from '../../src/rng.ts';
import { cli, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('moving-mnist');
after(cleanup);

describe('moving-mnist digits', () => {
  it('the default digit keeps the classic proportions (28 px on 64) and never falls under 8 px', () => {
    assert.deepEqual([64, 32, 128, 16].map(digitSize), [28, 14, 56, 8]);
  });

  it('resizeDigit averages areas: 28 → 14 is the mean of each 2×2 block, 28 → 28 the identity, a constant stays constant', () => {
    const src = Float32Array.from({ length: 28 * 28 }, (_, k) => ((k * 7919) % 101) / 100);
    const half = resizeDigit(src, 14);
    for (const [i, j] of [[0, 0], [3, 9], [13, 13]] as const) {
      const want = (src[2 * i * 28 + 2 * j]! + src[2 * i * 28 + 2 * j + 1]! + src[(2 * i + 1) * 28 + 2 * j]! + src[(2 * i + 1) * 28 + 2 * j + 1]!) / 4;
      assert.ok(Math.abs(half[i * 14 + j]! - want) < 1e-6, `(${i}, ${j}): ${half[i * 14 + j]} vs ${want}`);
    }
    assert.deepEqual(resizeDigit(src, 28), src);
    for (const v of resizeDigit(new Float32Array(28 * 28).fill(0.5), 10)) assert.ok(Math.abs(v - 0.5) < 1e-6);
  });

  it('renderVideo moves the D×D digit by the class velocity per frame on a torus', () => {
    const D = 5;
    const S = 16;
    const digit = Float32Array.from({ length: D * D }, (_, k) => (k + 1) / (D * D));
    const shift = (a: Uint8Array, t: number, dx: number, dy: number) => {
      const out = new Uint8Array(S * S);
      for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) out[(((y + dy) % S + S) % S) * S + (((x + dx) % S + S) % S)] = a[t * S * S + y * S + x]!;
      return out;
    };
    // classes: 3 = left-fast (3 px/frame), 4 = down-slow (1 px/frame)
    for (const [cls, dx, dy] of [[3, -3, 0], [4, 0, 1]] as const) {
      const v = renderVideo(digit, D, cls, 4, S, Rng.fromSeed(1));
      let lit = 0;
      for (let k = 0; k < S * S; k++) lit += v[k]! > 0 ? 1 : 0;
      assert.equal(lit, D * D);
      for (let t = 0; t + 1 < 4; t++) assert.deepEqual(shift(v, t, dx, dy), v.subarray((t + 1) * S * S, (t + 2) * S * S));
    }
  });
});

describe('prepare --dataset moving-mnist', () => {
  const out = join(dir, 'mm');
  const prepare = (videos: number, digit: number) =>
    cli(['prepare', '--dataset', 'moving-mnist', '--out', out, '--videos', String(videos), '--frames', '3', '--size', '16', '--jobs', '2', '--digit', String(digit)]);

  it('records the generator options, extends with more videos, and refuses to mix videos made with others', async () => {
    const r = await prepare(8, 6);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'videos', 'generator.json'), 'utf8')), { frames: 3, size: 16, digit: 6, seed: 0, fps: 10 });
    const more = await prepare(16, 6);
    assert.equal(more.code, 0, more.err);
    const bad = await prepare(8, 8);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /mm: holds moving-mnist videos generated with digit=6, not digit=8 \(use another --out, or delete it to regenerate\)/);
    assert.equal(bad.err.split('\n').length, 1);
  });

  const cases: [string[], RegExp][] = [
    [['--digit', '40', '--size', '32'], /--digit: a 40-pixel digit does not fit a 32-pixel frame \(use --digit 14 or less\)/],
    [['--digit', '3'], /--digit: expected an integer ≥ 4, got "3"/],
  ];
  for (const [argv, re] of cases) {
    it(`rejects ${argv.join(' ')} with one line`, async () => {
      const r = await cli(['prepare', '--dataset', 'moving-mnist', '--out', join(dir, 'never'), ...argv]);
      assert.equal(r.code, 1);
      assert.match(r.err, re);
      assert.equal(r.err.split('\n').length, 1);
    });
  }
});
