// Run directories, feature extraction and validation: loadRun picks and checks checkpoints, features match the encoder
// graph run directly, the cache is keyed by checkpoint and split, the k-NN schedule, evaluateKnn from a run and the
// trainer's validation (k-NN and every level's spread) from the artifacts' encoder fed the same parameters.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { UserError } from '../../src/errors.ts';
import { DEFAULT_TEST_VIEWS, extractFeatures, featureKey, parseViews, runFeatures } from '../../src/eval/features.ts';
import { loadRun } from '../../src/eval/run.ts';
import { evaluateKnn, levelSpread, Validation } from '../../src/eval/validate.ts';
import { buildArtifacts } from '../../src/graph/artifacts.ts';
import { encoderGraph } from '../../src/graph/model/graphs.ts';
import { encodeModel } from '../../src/graph/onnx.ts';
import { createSession, toOrt } from '../../src/runtime/session.ts';
import { writeSafetensors } from '../../src/graph/safetensors.ts';
import { knnSchedule } from '../../src/train/schedule.ts';
import { checkpointTensors, makeRun, makeStore, tempDir, tinyConfig } from './fixtures.ts';
import { Loader } from '../../src/data/loader.ts';

const userError = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);

describe('k-NN schedule', () => {
  test('exponential: 1, b, b², … and the last; 1 = every epoch; linear: every N and the last; 0 = never', () => {
    const s = (schedule: 'exponential' | 'linear', every: number, epochs: number) => [...knnSchedule({ schedule, every }, epochs)].sort((a, b) => a - b);
    assert.deepEqual(s('exponential', 2, 20), [1, 2, 4, 8, 16, 20]);
    assert.deepEqual(s('exponential', 3, 27), [1, 3, 9, 27]);
    assert.deepEqual(s('exponential', 1, 4), [1, 2, 3, 4]);
    assert.deepEqual(s('linear', 3, 10), [3, 6, 9, 10]);
    assert.deepEqual(s('linear', 5, 10), [5, 10]);
    assert.deepEqual(s('linear', 0, 10), []);
    assert.deepEqual(s('exponential', 0, 10), []);
  });
});

