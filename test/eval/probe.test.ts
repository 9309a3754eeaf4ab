// The linear probe, trained with vhssl's own ONNX graphs: 100 % on linearly separable features (clip and video level),
// the MLP head too, its loss going down; with its defaults it converges on a few hundred ill-conditioned features (a
// dominant direction, as SSL features have), and its plan takes enough steps on small and large sets; the whitening is
// exact; the same seed gives the same head; video-level averaging; bad inputs refused with a clear message.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserError } from '../../src/errors.ts';
import type { LabeledFeatures } from '../../src/eval/knn.ts';
import { inverseCholesky, linearProbe, PROBE_DEFAULTS, PROBE_MIN_STEPS, probePlan, scoreAccuracy, WHITEN_MAX_DIM, whitener } from '../../src/eval/probe.ts';
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

/**
 * n points in D dimensions around K random centres (unit-variance noise), linearly separable, plus one direction
 * shared by every dimension with `nuisance` times their spread: after per-dimension standardisation the classes hold
 * 1/nuisance² of the variance, and plain SGD crawls.
 */
function illConditioned(rng: Rng, centres: number[][], n: number, nuisance: number): LabeledFeatures {
  const [K, D] = [centres.length, centres[0]!.length];
  const features = new Float32Array(n * D);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = nuisance * rng.normal();
    labels[i] = i % K;
    for (let d = 0; d < D; d++) features[i * D + d] = 3 + centres[i % K]![d]! + a + rng.normal();
  }
  return { features, dim: D, labels };
}

/** Mean and covariance (D, D) of (n, D) rows, in float64. */
function covariance(x: Float32Array, D: number): Float64Array {
  const n = x.length / D;
  const mean = new Float64Array(D);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) mean[d]! += x[i * D + d]! / n;
  const c = new Float64Array(D * D);
  for (let i = 0; i < n; i++) for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) c[a * D + b]! += ((x[i * D + a]! - mean[a]!) * (x[i * D + b]! - mean[b]!)) / n;
  return c;
}

