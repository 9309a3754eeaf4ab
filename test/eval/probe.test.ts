// The linear probe, trained with vhssl's own ONNX graphs: 100 % on linearly separable features (clip and video level),
// the MLP head too, its loss going down, video-level averaging, and bad inputs refused with a clear message.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserError } from '../../src/errors.ts';
import type { LabeledFeatures } from '../../src/eval/knn.ts';
import { linearProbe, scoreAccuracy } from '../../src/eval/probe.ts';
import { Rng } from '../../src/rng.ts';

/** n points per class around K well-separated centres in D dimensions, with a common large offset and scale. */
function separable(rng: Rng, K: number, n: number, D: number, views = 1): LabeledFeatures {
  const centres = Array.from({ length: K }, (_, k) => Array.from({ length: D }, (_, d) => (d === k % D ? 4 : 0) + (d === (k + 1) % D ? (k >= D ? 4 : 0) : 0)));
  const f: number[] = [];
  const labels: number[] = [];
  const videos: number[] = [];
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < n; i++) {
      for (let v = 0; v < views; v++) {
        for (let d = 0; d < D; d++) f.push(50 + 10 * (centres[k]![d]! + 0.3 * rng.normal()));
        labels.push(k);
        videos.push(k * n + i);
      }
    }
  }
  return { features: Float32Array.from(f), dim: D, labels: Int32Array.from(labels), videos: Int32Array.from(videos) };
}

describe('linear probe', () => {
  test('reaches 100 % on linearly separable features, clip and video level', async () => {
    const rng = Rng.fromSeed(7);
    const train = separable(rng, 5, 40, 8);
    const test_ = separable(rng, 5, 10, 8, 3);
    const r = await linearProbe(train, test_, { epochs: 20, lr: 0.1, batchSize: 32, threads: 1 });
    assert.equal(r.clip.top1, 100);
    assert.equal(r.video.top1, 100);
    assert.equal(r.clip.count, 150);
    assert.equal(r.video.count, 50);
    assert.ok(r.losses[r.losses.length - 1]! < r.losses[0]! / 4, `loss ${r.losses.join(', ')}`);
    assert.deepEqual([...r.head.keys()].sort(), ['head.linear.bias', 'head.linear.weight']);
  });

  test('an MLP head too', async () => {
    const rng = Rng.fromSeed(8);
    const r = await linearProbe(separable(rng, 4, 30, 6), separable(rng, 4, 10, 6), { epochs: 20, batchSize: 24, hidden: 16, threads: 1 });
    assert.equal(r.clip.top1, 100);
    assert.deepEqual([...r.head.keys()].sort(), ['head.fc1.bias', 'head.fc1.weight', 'head.fc2.bias', 'head.fc2.weight']);
  });

  test('video accuracy averages the scores of its views', () => {
    // Two views of video 0 (label 1): one confidently wrong, one more confidently right.
    const scores = Float32Array.of(-0.1, -3, /* */ -5, -0.01, /* */ -0.2, -2);
    const r = scoreAccuracy(scores, 2, Int32Array.of(1, 1, 0), Int32Array.of(0, 0, 1));
    assert.deepEqual(r.clip, { top1: 200 / 3, top5: 100, count: 3 });
    assert.deepEqual(r.video, { top1: 100, top5: 100, count: 2 });
  });

  test('rejects mismatched feature and label counts, and unlabelled clips', async () => {
    const rng = Rng.fromSeed(9);
    const good = separable(rng, 2, 4, 3);
    const reject = (f: () => Promise<unknown>, re: RegExp) => assert.rejects(f, (e: unknown) => e instanceof UserError && re.test(e.message));
    await reject(() => linearProbe({ ...good, labels: good.labels.subarray(1) }, good), /^train features: 8 feature rows but 7 labels/);
    await reject(() => linearProbe(good, { ...good, features: good.features.subarray(3) }), /^test features: 7 feature rows but 8 labels/);
    await reject(() => linearProbe(good, { ...good, labels: Int32Array.from(good.labels, () => -1) }), /^labels: label -1: the probe needs labelled clips/);
  });
});
