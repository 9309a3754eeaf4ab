// Fine-tuning runs the cls graph end to end (encoder and head change, test accuracy at clip and video level); PCA
// finds known principal axes; t-SNE and UMAP are deterministic for a seed and separate well-separated clusters. Feature
// pictures count videos and clips, draw views with the same features once, and their PNG carries a title, axes and a
// legend in the classes' colours.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pca2, principalDirections, tsne2, umap2 } from '../../src/eval/embed2d.ts';
import type { Features } from '../../src/eval/features.ts';
import { finetune } from '../../src/eval/finetune.ts';
import { distinctViews, pointsText, writePictures } from '../../src/eval/pictures.ts';
import { classColour } from '../../src/eval/plot.ts';
import { hexRgb } from '../../src/eval/raster.ts';
import { PNG } from 'pngjs';
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

describe('feature pictures', () => {
  const tmp = tempDir('pictures');
  after(() => tmp.cleanup());

  /** `videos` videos of class v % 4 with 3 views each; the views of even videos are the same clip (same features). */
  function features(videos: number, D = 6): Features {
    const rng = Rng.fromSeed(6);
    const n = videos * 3;
    const data = new Float32Array(n * D);
    const labels = new Int32Array(n);
    const ids = new Int32Array(n);
    for (let r = 0; r < n; r++) {
      const v = Math.floor(r / 3);
      [labels[r], ids[r]] = [v % 4, v];
      for (let d = 0; d < D; d++) data[r * D + d] = v % 2 === 0 && r % 3 > 0 ? data[(r - 1) * D + d]! : (d === v % 4 ? 5 : 0) + rng.normal();
    }
    return { split: 'test', levels: new Map([['embedding', { data, dim: D }]]), labels, videos: ids, classes: ['right', 'left', 'down', 'up'], count: n };
  }

  test('views of one video with the same features count once; equal features of two videos stay two points', () => {
    const f = features(8);
    const l = f.levels.get('embedding')!;
    const kept = distinctViews(l, f.videos, f.count);
    assert.equal(kept.length, 4 * 1 + 4 * 3, 'even videos: one point; odd videos: three');
    const twins = { data: new Float32Array(12).fill(1), dim: 2 };
    assert.equal(distinctViews(twins, Int32Array.from([0, 0, 1, 1, 2, 2]), 6).length, 3);
    assert.equal(pointsText(f.videos, f.count, kept.length, kept.length), '8 videos, 24 clips (3 views each), 16 distinct points');
    assert.equal(pointsText(f.videos, f.count, f.count, 10), '8 videos, 24 clips (3 views each), a sample of 10 of 24 points');
    assert.equal(pointsText(Int32Array.from([0, 0, 1]), 3, 3, 3), '2 videos, 3 clips (1-2 views per video)');
  });

  test('SVG and PNG: a title that counts videos, axes with labels, a legend in the classes\' colours', () => {
    const dir = join(tmp.dir, 'pictures');
    const [p] = writePictures(features(8), dir, { methods: ['pca'] });
    assert.equal(p!.points, 16);
    assert.equal(p!.videos, 8);
    const svg = readFileSync(p!.svg, 'utf8');
    assert.match(svg, /<title>PCA of embedding features, test split: 8 videos, 24 clips \(3 views each\), 16 distinct points<\/title>/);
    assert.equal([...svg.matchAll(/<circle /g)].length, 16);
    for (const label of ['principal component 1', 'principal component 2', 'right', 'left', 'down', 'up']) assert.ok(svg.includes(`>${label}</text>`), label);

    const png = PNG.sync.read(readFileSync(p!.png!));
    assert.deepEqual([png.width, png.height], [960, 720]);
    const at = (x: number, y: number) => [png.data[(y * png.width + x) * 4]!, png.data[(y * png.width + x) * 4 + 1]!, png.data[(y * png.width + x) * 4 + 2]!];
    const count = (x0: number, y0: number, x1: number, y1: number, pred: (c: number[]) => boolean) => {
      let k = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (pred(at(x, y))) k++;
      return k;
    };
    const dark = (c: number[]) => c.every((v) => v < 100);
    assert.ok(count(0, 0, 960, 50, dark) > 500, 'a title in the top band');
    assert.ok(count(0, 690, 960, 720, dark) > 100, 'an x-axis label in the bottom band');
    assert.ok(count(0, 100, 40, 620, dark) > 100, 'a y-axis label along the left edge');
    for (let c = 0; c < 4; c++) {
      const rgb = hexRgb(classColour(c, 4));
      assert.ok(count(620, 60, 960, 300, (px) => px.every((v, i) => v === rgb[i])) >= 100, `a legend swatch of class ${c}`);
    }
  });
});