describe('runs, features, validation', () => {
  const tmp = tempDir('eval-run');
  const store = join(tmp.dir, 'store');
  const runDir = join(tmp.dir, 'run');
  let config: ReturnType<typeof tinyConfig>;
  before(() => {
    makeStore(store, { perClass: 3, perClassTest: 2 });
    config = tinyConfig(store);
    makeRun(runDir, config);
  });
  after(() => tmp.cleanup());

  test('loadRun: best by default, then last; metadata; optimizer state ignored', () => {
    const r = loadRun(runDir);
    assert.equal(r.checkpoint.name, 'best');
    assert.equal(r.checkpoint.epoch, 2);
    assert.equal(r.checkpoint.step, 200);
    assert.ok(![...r.params.keys()].some((k) => k.endsWith('.momentum')));
    assert.equal(loadRun(runDir, { checkpoint: 'last' }).checkpoint.epoch, 3);
    assert.equal(loadRun(runDir, { checkpoint: join(runDir, 'checkpoints', 'last.safetensors') }).checkpoint.step, 300);
  });

  test('loadRun refuses a missing directory, config or checkpoint, a corrupt one and one of another config', () => {
    assert.throws(() => loadRun(join(tmp.dir, 'nope')), userError(/nope: no such run directory$/));
    assert.throws(() => loadRun(store), userError(/not a run directory \(no config\.yaml\)/));
    const bare = join(tmp.dir, 'bare');
    makeRun(bare, config, { best: false });
    assert.equal(loadRun(bare).checkpoint.name, 'last');
    assert.throws(() => loadRun(bare, { checkpoint: 'best' }), userError(/best\.safetensors: no such checkpoint/));
    assert.throws(() => loadRun(bare, { checkpoint: 'other.safetensors' }), userError(/^other\.safetensors: no such checkpoint/));
    writeFileSync(join(bare, 'checkpoints', 'last.safetensors'), 'garbage!garbage!');
    assert.throws(() => loadRun(bare), userError(/last\.safetensors: (truncated|corrupt)/));
    const t = checkpointTensors(config);
    t.delete('time.norm.weight');
    writeSafetensors(join(bare, 'checkpoints', 'last.safetensors'), t);
    assert.throws(() => loadRun(bare), userError(/missing 1 encoder tensor \("time\.norm\.weight"\) \(the checkpoint belongs to another config\)/));
    const wide = checkpointTensors(tinyConfig(store, ['arch.patch_dim=32']));
    writeSafetensors(join(bare, 'checkpoints', 'last.safetensors'), wide);
    assert.throws(() => loadRun(bare), userError(/tensor "space\.embed\.weight" is float32\[192,32\], the run's config expects float32\[192,64\]/));
  });

  test('features equal the encoder graph run with the same parameters; views, pooling, labels, videos', async () => {
    const run = loadRun(runDir);
    const f = await extractFeatures({ config: run.config, spec: run.spec, params: run.params, split: 'test', views: parseViews('--views', '3x1', config), batchSize: 5, threads: 1 });
    assert.equal(f.count, 8 * 3);
    assert.deepEqual([...f.levels.keys()], ['embedding', 'space', 'time']);
    assert.equal(f.levels.get('space')!.dim, 64);
    assert.deepEqual(Array.from(f.videos.subarray(0, 6)), [0, 0, 0, 1, 1, 1]);
    // The reference: encoderGraph with parameters fed as inputs, on the loader's first batch.
    const tg = encoderGraph(run.spec, run.config.train.seed);
    const s = await createSession(encodeModel(tg.builder.graph).model, { threads: 1 });
    const loader = new Loader({ store, split: 'test', clip: { length: 8, stride: 1 }, height: 32, width: 32, batchSize: 4, seed: 0, sampler: { kind: 'multiview', temporal: 3, spatial: 1 }, augment: null, workers: 0, normalize: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } });
    const batch = await loader.next();
    await loader.close();
    const feeds: Record<string, ort.Tensor> = { video: new ort.Tensor('float32', batch.x, batch.shape) };
    for (const [k, t] of run.params) feeds[k] = toOrt(t);
    const out = await s.run(feeds);
    const emb = out.embedding!.data as Float32Array;
    let diff = 0;
    for (let i = 0; i < emb.length; i++) diff = Math.max(diff, Math.abs(emb[i]! - f.levels.get('embedding')!.data[i]!));
    assert.ok(diff < 1e-5, `max abs diff ${diff}`);
    // level.space (B, 8, 64) pooled by the mean over its 8 frames.
    const sp = out['level.space']!.data as Float32Array;
    let m = 0;
    for (let t = 0; t < 8; t++) m += sp[t * 64 + 5]!;
    assert.ok(Math.abs(m / 8 - f.levels.get('space')!.data[5]!) < 1e-5);
    const flat = await extractFeatures({ config: run.config, spec: run.spec, params: run.params, split: 'test', views: parseViews('--views', '1', config), pool: 'flat', threads: 1 });
    assert.equal(flat.levels.get('space')!.dim, 8 * 64);
    assert.equal(flat.count, 8);
  });

  test('the feature cache is keyed by checkpoint, split and time reversal', async () => {
    const run = loadRun(runDir);
    const views = parseViews('--views', '1x1', config);
    const a = await runFeatures(run, { split: 'train', views, threads: 1 });
    assert.equal(a.cached, false);
    const b = await runFeatures(run, { split: 'train', views, threads: 1 });
    assert.equal(b.cached, true);
    assert.deepEqual(b.levels.get('embedding')!.data, a.levels.get('embedding')!.data);
    assert.deepEqual(b.videos, a.videos);
    const c = await runFeatures(loadRun(runDir, { checkpoint: 'last' }), { split: 'train', views, threads: 1 });
    assert.equal(c.cached, false, 'last is another file (its metadata differs), so another entry');
    assert.deepEqual(c.levels.get('embedding')!.data, a.levels.get('embedding')!.data);
    const other = join(runDir, 'checkpoints', 'other.safetensors');
    writeSafetensors(other, checkpointTensors(config, 0.5, 9));
    const d = await runFeatures(loadRun(runDir, { checkpoint: other }), { split: 'train', views, threads: 1 });
    assert.equal(d.cached, false);
    assert.notDeepEqual(d.levels.get('embedding')!.data, a.levels.get('embedding')!.data);
    assert.equal(readdirSync(join(runDir, 'features')).length, 3);
    const reversed = await runFeatures(run, { split: 'train', views, threads: 1, reverseTime: true });
    assert.equal(reversed.cached, false, 'clips reversed in time are another entry');
    assert.notDeepEqual(reversed.levels.get('embedding')!.data, a.levels.get('embedding')!.data);
    assert.equal(featureKey(run, 'train', views, 'mean', store, false), featureKey(run, 'train', views, 'mean', store), 'forward time keeps the keys of earlier caches');
    assert.equal(readdirSync(join(runDir, 'features')).length, 4);
  });

  test('evaluateKnn from a run directory and the validation from the artifacts\' encoder fed its parameters agree', async () => {
    const fromDir = await evaluateKnn(runDir, { k: [1, 5], threads: 1 });
    assert.deepEqual(fromDir.splits, { train: 'train', test: 'test' });
    assert.equal(fromDir.results[0]!.clip.count, 24);
    assert.equal(fromDir.results[0]!.video.count, 8);
    assert.equal(fromDir.top1, fromDir.results[0]!.clip.top1);
    await assert.rejects(() => evaluateKnn(runDir, { level: 'clip' }), userError(/^--level: unknown level "clip" \(this encoder has embedding, space, time\)/));

    const run = loadRun(runDir);
    const m = buildArtifacts(run.config, run.hash, join(tmp.dir, 'artifacts'));
    await using validation = await Validation.open({ ...run.config, eval: { ...run.config.eval, knn: { ...run.config.eval.knn, k: [1, 5] } } }, join(tmp.dir, 'artifacts', m.graphs.encoder!.file), { threads: 1 });
    const params = new Map([...run.params].map(([k, t]) => [k, toOrt(t)]));
    for (let i = 0; i < 2; i++) {
      const inTraining = await validation.knn(params);
      assert.deepEqual(inTraining.results.map((r) => [r.k, r.clip.count, r.video.count]), fromDir.results.map((r) => [r.k, r.clip.count, r.video.count]));
      for (const [a, b] of inTraining.results.map((r, k) => [r, fromDir.results[k]!] as const)) {
        // Parameters fed as inputs or baked in as initializers: the same features up to rounding, the same neighbours.
        assert.ok(Math.abs(a.clip.top1 - b.clip.top1) <= 100 / 24 && Math.abs(a.video.top1 - b.video.top1) <= 100 / 8, `k=${a.k}: ${a.clip.top1} vs ${b.clip.top1}`);
      }
      // Every level's spread over the same 24 test clips, from one encoder run per batch.
      const spread = levelSpread(await runFeatures(run, { split: 'test', views: DEFAULT_TEST_VIEWS, threads: 1 }));
      assert.deepEqual(Object.keys(inTraining.levels), ['embedding', 'level.space', 'level.time']);
      for (const [name, l] of Object.entries(inTraining.levels)) {
        const want = spread[name]!;
        assert.equal(l.dim, want.dim);
        assert.ok(Math.abs(l.erank - want.erank) <= 1e-3 * want.erank && Math.abs(l.std - want.std) <= 1e-3 * want.std, `${name}: ${JSON.stringify(l)} vs ${JSON.stringify(want)}`);
      }
    }
    params.delete('space.embed.bias');
    await assert.rejects(() => validation.knn(params), /missing feeds \[space\.embed\.bias\]/);
  });

  test('a copied checkpoint keeps working; the cache directory stays inside the run', () => {
    copyFileSync(join(runDir, 'checkpoints', 'best.safetensors'), join(runDir, 'checkpoints', 'copy.safetensors'));
    assert.equal(loadRun(runDir, { checkpoint: 'copy' }).checkpoint.name, 'copy');
    assert.ok(existsSync(join(runDir, 'features')));
  });
});
