// Fine-tuning runs the cls graph end to end (encoder and head change, test accuracy at clip and video level); PCA
// finds known principal axes; t-SNE and UMAP are deterministic for a seed and separate well-separated clusters.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pca2, principalDirections, tsne2, umap2 } from '../../src/eval/embed2d.ts';
import { finetune } from '../../src/eval/finetune.ts';
import { loadRun } from '../../src/eval/run.ts';
import { Rng } from '../../src/rng.ts';
import { makeRun, makeStore, tempDir, tinyConfig } from './fixtures.ts';

describe('fine-tuning', () => {
  const tmp = tempDir('finetune');
  const runDir = join(tmp.dir, 'run');
  before(() => makeRun(runDir, tinyConfig(makeStore(join(tmp.dir, 'store'), { perClass: 4, perClassTest: 1 }))));
  after(() => tmp.cleanup());

  test('trains the encoder and a head end to end, then measures the test split', async () => {
    const run = loadRun(runDir);
    const r = await finetune(run.config, run.spec, run.params, { epochs: 2, batchSize: 8, lr: 0.01, threads: 1 });
    assert.equal(r.steps, 4, '2 epochs of ⌊16 train clips / 8⌋ steps');
    assert.equal(r.losses.length, 2);
    assert.ok(r.losses.every(Number.isFinite));
    assert.equal(r.clip.count, 12, '4 test videos × 3 views');
    assert.equal(r.video.count, 4);
    assert.deepEqual(r.params.get('head.linear.weight')!.shape, [64, 4]);
    const w = 'space.blocks.0.attn.qkv.weight';
    assert.notDeepEqual(r.params.get(w)!.data, run.params.get(w)!.data, 'the encoder is trained too');
  });
});

describe('2-D embeddings', () => {
  /** n points in D dims: N(0, 3²) along axis 2, N(0, 1) along axis 0, N(0, 0.1²) elsewhere. */
  function anisotropic(n: number, D: number): Float32Array {
    const rng = Rng.fromSeed(4);
    return Float32Array.from({ length: n * D }, (_, i) => (i % D === 2 ? 3 : i % D === 0 ? 1 : 0.1) * rng.normal() + 5);
  }

  test('PCA: the top two directions are the axes of largest variance, in order', () => {
    const [a, b] = principalDirections(anisotropic(400, 6), 400, 6);
    assert.ok(Math.abs(Math.abs(a![2]!) - 1) < 1e-3, `first direction ${Array.from(a!)}`);
    assert.ok(Math.abs(Math.abs(b![0]!) - 1) < 1e-2, `second direction ${Array.from(b!)}`);
    let dot = 0;
    for (let d = 0; d < 6; d++) dot += a![d]! * b![d]!;
    assert.ok(Math.abs(dot) < 1e-9);
    const p = pca2(anisotropic(400, 6), 400, 6);
    let [vx, vy] = [0, 0];
    for (let i = 0; i < 400; i++) [vx, vy] = [vx + p[2 * i]! ** 2, vy + p[2 * i + 1]! ** 2];
    assert.ok(vx / 400 > 6 && vx / 400 < 12 && vy / 400 > 0.7 && vy / 400 < 1.4, `variances ${vx / 400}, ${vy / 400}`);
  });

  /** Three tight clusters far apart. */
  function clusters(): { x: Float32Array; labels: number[] } {
    const rng = Rng.fromSeed(5);
    const labels = Array.from({ length: 45 }, (_, i) => i % 3);
    return { x: Float32Array.from(labels.flatMap((c) => Array.from({ length: 5 }, (_, d) => (d === c ? 10 : 0) + 0.1 * rng.normal()))), labels };
  }

  /** Every point is nearer its own cluster's centroid than any other. */
  function separated(p: Float64Array, labels: number[]): boolean {
    const cent = [0, 1, 2].map((c) => {
      const idx = labels.flatMap((l, i) => (l === c ? [i] : []));
      return [idx.reduce((s, i) => s + p[2 * i]!, 0) / idx.length, idx.reduce((s, i) => s + p[2 * i + 1]!, 0) / idx.length];
    });
    return labels.every((l, i) => {
      const d = cent.map(([x, y]) => (p[2 * i]! - x!) ** 2 + (p[2 * i + 1]! - y!) ** 2);
      return d.indexOf(Math.min(...d)) === l;
    });
  }

  test('t-SNE and UMAP: the same seed gives the same points; clusters stay apart', () => {
    const { x, labels } = clusters();
    const t = tsne2(x, 45, 5, { seed: 1, iterations: 200 });
    assert.deepEqual(tsne2(x, 45, 5, { seed: 1, iterations: 200 }), t);
    assert.ok(separated(t, labels), 't-SNE separates the clusters');
    const u = umap2(x, 45, 5, { seed: 1 });
    assert.deepEqual(umap2(x, 45, 5, { seed: 1 }), u);
    assert.ok(separated(u, labels), 'UMAP separates the clusters');
    assert.ok(separated(pca2(x, 45, 5), labels), 'PCA separates the clusters');
  });
});
