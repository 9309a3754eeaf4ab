// Direction sensitivity: the loader's time reversal gives each clip's frames backwards in the same view, the mean
// cosine is worked out by hand, and on run directories of moving squares (class = direction of motion) and of still
// squares (every clip a palindrome in time): counts, ranges, `level.space` (one frame at a time, mean-pooled) at 1,
// a time group with sharp attention below 1, and 1 everywhere when reversing changes nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Loader, type LoaderOptions } from '../../src/data/loader.ts';
import { directionSensitivity, meanRowCosine } from '../../src/eval/direction.ts';
import { writeSafetensors } from '../../src/graph/safetensors.ts';
import { checkpointTensors, makeRun, makeStore, tempDir, tinyConfig } from './fixtures.ts';

describe('direction sensitivity', () => {
  const tmp = tempDir('direction');
  const moving = join(tmp.dir, 'moving');
  const still = join(tmp.dir, 'still');
  before(() => {
    for (const [dir, speed] of [[moving, 2], [still, 0]] as const) makeRun(join(dir, 'run'), tinyConfig(makeStore(join(dir, 'store'), { perClass: 1, perClassTest: 2, speed })));
  });
  after(() => tmp.cleanup());

  test('meanRowCosine: parallel 1, opposite −1, orthogonal 0, two zero rows 1, one zero row 0', () => {
    const a = Float32Array.from([1, 2, 1, 0, 3, 4, 0, 0, 0, 0]);
    const b = Float32Array.from([2, 4, -1, 0, 0, 5, 0, 0, 1, 1]);
    // rows: (1,2)·(2,4) → 1; (1,0)·(−1,0) → −1; (3,4)·(0,5) → 0.8; zero/zero → 1; zero/(1,1) → 0
    assert.ok(Math.abs(meanRowCosine(a, b, 5, 2) - (1 - 1 + 0.8 + 1 + 0) / 5) < 1e-7);
    assert.ok(Math.abs(meanRowCosine(Float32Array.from([1, 0]), Float32Array.from([0, 1]), 1, 2)) < 1e-12);
    assert.throws(() => meanRowCosine(a, b.subarray(2), 5, 2), /expected 5×2 values, got 10 and 8/);
  });

  test('the loader reverses the frames of each clip and keeps its view', async () => {
    const o: LoaderOptions = {
      store: join(moving, 'store'), split: 'test', clip: { length: 8, stride: 1 }, height: 24, width: 24, batchSize: 8, seed: 0,
      sampler: { kind: 'multiview', temporal: 2, spatial: 3 }, augment: null, workers: 0,
    };
    const forward = new Loader(o);
    const reversed = new Loader({ ...o, reverseTime: true });
    const [f, r] = [await forward.next(), await reversed.next()];
    await Promise.all([forward.close(), reversed.close()]);
    assert.deepEqual(r.shape, f.shape);
    assert.deepEqual([r.videos, r.starts, r.labels], [f.videos, f.starts, f.labels]);
    const [B, L, H, W] = f.shape;
    const frame = H * W * 3;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) {
        const at = (x: Float32Array, k: number) => x.subarray((b * L + k) * frame, (b * L + k + 1) * frame);
        assert.deepEqual(at(r.x, t), at(f.x, L - 1 - t), `clip ${b}, frame ${t}`);
      }
    }
    assert.notDeepEqual(r.x, f.x, 'the squares move');
  });

  test('moving squares: one cosine per level in [-1, 1] over every test clip; level.space ignores time, level.time does not', async () => {
    const d = await directionSensitivity(join(moving, 'run'), { threads: 1 });
    assert.equal(d.count, 8, '2 test videos × 4 classes, one view each');
    assert.equal(d.split, 'test');
    assert.equal(d.checkpoint.name, 'best');
    assert.deepEqual(Object.keys(d.levels), ['embedding', 'level.space', 'level.time']);
    assert.deepEqual(Object.keys(d.centred), Object.keys(d.levels));
    assert.equal(d.cosine, d.levels.embedding);
    for (const [name, c] of [...Object.entries(d.levels), ...Object.entries(d.centred)]) assert.ok(c >= -1 && c <= 1, `${name}: ${c}`);
    // space attends within one frame; the mean over frames does not depend on their order
    assert.ok(Math.abs(d.levels['level.space']! - 1) < 1e-6 && Math.abs(d.centred['level.space']! - 1) < 1e-6, `level.space ${d.levels['level.space']}`);
    const views = await directionSensitivity(join(moving, 'run'), { threads: 1, views: { kind: 'multiview', temporal: 2, spatial: 1 }, checkpoint: 'last' });
    assert.equal(views.count, 16);
    assert.equal(views.checkpoint.name, 'last');
    // Near initialisation attention is almost uniform: the summary of a clip is nearly a bag of its frames. Sharper
    // attention in time (qkv weights ×10) makes the causal summary depend on where each frame sits.
    const config = tinyConfig(join(moving, 'store'));
    const sharp = checkpointTensors(config, 0.3);
    for (const [name, t] of sharp) if (/^time\.blocks\.\d\.attn\.qkv\.weight$/.test(name)) sharp.set(name, { ...t, data: Float32Array.from(t.data as Float32Array, (v) => 10 * v) });
    writeSafetensors(join(moving, 'run', 'checkpoints', 'sharp.safetensors'), sharp);
    const s = await directionSensitivity(join(moving, 'run'), { threads: 1, checkpoint: 'sharp' });
    assert.ok(s.centred.embedding! < 0.9999 && s.cosine < 1 - 1e-8, `embedding ${s.cosine}, centred ${s.centred.embedding}`);
    assert.ok(s.centred.embedding! < d.centred.embedding!, 'sharper attention, more sensitive to the direction of time');
    assert.ok(Math.abs(s.centred['level.space']! - 1) < 1e-6);
  });

  test('still squares (every clip a palindrome in time): cosine 1 at every level', async () => {
    const d = await directionSensitivity(join(still, 'run'), { threads: 1, batchSize: 3 });
    assert.equal(d.count, 8);
    for (const [name, c] of [...Object.entries(d.levels), ...Object.entries(d.centred)]) assert.ok(Math.abs(c - 1) < 1e-6, `${name}: ${c}`);
  });
});
