import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../../src/rng.ts';
import { DEFAULT_AUGMENT, drawParams, evalParams, IMAGENET, renderClip, type AugmentConfig } from '../../src/data/augment.ts';
import { clipFrames, multiView, randomCrops, slidingWindows, span, viewBox } from '../../src/data/sampling.ts';

describe('clip sampling', () => {
  const clip = { length: 4, stride: 3 }; // span (4−1)·3 + 1 = 10 raw frames

  it('sliding windows: every start 0, Δ, 2Δ … ≤ n − span; shorter videos are reported', () => {
    assert.equal(span(clip), 10);
    const s = slidingWindows([12, 9, 10], clip, 2);
    assert.deepEqual(s.items.map((i) => [i.video, i.start]), [[0, 0], [0, 2], [2, 0]]);
    assert.deepEqual(s.short, [1]);
    assert.deepEqual(Array.from(clipFrames(clip, 2, 12)), [2, 5, 8, 11]);
  });

  it('random crops: fixed epoch length, every usable video once per cycle, starts within range, seeded', () => {
    const frames = [30, 10, 5, 50];
    const a = randomCrops(frames, clip, 9, Rng.fromSeed(3, 'e'));
    assert.equal(a.items.length, 9);
    assert.deepEqual(a.short, [2]);
    assert.deepEqual(a.items.slice(0, 3).map((i) => i.video).sort(), [0, 1, 3]);
    for (const it of a.items) assert.ok(it.start >= 0 && it.start <= frames[it.video]! - 10);
    assert.deepEqual(randomCrops(frames, clip, 9, Rng.fromSeed(3, 'e')).items, a.items);
    const padded = randomCrops(frames, clip, 8, Rng.fromSeed(3, 'e'), true);
    assert.ok(padded.items.some((i) => i.video === 2));
    assert.deepEqual(Array.from(clipFrames(clip, 0, 5)), [0, 3, 4, 4]);
  });

  it('multi-view: N temporal starts spread over [0, n − span] × spatial views', () => {
    const m = multiView([20, 9], clip, 3, 3);
    assert.deepEqual(m.items.map((i) => `${i.start}/${i.view}`), ['0/0', '0/1', '0/2', '5/0', '5/1', '5/2', '10/0', '10/1', '10/2']);
    assert.deepEqual(m.short, [1]);
    assert.deepEqual(multiView([20], clip, 1, 1).items, [{ video: 0, start: 5, view: 0 }]);
    assert.deepEqual([0, 1, 2].map((v) => viewBox(24, 32, 8, 8, v, 3)), [
      { x: 0, y: 0, w: 24, h: 24 }, { x: 4, y: 0, w: 24, h: 24 }, { x: 8, y: 0, w: 24, h: 24 },
    ]);
  });
});

describe('augmentation', () => {
  const L = 3, H = 24, W = 32;
  const src = Uint8Array.from({ length: L * H * W * 3 }, (_, i) => (i * 37 + (i >> 7)) & 255);
  const render = (cfg: AugmentConfig | null, seed: number, oh = 16, ow = 16) => {
    const p = cfg ? drawParams(Rng.fromSeed(seed, 'aug'), H, W, oh, ow, cfg) : evalParams(H, W, oh, ow);
    const out = new Float32Array(L * oh * ow * 3);
    renderClip(src, L, H, W, p, oh, ow, IMAGENET, out, 0);
    return { p, out };
  };
  const always: AugmentConfig = {
    ...DEFAULT_AUGMENT,
    jitter: { ...DEFAULT_AUGMENT.jitter, p: 1 }, grayscale: { p: 0 }, blur: { ...DEFAULT_AUGMENT.blur, p: 1 }, flip: { p: 1 },
  };

  it('same seed gives the same bytes; another seed gives others', () => {
    for (const cfg of [DEFAULT_AUGMENT, always]) {
      assert.deepEqual(Buffer.from(render(cfg, 7).out.buffer), Buffer.from(render(cfg, 7).out.buffer));
      assert.notDeepEqual(Buffer.from(render(cfg, 7).out.buffer), Buffer.from(render(cfg, 8).out.buffer));
    }
  });

  it('normalises always: an identity view gives (x/255 − mean)/std exactly', () => {
    const { out } = render(null, 0, H, W);
    for (const i of [0, 1, 2, 1000, src.length - 1]) {
      const c = i % 3;
      assert.ok(Math.abs(out[i]! - (src[i]! / 255 - IMAGENET.mean[c]!) / IMAGENET.std[c]!) < 1e-5);
    }
  });

  it('the same crop, flip and colour parameters apply to every frame of the clip', () => {
    const same = Uint8Array.from({ length: L * H * W * 3 }, (_, i) => src[i % (H * W * 3)]!);
    const p = drawParams(Rng.fromSeed(1, 'x'), H, W, 16, 16, always);
    const out = new Float32Array(L * 16 * 16 * 3);
    renderClip(same, L, H, W, p, 16, 16, IMAGENET, out, 0);
    const n = 16 * 16 * 3;
    assert.deepEqual(out.subarray(0, n), out.subarray(n, 2 * n));
    assert.deepEqual(out.subarray(0, n), out.subarray(2 * n, 3 * n));
  });

  it('horizontal flip mirrors the rows; grayscale equalises the channels', () => {
    const base = evalParams(H, W, H, W);
    const a = new Float32Array(L * H * W * 3);
    const b = new Float32Array(L * H * W * 3);
    renderClip(src, L, H, W, base, H, W, IMAGENET, a, 0);
    renderClip(src, L, H, W, { ...base, flip: true }, H, W, IMAGENET, b, 0);
    for (const [y, x, c] of [[0, 0, 0], [5, 7, 2], [23, 31, 1]] as const) assert.equal(b[(y * W + x) * 3 + c], a[(y * W + (W - 1 - x)) * 3 + c]);
    const g = new Float32Array(L * H * W * 3);
    renderClip(src, L, H, W, { ...base, gray: true }, H, W, { mean: [0, 0, 0], std: [1, 1, 1] }, g, 0);
    for (let i = 0; i < 300; i += 3) assert.ok(g[i] === g[i + 1] && g[i] === g[i + 2]);
  });

  it('random resized crops stay inside the frame with an area within the scale range', () => {
    const rng = Rng.fromSeed(5);
    for (let k = 0; k < 200; k++) {
      const { box } = drawParams(rng, H, W, 16, 16, DEFAULT_AUGMENT);
      assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.w <= W && box.y + box.h <= H);
      const area = (box.w * box.h) / (H * W);
      assert.ok(area > 0.6 && area < 1.01, `area ${area}`);
    }
  });

  it('hue shift by a full turn and unit jitter factors leave pixels unchanged', () => {
    const base = evalParams(H, W, H, W);
    const a = new Float32Array(L * H * W * 3);
    const b = new Float32Array(L * H * W * 3);
    renderClip(src, L, H, W, base, H, W, IMAGENET, a, 0);
    renderClip(src, L, H, W, { ...base, jitter: { order: [3, 1, 0, 2], brightness: 1, contrast: 1, saturation: 1, hue: 0 } }, H, W, IMAGENET, b, 0);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-4);
  });
});
