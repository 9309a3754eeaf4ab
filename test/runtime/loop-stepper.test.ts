// The step loop (train.steps_per_run): blocks of steps in one run of step.loop.onnx reach bitwise the parameters,
// buffers, optimizer state and EMA copies of one fused step per run, with the same losses, gradient norms and
// monitors per step, for blocks of any length; bad blocks fail naming the feed and the step.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/config/index.ts';
import { buildArtifacts, STEP_LOOP } from '../../src/graph/artifacts.ts';
import { EMA_DECAY } from '../../src/graph/names.ts';
import { Rng } from '../../src/rng.ts';
import { batchFeeds, f32, stackFeeds } from '../../src/runtime/feeds.ts';
import { initialState, type State } from '../../src/runtime/state.ts';
import { FusedStepper, LoopStepper, type StepInput, type StepResult } from '../../src/runtime/stepper.ts';
import { tempDir } from '../temp.ts';

const { dir: tmp, cleanup } = tempDir('loop-stepper');
after(cleanup);

const bytes = (t: ort.Tensor) => {
  const d = t.data as Float32Array;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
};

describe('the step loop stepper', () => {
  const cases: [string, string[]][] = [
    ['detached targets', []],
    ['EMA targets and dropout', ['arch.targets=ema', 'arch.ema.decay=0.9', 'arch.space.dropout=0.1']],
  ];
  for (const [what, set] of cases) {
    test(`blocks of 3 and 2 steps reach bitwise the state and results of 5 fused steps (${what})`, async () => {
      const { config, hash } = loadConfig({ file: 'tiny', set: ['train.batch_size=2', 'train.steps_per_run=3', ...set] });
      const dir = join(tmp, what.replace(/\W+/g, '-'));
      const m = buildArtifacts(config, hash, dir);
      const inputs = Object.fromEntries(m.graphs[STEP_LOOP]!.inputs.map((i) => [i.name, i.shape]));
      assert.deepEqual(inputs.video, ['K', 2, m.video.frames, m.video.height, m.video.width, 3]);
      if (what.includes('dropout')) assert.deepEqual([inputs.dropout_seed, inputs.ema_decay], [['K'], ['K']]);
      const groups = Object.keys(m.groups);
      const { frames, height, width } = m.video;
      const rng = Rng.fromSeed(5, 'batch');
      const steps: StepInput[] = Array.from({ length: 5 }, (_, k) => {
        const x = Float32Array.from({ length: 2 * frames * height * width * 3 }, () => rng.normal());
        return {
          micro: [batchFeeds(m, rng, { x, labels: new Int32Array(2) }, null)],
          lr: Object.fromEntries(groups.map((g) => [g, 0.2 / (k + 1)])),
          steps: Object.fromEntries(groups.map((g) => [g, k])),
          scalars: { [EMA_DECAY]: f32(0.9 + 0.01 * k) },
        };
      });
      const fusedState = initialState(dir, m);
      const fused: StepResult[] = [];
      {
        await using s = await FusedStepper.open(dir, m, fusedState, { threads: 1 });
        for (const x of steps) fused.push(await s.step(x.micro, x.lr, x.steps, x.scalars));
      }
      const loopState: State = initialState(dir, m);
      const looped: StepResult[] = [];
      {
        await using s = await LoopStepper.open(dir, m, loopState, { threads: 1 });
        looped.push(...(await s.block(steps.slice(0, 3))), ...(await s.block(steps.slice(3))));
      }
      assert.deepEqual(looped, fused);
      assert.deepEqual([...loopState.keys()], [...fusedState.keys()]);
      for (const [name, t] of fusedState) assert.ok(bytes(t).equals(bytes(loopState.get(name)!)), `${name} differs`);
      if (what.startsWith('EMA')) assert.ok(!bytes(loopState.get('ema.space.embed.weight')!).equals(bytes(initialState(dir, m).get('ema.space.embed.weight')!)), 'the EMA copies moved');
    });
  }

  test('artifacts without the loop graph are refused by name', async () => {
    const { config, hash } = loadConfig({ file: 'tiny', set: ['train.batch_size=2'] });
    const dir = join(tmp, 'no-loop');
    const m = buildArtifacts(config, hash, dir);
    assert.equal(m.graphs[STEP_LOOP], undefined);
    await assert.rejects(LoopStepper.open(dir, m, initialState(dir, m), { threads: 1 }), new RegExp(`artifacts ${dir}: no step\\.loop graph \\(built when train\\.steps_per_run > 1\\)`));
  });

  test('a step of two micro-batches is refused', async () => {
    const dir = join(tmp, 'detached-targets');
    const { config, hash } = loadConfig({ file: 'tiny', set: ['train.batch_size=2', 'train.steps_per_run=3'] });
    const m = buildArtifacts(config, hash, dir);
    await using s = await LoopStepper.open(dir, m, initialState(dir, m), { threads: 1 });
    await assert.rejects(s.block([{ micro: [{}, {}], lr: {}, steps: {} }]), /the step loop runs one micro-batch per step, got 2 at step 0 of the block/);
  });
});

describe('stackFeeds', () => {
  const t = (v: number[], dims = [v.length]) => new ort.Tensor('float32', Float32Array.from(v), dims);
  test('stacks each feed along a new leading axis, step k at row k', () => {
    const out = stackFeeds(['a', 'n'], [{ a: t([1, 2]), n: new ort.Tensor('int64', BigInt64Array.of(7n), []) }, { a: t([3, 4]), n: new ort.Tensor('int64', BigInt64Array.of(9n), []) }]);
    assert.deepEqual(out.a!.dims, [2, 2]);
    assert.deepEqual([...(out.a!.data as Float32Array)], [1, 2, 3, 4]);
    assert.deepEqual(out.n!.dims, [2]);
    assert.deepEqual([...(out.n!.data as BigInt64Array)], [7n, 9n]);
  });
  test('refuses a feed missing at step 0', () => assert.throws(() => stackFeeds(['a'], [{}]), /stackFeeds: step 0 has no feed a/));
  test('refuses a feed missing or shaped otherwise at a later step', () => {
    assert.throws(() => stackFeeds(['a'], [{ a: t([1, 2]) }, { a: t([1, 2, 3]) }]), /stackFeeds: step 1 feeds a as float32\[3\], step 0 as float32\[2\]/);
    assert.throws(() => stackFeeds(['a'], [{ a: t([1, 2]) }, {}]), /stackFeeds: step 1 feeds a as nothing, step 0 as float32\[2\]/);
  });
  test('refuses a block of no steps', () => assert.throws(() => stackFeeds(['a'], []), /stackFeeds: a block of no steps/));
});
