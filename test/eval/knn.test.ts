// Weighted k-NN against answers worked out by hand: 2-D features at known angles, so every similarity is a cosine of
// a known angle difference; several k, the temperature, top-5 ranks, video-level voting, ties, and bad inputs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserError } from '../../src/errors.ts';
import { knnClassify, nearestNeighbours, l2Normalize, type LabeledFeatures } from '../../src/eval/knn.ts';
import { Rng } from '../../src/rng.ts';

const rad = (deg: number) => (deg * Math.PI) / 180;
/** Rows at the given angles, with lengths that differ (the classifier normalises). */
const at = (angles: number[]) => Float32Array.from(angles.flatMap((a, i) => [(1 + i) * Math.cos(rad(a)), (1 + i) * Math.sin(rad(a))]));

// Train: a 0° (class 0), b 30° and c 40° (class 1), d 90° (class 2), e 180° (class 0).
const train: LabeledFeatures = { features: at([0, 30, 40, 90, 180]), dim: 2, labels: Int32Array.of(0, 1, 1, 2, 0) };
// Test: q0 5° (0, video 0), q1 33° (1, video 1), q2 62° and q3 80° (both class 2, video 2).
const test_: LabeledFeatures = { features: at([5, 33, 62, 80]), dim: 2, labels: Int32Array.of(0, 1, 2, 2), videos: Int32Array.of(10, 11, 12, 12) };

describe('k-NN, answers worked out by hand', () => {
  test('k = 1 and k = 3 at T = 0.07: clip and video accuracy', async () => {
    const [k1, k3] = await knnClassify(train, test_, { k: [1, 3], temperature: 0.07 });
    // k = 1: q0 → a ✓, q1 → b ✓, q2 → c (class 1) ✗, q3 → d ✓.
    assert.deepEqual(k1!.clip, { top1: 75, top5: 100, count: 4 });
    // Video 12: q2 votes class 1, q3 class 2, each with weight 1/1 → a 0.5/0.5 tie, broken to the lower class (1): ✗.
    assert.equal(k1!.video.count, 3);
    assert.equal(k1!.video.top1, 200 / 3);
    // k = 3: q0: a 1, b e^{(cos25°−cos5°)/T} = 0.277, c 0.080 → class 0 ✓. q2: c 1 + b 0.323 (class 1) vs d 0.531 ✗.
    assert.deepEqual(k3!.clip, { top1: 75, top5: 100, count: 4 });
    // Video 12 at k = 3: q2's normalised votes (0.714 class 1, 0.286 class 2) + q3's (0.049, 0.951) → class 2 ✓.
    assert.deepEqual(k3!.video, { top1: 100, top5: 100, count: 3 });
  });

  test('the temperature matters: at T = 1 the two class-1 neighbours of q0 outvote its nearest', async () => {
    // q0, k = 3, T = 1: class 0 gets 1, class 1 gets e^{cos25°−cos5°} + e^{cos35°−cos5°} = 0.914 + 0.838 = 1.752.
    const [r] = await knnClassify({ ...train }, { features: at([5]), dim: 2, labels: Int32Array.of(0) }, { k: [3], temperature: 1 });
    assert.equal(r!.clip.top1, 0);
    const [s] = await knnClassify({ ...train }, { features: at([5]), dim: 2, labels: Int32Array.of(1) }, { k: [3], temperature: 1 });
    assert.equal(s!.clip.top1, 100);
  });

  test('top-5: the true class ranked 5th counts, ranked 6th does not', async () => {
    // Seven train points at 0°, 10°, …, 60° of classes 0…6; a query at −1° ranks the classes 0, 1, …, 6 by distance.
    const t: LabeledFeatures = { features: at([0, 10, 20, 30, 40, 50, 60]), dim: 2, labels: Int32Array.of(0, 1, 2, 3, 4, 5, 6) };
    const q = (label: number): LabeledFeatures => ({ features: at([-1]), dim: 2, labels: Int32Array.of(label) });
    const [fifth] = await knnClassify(t, q(4), { k: [7] });
    assert.deepEqual([fifth!.clip.top1, fifth!.clip.top5], [0, 100]);
    const [sixth] = await knnClassify(t, q(5), { k: [7] });
    assert.deepEqual([sixth!.clip.top1, sixth!.clip.top5], [0, 0]);
  });

  test('k larger than the train set uses every train row', async () => {
    const [r] = await knnClassify(train, test_, { k: [50], temperature: 0.07 });
    assert.equal(r!.k, 50);
    assert.equal(r!.clip.count, 4);
  });

  test('neighbours: exact, ties keep the lower index, the same for every chunk size and both engines', async () => {
    const rng = Rng.fromSeed(3);
    const D = 8;
    // Integer features with many exact ties.
    const bank = Float32Array.from({ length: 300 * D }, () => rng.int(3));
    const queries = Float32Array.from({ length: 41 * D }, () => rng.int(3));
    const brute = (qi: number, k: number) => {
      const s = Array.from({ length: 300 }, (_, j) => {
        let v = 0;
        for (let d = 0; d < D; d++) v += queries[qi * D + d]! * bank[j * D + d]!;
        return { v: Math.fround(v), j };
      });
      s.sort((x, y) => y.v - x.v || x.j - y.j);
      return s.slice(0, k).map((x) => x.j);
    };
    const ref = await nearestNeighbours(bank, queries, D, 10, { engine: 'js' });
    for (let q = 0; q < 41; q++) assert.deepEqual(Array.from(ref.index.subarray(q * 10, q * 10 + 10)), brute(q, 10), `query ${q}`);
    for (const o of [{ engine: 'ort' as const }, { engine: 'ort' as const, chunkRows: 1 }, { engine: 'ort' as const, chunkRows: 7 }, { engine: 'js' as const, chunkRows: 5 }]) {
      const r = await nearestNeighbours(bank, queries, D, 10, o);
      assert.deepEqual(r.index, ref.index, JSON.stringify(o));
      assert.deepEqual(r.sims, ref.sims, JSON.stringify(o));
    }
  });

  test('l2Normalize leaves a zero row at zero', () => {
    assert.deepEqual(l2Normalize(Float32Array.of(3, 4, 0, 0), 2), Float32Array.of(0.6, 0.8, 0, 0));
  });
});

