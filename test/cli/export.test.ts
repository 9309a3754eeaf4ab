// `vhssl export` end to end: the exported encoder's outputs equal the encoder graph run with the same parameters fed
// as inputs (max abs diff printed, < 1e-4 in float32), it loads with plain onnxruntime-node in a process that has no
// vhssl code, its batch is dynamic, its metadata says how to feed it; float16 weights; one-line errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { cli } from '../data/helpers.ts';
import { exportEncoder } from '../../src/eval/export.ts';
import { loadRun } from '../../src/eval/run.ts';
import { checkpointTensors, makeRun, makeStore, tempDir, tinyConfig } from '../eval/fixtures.ts';
import { modelSpec } from '../../src/graph/model/from-config.ts';
import { encoderGraph } from '../../src/graph/model/graphs.ts';
import { decodeModel, encodeModel } from '../../src/graph/onnx.ts';
import { Rng } from '../../src/rng.ts';
import { vhssl } from './run.ts';

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('vhssl export', () => {
  const tmp = tempDir('export');
  const runDir = join(tmp.dir, 'run');
  const file = join(tmp.dir, 'out', 'encoder.onnx');
  let config: ReturnType<typeof tinyConfig>;
  before(() => {
    config = tinyConfig(makeStore(join(tmp.dir, 'store'), { perClass: 1, perClassTest: 1 }));
    makeRun(runDir, config, { noise: 0.3 });
  });
  after(() => tmp.cleanup());

  /** The reference: encoderGraph with parameters and buffers as inputs, fed the checkpoint's values. */
  async function reference(video: Float32Array, B: number): Promise<Record<string, Float32Array>> {
    const tg = encoderGraph(modelSpec(config, 1), config.train.seed);
    const s = await ort.InferenceSession.create(encodeModel(tg.builder.graph).model, { intraOpNumThreads: 1 });
    const feeds: Record<string, ort.Tensor> = { video: new ort.Tensor('float32', video, [B, 8, 32, 32, 3]) };
    for (const [k, t] of checkpointTensors(config, 0.3)) feeds[k] = new ort.Tensor('float32', t.data as Float32Array, t.shape as number[]);
    const out = await s.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  }

  const input = (B: number, seed: number) => {
    const rng = Rng.fromSeed(seed);
    return Float32Array.from({ length: B * 8 * 32 * 32 * 3 }, () => rng.normal());
  };

  test('outputs equal the encoder graph with the same parameters, for two batch sizes; every level with --levels', async (t) => {
    const r = vhssl(['export', '--run', runDir, '--out', file, '--levels']);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /encoder\.onnx: [\d.]+ KiB, outputs embedding, level\.space, level\.time; checkpoint best \(step 200\), config [0-9a-f]{16}\n$/);
    const session = await ort.InferenceSession.create(file);
    assert.deepEqual(session.inputNames, ['video']);
    assert.deepEqual(session.outputNames, ['embedding', 'level.space', 'level.time']);
    for (const B of [1, 3]) {
      const video = input(B, B);
      const out = await session.run({ video: new ort.Tensor('float32', video, [B, 8, 32, 32, 3]) });
      const ref = await reference(video, B);
      assert.deepEqual(out.embedding!.dims, [B, 64]);
      assert.deepEqual(out['level.space']!.dims, [B, 8, 64]);
      for (const name of ['embedding', 'level.space', 'level.time']) {
        const diff = maxAbsDiff(out[name]!.data as Float32Array, ref[name]!);
        t.diagnostic(`batch ${B} ${name}: max abs diff ${diff.toExponential(2)} against the encoder graph`);
        assert.ok(diff < 1e-4, `${name}: max abs diff ${diff}`);
      }
    }
  });

  test('loads and runs in a process with nothing but onnxruntime-node; dynamic batch in the file', () => {
    const script = join(tmp.dir, 'plain.mjs');
    writeFileSync(script, [
      `import * as ort from ${JSON.stringify(import.meta.resolve('onnxruntime-node'))};`,
      `const s = await ort.InferenceSession.create(${JSON.stringify(file)});`,
      'const dims = [];',
      'for (const B of [2, 5]) {',
      '  const out = await s.run({ video: new ort.Tensor("float32", new Float32Array(B * 8 * 32 * 32 * 3).fill(0.5), [B, 8, 32, 32, 3]) });',
      '  dims.push(out.embedding.dims.join("x"));',
      '}',
      'console.log(dims.join(" "));',
    ].join('\n'));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, '2x64 5x64\n');
    const g = decodeModel(readFileSync(file)).graph!;
    const type = g.input[0]!.type!.value;
    assert.equal(type.case, 'tensorType');
    const dims = type.case === 'tensorType' ? type.value.shape!.dim.map((d) => d.value.value) : [];
    assert.deepEqual(dims, ['B', 8n, 32n, 32n, 3n]);
    assert.equal(g.initializer.length > 50, true, 'weights are initializers');
  });

  test('metadata: layout, size, frames, normalisation, config hash, version, checkpoint', () => {
    const meta = Object.fromEntries(decodeModel(readFileSync(file)).metadataProps.map((e) => [e.key, e.value]));
    assert.equal(meta['input.layout'], 'B,F,H,W,3 float32 normalised RGB');
    assert.deepEqual([meta['input.frames'], meta['input.height'], meta['input.width']], ['8', '32', '32']);
    assert.deepEqual(JSON.parse(meta['normalization.mean']!), [0.485, 0.456, 0.406]);
    assert.deepEqual(JSON.parse(meta['normalization.std']!), [0.229, 0.224, 0.225]);
    assert.match(meta['config.hash']!, /^[0-9a-f]{16}$/);
    assert.match(meta.config!, /^# vhssl config [0-9a-f]{16}\narch:/);
    assert.equal(meta['vhssl.version'], JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    assert.equal(meta['checkpoint.step'], '200');
    assert.equal(meta.outputs, 'embedding,level.space,level.time');
  });

  test('--fp16: float16 initializers cast back in the graph, half the size, close outputs; embedding only by default', async (t) => {
    const half = join(tmp.dir, 'out', 'half.onnx');
    const r = vhssl(['export', '--run', runDir, '--out', half, '--fp16', '--checkpoint', 'last']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(half).length < 0.6 * readFileSync(file).length);
    const m = decodeModel(readFileSync(half));
    assert.ok(m.graph!.initializer.some((i) => i.dataType === 10), 'float16 initializers');
    const session = await ort.InferenceSession.create(half);
    assert.deepEqual(session.outputNames, ['embedding']);
    const video = input(2, 9);
    const out = await session.run({ video: new ort.Tensor('float32', video, [2, 8, 32, 32, 3]) });
    const diff = maxAbsDiff(out.embedding!.data as Float32Array, (await reference(video, 2)).embedding!);
    t.diagnostic(`float16 weights: max abs diff ${diff.toExponential(2)}`);
    assert.ok(diff < 0.05, `float16: max abs diff ${diff}`);
  });

  test('weights past the size limit go to FILE.onnx.data beside the model, which ORT reads from there', async () => {
    const big = join(tmp.dir, 'ext', 'big.onnx');
    const r = exportEncoder(loadRun(runDir), big, { externalAbove: 0 });
    assert.equal(r.external, 'big.onnx.data');
    assert.ok(statSync(big).size < 100_000 && statSync(`${big}.data`).size > 400_000, `${statSync(big).size} + ${statSync(`${big}.data`).size} bytes`);
    const s = await ort.InferenceSession.create(big);
    const out = await s.run({ video: new ort.Tensor('float32', input(1, 1), [1, 8, 32, 32, 3]) });
    assert.ok(maxAbsDiff(out.embedding!.data as Float32Array, (await reference(input(1, 1), 1)).embedding!) < 1e-4);
  });

  test('bad input: one line, exit code 1', async () => {
    const cases: [string[], RegExp][] = [
      [['--out', file], /^vhssl export: arguments: --run is required \(see vhssl export --help\)$/],
      [['--run', runDir], /^vhssl export: arguments: --out is required/],
      [['--run', join(tmp.dir, 'missing'), '--out', file], /^vhssl export: .*missing: no such run directory$/],
      [['--run', runDir, '--out', file, '--checkpoint', 'nope'], /^vhssl export: nope: no such checkpoint \(looked in/],
      [['--run', runDir, '--out', file, '--bf16'], /^vhssl export: arguments: Unknown option '--bf16' \(known options: /],
    ];
    for (const [args, re] of cases) {
      const r = await cli(['export', ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.err, re);
      assert.equal(r.err.split('\n').length, 1);
    }
  });
});
