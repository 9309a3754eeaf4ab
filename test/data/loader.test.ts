import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_AUGMENT, IMAGENET } from '../../src/data/augment.ts';
import { Loader, type LoaderOptions } from '../../src/data/loader.ts';
import { cli, tempDir } from './helpers.ts';

const { dir, cleanup } = tempDir('loader');
after(cleanup);
const store = join(dir, 'mm');

before(async () => {
  const r = await cli(['prepare', '--dataset', 'moving-mnist', '--out', store, '--videos', '40', '--frames', '10', '--size', '32']);
  assert.equal(r.code, 0, r.err);
});

const opts = (o: Partial<LoaderOptions> = {}): LoaderOptions => ({
  store, split: 'train', clip: { length: 4, stride: 2 }, height: 24, width: 24, batchSize: 5, seed: 11,
  sampler: { kind: 'random', epochLength: 20 }, augment: DEFAULT_AUGMENT, workers: 0, ...o,
});

async function take(l: Loader, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await l.next());
  return out;
}

describe('loader', () => {
  it('batches are (B, L, H, W, 3) float32, normalised, with labels and video indices', async () => {
    const l = new Loader(opts());
    const [b] = await take(l, 1);
    assert.deepEqual(b!.shape, [5, 4, 24, 24, 3]);
    assert.equal(b!.x.length, 5 * 4 * 24 * 24 * 3);
    assert.ok(b!.x.every(Number.isFinite));
    assert.ok(Math.min(...b!.x) < -1.5, 'black pixels normalise to about −2');
    for (let s = 0; s < 5; s++) assert.equal(b!.labels[s], l.records[b!.videos[s]!]!.label);
    assert.equal(l.batchesPerEpoch, 4);
    assert.deepEqual(l.classes.length, 8);
    await l.close();
  });

  it('the order is shuffled per epoch by the seed, and reproduced by the same seed', async () => {
    const a = new Loader(opts());
    const b = new Loader(opts());
    const c = new Loader(opts({ seed: 12 }));
    const [ea, eb, ec] = [await take(a, 8), await take(b, 8), await take(c, 8)];
    const vids = (bs: typeof ea) => bs.map((x) => Array.from(x.videos).join(',')).join('|');
    assert.equal(vids(ea), vids(eb));
    assert.notEqual(vids(ea), vids(ec));
    assert.notEqual(vids(ea.slice(0, 4)), vids(ea.slice(4, 8)), 'epochs 0 and 1 differ');
    assert.deepEqual(ea[5]!.x, eb[5]!.x);
    assert.equal(ea[4]!.epoch, 1);
    for (const l of [a, b, c]) await l.close();
  });

  it('worker threads give the same bytes as the calling thread', async () => {
    const inline = new Loader(opts());
    const threaded = new Loader(opts({ workers: 2, prefetch: 3 }));
    const [x, y] = [await take(inline, 6), await take(threaded, 6)];
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(y[i]!.x, x[i]!.x);
      assert.deepEqual(y[i]!.videos, x[i]!.videos);
    }
    await inline.close();
    await threaded.close();
  });

  it('a restored state continues with exactly the batches that followed it', async () => {
    const full = new Loader(opts({ workers: 1 }));
    const all = await take(full, 7);
    const first = new Loader(opts({ workers: 1 }));
    await take(first, 3);
    const saved = JSON.parse(JSON.stringify(first.state()));
    await first.close();
    const resumed = new Loader(opts({ workers: 1 }));
    resumed.restore(saved);
    const rest = await take(resumed, 4);
    for (let i = 0; i < 4; i++) assert.deepEqual(rest[i]!.x, all[3 + i]!.x);
    assert.throws(() => resumed.restore({ ...saved, seed: 1 }), /loader\.state\.seed: checkpoint has seed 1, loader has 11/);
    for (const l of [full, resumed]) await l.close();
  });

  it('evaluation: multi-view covers every view of every video once, without augmentation, in order', async () => {
    const l = new Loader(opts({ split: 'test', sampler: { kind: 'multiview', temporal: 2, spatial: 3 }, augment: null, batchSize: 4 }));
    const seen: string[] = [];
    for await (const b of l) for (let s = 0; s < b.shape[0]; s++) seen.push(`${b.videos[s]}@${b.starts[s]}`);
    assert.equal(seen.length, l.records.length * 6);
    assert.equal(l.state().epoch, 1);
    const again = new Loader(opts({ split: 'test', sampler: { kind: 'sliding', step: 3 }, augment: null, normalize: IMAGENET }));
    assert.equal(again.batchesPerEpoch, Math.ceil((l.records.length * 2) / 5));
    for (const x of [l, again]) await x.close();
  });

  it('bad configurations are user errors that name the key', () => {
    assert.throws(() => new Loader(opts({ split: 'nope' })), /no videos in split "nope"/);
    assert.throws(() => new Loader(opts({ clip: { length: 20, stride: 2 } })), /no clip of 20×2 frames fits any video/);
    assert.throws(() => new Loader(opts({ batchSize: 50 })), /loader\.batchSize: 50 is larger than the epoch/);
    assert.throws(() => new Loader(opts({ store: join(dir, 'none') })), /none: no such store directory/);
  });
});
