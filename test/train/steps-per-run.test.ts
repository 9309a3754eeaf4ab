// train.steps_per_run: K optimizer steps per ONNX Runtime run (the fused step in an ONNX Loop). Blocks end at every
// checkpoint, validation, epoch end and the run's end; through the real CLI on Moving MNIST, K = 4 reaches bitwise
// the parameters and the metrics rows of K = 1 (short blocks included), a SIGKILLed K = 4 run resumes to bitwise the
// same parameters, a NaN inside a block stops naming its step and the last good checkpoint; build-graph writes the
// loop graph only for K > 1; the config refuses K > 1 with the per-group path.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { canonicalJson, loadConfig } from '../../src/config/index.ts';
import type { Manifest } from '../../src/graph/artifacts.ts';
import { readSafetensors } from '../../src/graph/safetensors.ts';
import { createSession } from '../../src/runtime/session.ts';
import { afterStep, blockLength, type Plan } from '../../src/train/schedule.ts';
import { killWhenExists, vhssl } from '../cli/run.ts';
import { movingMnist } from '../fixtures.ts';
import { tempDir } from '../temp.ts';

const { dir: tmp, cleanup } = tempDir('steps-per-run');
after(cleanup);

/** The blocks of a run of `plan` from step 0: [first step, last step] (1-based), each block one ORT run. */
function blocks(plan: Plan, every: number, k: number): [number, number][] {
  const out: [number, number][] = [];
  for (let step = 0; step < plan.total;) {
    const n = blockLength(step, plan, every, k);
    out.push([step + 1, step + n]);
    step += n;
  }
  return out;
}

describe('blockLength', () => {
  test('blocks of up to K steps end at checkpoints, validations, epoch ends and the end of the run', () => {
    const plan: Plan = { stepsPerEpoch: 7, total: 14, validateAt: new Set([1, 2]) };
    assert.deepEqual(blocks(plan, 5, 4), [[1, 4], [5, 5], [6, 7], [8, 10], [11, 14]]);
    assert.deepEqual(blocks(plan, 5, 1), Array.from({ length: 14 }, (_, i) => [i + 1, i + 1]));
    // An epoch end without a validation, and a --max-steps stop inside an epoch.
    assert.deepEqual(blocks({ stepsPerEpoch: 6, total: 15, validateAt: new Set() }, 100, 4), [[1, 4], [5, 6], [7, 10], [11, 12], [13, 15]]);
    assert.deepEqual(blocks({ stepsPerEpoch: 100, total: 9, validateAt: new Set() }, 100, 8), [[1, 8], [9, 9]]);
  });

  test('no step inside a block is followed by a checkpoint or a validation', () => {
    for (const [spe, total, every, k] of [[7, 30, 5, 4], [10, 40, 3, 8], [4, 17, 100, 16], [9, 27, 2, 2]] as const) {
      const plan: Plan = { stepsPerEpoch: spe, total, validateAt: new Set([1, 3]) };
      const bs = blocks(plan, every, k);
      assert.equal(bs[bs.length - 1]![1], total);
      for (const [first, last] of bs) {
        assert.ok(last - first < k, `block [${first}, ${last}] is longer than ${k}`);
        for (let s = first; s < last; s++) assert.equal(afterStep(s, plan, every), null, `step ${s} inside block [${first}, ${last}]`);
      }
    }
  });
});