describe('linear probe', () => {
  test('with its defaults it converges on 320 separable, ill-conditioned features: 100 % on the test set', async () => {
    const rng = Rng.fromSeed(1);
    const centres = Array.from({ length: 8 }, () => Array.from({ length: 64 }, () => rng.normal()));
    const train = illConditioned(rng, centres, 320, 30);
    const test_ = illConditioned(rng, centres, 320, 30);
    // The config's defaults: 15 epochs, lr 0.1, batch 512 (one full-batch step per epoch before the plan).
    const r = await linearProbe(train, test_, { threads: 1 });
    assert.deepEqual(r.plan, { batchSize: 32, stepsPerEpoch: 10, epochs: 200, steps: 2000 });
    assert.equal(r.whitened, true);
    assert.equal(r.clip.top1, 100, `losses ${r.losses.filter((_, i) => i % 20 === 0).map((l) => l.toFixed(3)).join(' ')}`);
    assert.ok(r.losses.at(-1)! < 0.05, `final training loss ${r.losses.at(-1)}`);
  });

  test('its plan: enough steps per epoch and in all, on small and large sets', () => {
    const plan = (n: number, epochs: number = PROBE_DEFAULTS.epochs, batchSize: number = PROBE_DEFAULTS.batchSize) => probePlan(n, { epochs, batchSize });
    assert.equal(PROBE_MIN_STEPS, 2000);
    assert.deepEqual(plan(320), { batchSize: 32, stepsPerEpoch: 10, epochs: 200, steps: 2000 });
    assert.deepEqual(plan(800, 5, 64), { batchSize: 64, stepsPerEpoch: 12, epochs: 167, steps: 2004 });
    assert.deepEqual(plan(20_000), { batchSize: 512, stepsPerEpoch: 39, epochs: 52, steps: 2028 });
    assert.deepEqual(plan(240_000), { batchSize: 512, stepsPerEpoch: 468, epochs: 15, steps: 7020 }, 'a large set: the epochs asked');
    assert.deepEqual(plan(7), { batchSize: 1, stepsPerEpoch: 7, epochs: 286, steps: 2002 });
  });

  test('the whitening: correlated train features come out with identity covariance (up to the ridge); L⁻¹ is exact', async () => {
    const rng = Rng.fromSeed(3);
    const [n, D] = [400, 6];
    const x = new Float32Array(n * D);
    for (let i = 0; i < n; i++) {
      // correlations ≈ 0.95 (one common factor), scales 1 to 6, offset 100: the correlation matrix's least
      // eigenvalue is ≈ 0.03, well above the ridge
      const z = [rng.normal(), rng.normal(), rng.normal()];
      for (let d = 0; d < D; d++) x[i * D + d] = 100 + (d + 1) * (3 * z[0]! + 0.5 * z[d % 3]! + 0.5 * rng.normal());
    }
    const wh = await whitener(x, D, { threads: 1 });
    assert.equal(wh.whitened, true);
    const c = covariance(await wh.map(x), D);
    for (let a = 0; a < D; a++) {
      for (let b = 0; b < D; b++) {
        const want = a === b ? 1 : 0;
        assert.ok(Math.abs(c[a * D + b]! - want) < 0.05, `cov[${a}][${b}] = ${c[a * D + b]}`);
      }
    }
    const A = Float64Array.of(4, 2, 0.4, 2, 5, 1, 0.4, 1, 3);
    const li = inverseCholesky(A, 3);
    // L⁻¹ A L⁻ᵀ = I
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) for (let l = 0; l < 3; l++) s += li[i * 3 + k]! * A[k * 3 + l]! * li[j * 3 + l]!;
        assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12, `(${i}, ${j}): ${s}`);
      }
    }
    assert.throws(() => inverseCholesky(Float64Array.of(1, 2, 2, 1), 2), /^Error: inverseCholesky: the matrix is not positive definite \(pivot 1 is -3\)$/);
  });

  test('features of more than WHITEN_MAX_DIM dimensions are standardised per dimension only', async () => {
    const [n, D] = [10, WHITEN_MAX_DIM + 1];
    const rng = Rng.fromSeed(6);
    const x = Float32Array.from({ length: n * D }, (_, i) => 7 + ((i % D) + 1) * rng.normal());
    const wh = await whitener(x, D, { threads: 1 });
    assert.equal(wh.whitened, false);
    const y = await wh.map(x);
    for (const d of [0, 1, D - 1]) {
      const col = Array.from({ length: n }, (_, i) => y[i * D + d]!);
      const mean = col.reduce((a, b) => a + b, 0) / n;
      const sd = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
      assert.ok(Math.abs(mean) < 1e-5 && Math.abs(sd - 1) < 1e-5, `dimension ${d}: mean ${mean}, std ${sd}`);
    }
  });

  test('the same seed gives the same head, bit for bit', async () => {
    const rng = Rng.fromSeed(4);
    const [train, test_] = [separable(rng, 3, 12, 4), separable(rng, 3, 4, 4)];
    const [a, b] = [await linearProbe(train, test_, { seed: 5, threads: 1 }), await linearProbe(train, test_, { seed: 5, threads: 1 })];
    assert.deepEqual(a.losses, b.losses);
    for (const [name, t] of a.head) assert.deepEqual(t.data, b.head.get(name)!.data, name);
  });

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
    const nan = Float32Array.from(good.features);
    nan[7] = Number.NaN;
    await reject(() => linearProbe({ ...good, features: nan }, good), /^train features: row 2, dimension 1 is NaN \(the probe needs finite features\)$/);
    await reject(() => linearProbe(good, { ...good, features: nan.map((v) => (Number.isNaN(v) ? Infinity : v)) }), /^test features: row 2, dimension 1 is Infinity/);
  });
});