describe('k-NN rejects bad input with one clear message', () => {
  const reject = async (f: () => Promise<unknown>, message: RegExp) => assert.rejects(f, (e: unknown) => e instanceof UserError && message.test(e.message));

  test('mismatched feature and label counts', async () => {
    await reject(() => knnClassify({ ...train, labels: Int32Array.of(0, 1) }, test_), /^train features: 5 feature rows but 2 labels/);
    await reject(() => knnClassify(train, { ...test_, labels: Int32Array.of(0, 1, 2, 2, 1) }), /^test features: 4 feature rows but 5 labels/);
    await reject(() => knnClassify(train, { ...test_, videos: Int32Array.of(1) }), /^test features: 4 feature rows but 1 video indices/);
  });

  test('ragged features, other dimensions, bad k and T, labels outside the classes', async () => {
    await reject(() => knnClassify({ ...train, features: train.features.subarray(1) }, test_), /not a whole number of 2-dimensional rows/);
    await reject(() => knnClassify(train, { features: new Float32Array(6), dim: 3, labels: Int32Array.of(0, 0) }), /dimension 3 differs from the train features' 2/);
    await reject(() => knnClassify(train, test_, { k: [0] }), /^k: expected positive integers/);
    await reject(() => knnClassify(train, test_, { temperature: 0 }), /^temperature: expected a positive number/);
    await reject(() => knnClassify(train, { ...test_, labels: Int32Array.of(0, 1, -1, 2) }), /label -1 of row 2 is outside \[0, 3\)/);
    await reject(() => knnClassify(train, test_, { numClasses: 2 }), /label 2 of row 3 is outside \[0, 2\)/);
  });
});