describe('config train.steps_per_run', () => {
  test('absent: 1, and the config keeps its hash', () => {
    const { config, hash } = loadConfig({ file: 'tiny' });
    assert.equal(config.train.steps_per_run, undefined);
    assert.ok(!canonicalJson(config).includes('steps_per_run'));
    assert.notEqual(loadConfig({ file: 'tiny', set: ['train.steps_per_run=4'] }).hash, hash);
  });

  const bad: [string, string[], RegExp][] = [
    ['zero', ['train.steps_per_run=0'], /config\.train\.steps_per_run: expected a positive integer, got 0/],
    ['a fraction', ['train.steps_per_run=2.5'], /config\.train\.steps_per_run: expected a positive integer, got 2\.5/],
    ['with gradient accumulation', ['train.steps_per_run=4', 'train.grad_accum=2'], /config\.train\.steps_per_run: expected 1 when train\.grad_accum is 2 \(several steps per run loop the fused step graph; accumulation and alternation run the per-group graphs\), got 4 \(remove train\.steps_per_run, or set train\.grad_accum=1 and train\.alternation\.interval_pct=0/],
    ['with alternation', ['train.steps_per_run=4', 'train.alternation.interval_pct=25'], /config\.train\.steps_per_run: expected 1 when train\.alternation\.interval_pct is 25 .*, got 4/],
  ];
  for (const [what, set, message] of bad) test(`refuses ${what}`, () => assert.throws(() => loadConfig({ file: 'tiny', set }), message));

  test('the CLI refuses it in one line, naming the key', () => {
    const r = vhssl(['build-graph', '--config', 'tiny', '--out', join(tmp, 'refused'), '--set', 'train.steps_per_run=4', '--set', 'train.grad_accum=2']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /config\.train\.steps_per_run: expected 1 when train\.grad_accum is 2/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(!existsSync(join(tmp, 'refused')));
  });
});

describe('vhssl build-graph with train.steps_per_run', () => {
  test('K > 1 adds step.loop.onnx (per-step inputs stacked along K), byte-identical on a rebuild; K = 1 does not', async () => {
    const out = join(tmp, 'graphs-k4');
    assert.equal(vhssl(['build-graph', '--config', 'tiny', '--out', out, '--set', 'train.steps_per_run=4']).status, 0);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
    const loop = m.graphs['step.loop']!;
    assert.deepEqual([loop.file, loop.role, loop.groups], ['step.loop.onnx', 'step', ['space', 'time']]);
    const shape = (name: string) => loop.inputs.find((i) => i.name === name)!.shape;
    assert.deepEqual(shape('video'), ['K', 16, 8, 32, 32, 3]);
    assert.deepEqual(shape('lr.space'), ['K']);
    assert.deepEqual(shape('space.embed.weight'), m.graphs.step!.inputs.find((i) => i.name === 'space.embed.weight')!.shape);
    const s = await createSession(join(out, 'step.loop.onnx'), { threads: 1 });
    assert.deepEqual([...s.inputNames].sort(), loop.inputs.map((i) => i.name).sort());
    assert.deepEqual([...s.outputNames].sort(), m.graphs.step!.outputs.map((o) => o.name).sort());
    await s.release();
    const first = readFileSync(join(out, 'step.loop.onnx'));
    assert.equal(vhssl(['build-graph', '--config', 'tiny', '--out', out, '--set', 'train.steps_per_run=4', '--force']).status, 0);
    assert.ok(readFileSync(join(out, 'step.loop.onnx')).equals(first), 'the same bytes');

    const one = join(tmp, 'graphs-k1');
    assert.equal(vhssl(['build-graph', '--config', 'tiny', '--out', one]).status, 0);
    assert.equal((JSON.parse(readFileSync(join(one, 'manifest.json'), 'utf8')) as Manifest).graphs['step.loop'], undefined);
    assert.ok(!existsSync(join(one, 'step.loop.onnx')));
  });
});

describe('vhssl train with train.steps_per_run', () => {
  let data = '';
  before(() => {
    data = movingMnist();
  });
  // Skip the malloc re-exec so the test signals the training process itself.
  const env = { MALLOC_MMAP_MAX_: '0' };
  const args = (out: string, k: number, ...extra: string[]) => [
    'train', '--config', 'tiny', '--set', `data.root=${data}`, '--set', 'train.batch_size=8', '--set', 'train.log_every=1', '--set', `train.steps_per_run=${k}`, '--out', out, ...extra,
  ];
  /** Every row of metrics.jsonl without its timings (throughput and data wait). */
  const rows = (run: string) => readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const { clips_per_s: _c, data_wait_ms: _w, ...row } = JSON.parse(l) as Record<string, unknown>;
    return row;
  });
  const tensorsOf = (file: string) => readSafetensors(file).tensors;
  function assertSameTensors(a: string, b: string): void {
    const [x, y] = [tensorsOf(a), tensorsOf(b)];
    assert.deepEqual([...y.keys()].sort(), [...x.keys()].sort());
    for (const [name, t] of x) {
      const u = y.get(name)!;
      assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength)), `${name} differs between ${a} and ${b}`);
    }
  }

  test('K = 4 reaches bitwise the parameters and the metrics rows of K = 1, across a checkpoint and validations', () => {
    // 14 steps, 7 per epoch, checkpoints every 5, k-NN after each epoch: K = 4 runs blocks 1-4, 5, 6-7, 8-10, 11-14.
    const steps = ['--set', 'train.epochs=2', '--set', 'train.steps_per_epoch=7', '--set', 'train.checkpoint.every_steps=5', '--set', 'train.checkpoint.keep_last=10', '--set', 'eval.knn.every=1'];
    const [one, four] = [join(tmp, 'k1'), join(tmp, 'k4')];
    for (const [run, k] of [[one, 1], [four, 4]] as const) {
      const r = vhssl(args(run, k, ...steps), { env });
      assert.equal(r.status, 0, r.stderr);
    }
    const m4 = JSON.parse(readFileSync(join(four, 'artifacts', 'manifest.json'), 'utf8')) as Manifest;
    assert.ok(m4.graphs['step.loop'] && !existsSync(join(one, 'artifacts', 'step.loop.onnx')), 'K = 4 trains on the loop graph, K = 1 on the step graph');
    for (const step of ['00000005', '00000007', '00000010', '00000014']) {
      assertSameTensors(join(one, 'checkpoints', `step-${step}.safetensors`), join(four, 'checkpoints', `step-${step}.safetensors`));
    }
    const r1 = rows(one);
    assert.deepEqual(r1.filter((r) => !('kind' in r)).map((r) => r.step), Array.from({ length: 14 }, (_, i) => i + 1));
    assert.deepEqual(r1.filter((r) => r.kind === 'knn').map((r) => r.step), [7, 14]);
    assert.deepEqual(rows(four), r1);
  });

  test('a K = 4 run killed (SIGKILL) and resumed reaches bitwise the parameters of an uninterrupted run', async () => {
    const steps = ['--set', 'train.epochs=2', '--set', 'train.steps_per_epoch=40', '--set', 'train.checkpoint.every_steps=8', '--set', 'eval.knn.every=0'];
    const straight = join(tmp, 'straight-k1');
    assert.equal(vhssl(args(straight, 1, ...steps), { env }).status, 0);
    const killed = join(tmp, 'killed-k4');
    const link = join(killed, 'checkpoints', 'last.safetensors');
    await killWhenExists(args(killed, 4, ...steps), link, env);
    const at = Number(readSafetensors(link).metadata.step);
    assert.ok(at < 80, `the kill landed before the end (checkpoint at step ${at})`);
    assert.equal(at % 8, 0, 'checkpoints fall on block ends');
    const resumed = vhssl(['train', '--resume', '--out', killed], { env });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming from .* at step ${at}`));
    assert.equal(readSafetensors(join(killed, 'checkpoints', 'last.safetensors')).metadata.step, '80');
    assertSameTensors(join(straight, 'checkpoints', 'last.safetensors'), join(killed, 'checkpoints', 'last.safetensors'));
    assert.deepEqual(rows(killed), rows(straight), 'one row per step, the same values');
  });

  test('a NaN inside a block stops naming its step and the last good checkpoint, a block end', () => {
    // lr 0.01 in epoch 1 (warmup per epoch), 1e30 after: step 6 explodes the weights and step 7's loss is NaN, inside
    // the block 6-9 of K = 4; the checkpoint after step 5 is the last good one.
    const diverge = (run: string, k: number) => vhssl(args(run, k,
      '--set', 'train.optimizer.lr=1e30', '--set', 'train.schedule.name=constant', '--set', 'train.schedule.per=epoch', '--set', 'train.schedule.warmup_epochs=1',
      '--set', 'train.schedule.warmup_start=0.01', '--set', 'train.epochs=3', '--set', 'train.steps_per_epoch=5', '--set', 'train.checkpoint.every_steps=5', '--set', 'eval.knn.every=0'), { env });
    const [one, four] = [join(tmp, 'nan-k1'), join(tmp, 'nan-k4')];
    const [r1, r4] = [diverge(one, 1), diverge(four, 4)];
    for (const [r, run] of [[r1, one], [r4, four]] as const) {
      assert.equal(r.status, 1, r.stderr);
      const last = join(run, 'checkpoints', 'step-00000005.safetensors');
      assert.match(r.stderr, new RegExp(`vhssl train: step 7: (loss( term \\w+)?|gradient norm) of group (space|time) is (NaN|Infinity|-Infinity) \\(the last good checkpoint is ${last.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
    }
    assert.equal(r4.stderr.split('\n').find((l) => l.startsWith('vhssl train:'))!.replace(four, 'RUN'), r1.stderr.split('\n').find((l) => l.startsWith('vhssl train:'))!.replace(one, 'RUN'));
    assert.deepEqual(rows(four), rows(one));
    assert.deepEqual(rows(four).map((r) => r.step), [1, 2, 3, 4, 5, 6], 'the rows of the steps before the NaN');
  });
});
