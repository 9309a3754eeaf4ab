// Divergence: the message names the quantity (loss, loss term, gradient norm, parameter...), its group and the step,
// and the checkpoint it names as the last good one is good: every tensor finite, every parameter within the bound.
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Manifest } from '../../src/graph/artifacts.ts';
import { tensor } from '../../src/graph/tensor.ts';
import { DivergedError, DivergenceCheck, PARAM_BOUND } from '../../src/train/divergence.ts';
import { readSafetensors } from '../../src/graph/safetensors.ts';
import { vhssl } from '../cli/run.ts';
import { movingMnist } from '../fixtures.ts';
import { tempDir } from '../temp.ts';

const group = (g: string) => ({ params: [`${g}.w`], buffers: [`${g}.norm.running_var`], state: [`${g}.w.momentum`], train: `${g}.train.onnx`, optim: `${g}.optim.onnx` });
const manifest = {
  groups: { space: group('space'), time: group('time') },
  graphs: { step: { outputs: ['loss.space', 'loss.space.up', 'loss.time', 'loss.time.down', 'grad_norm.space', 'monitor.space.std'].map((name) => ({ name, dtype: 'float32', shape: [] })) } },
} as unknown as Manifest;

describe('divergence messages', () => {
  const check = new DivergenceCheck(manifest);
  const message = (step: number, f: ReturnType<DivergenceCheck['step']>, lastGood: string | null = null) => new DivergedError(step, f!, lastGood).message;

  test('an infinite gradient norm names the gradient norm, its group and the step', () => {
    const f = check.step({ 'loss.space': 1, 'loss.space.up': 1, 'loss.time': 2, 'loss.time.down': 2 }, { space: Infinity, time: 0.5 });
    assert.equal(message(4, f), 'step 4: gradient norm of group space is Infinity (no good checkpoint was written)');
  });

  test('losses name the term or the group total, and the last good checkpoint', () => {
    assert.equal(message(7, check.step({ 'loss.space.up': NaN }, {}), '/r/step-5.safetensors'), 'step 7: loss term up of group space is NaN (the last good checkpoint is /r/step-5.safetensors)');
    assert.equal(message(2, check.step({ 'loss.time.down': 1, 'loss.time': -Infinity }, { time: NaN })), 'step 2: loss of group time is -Infinity (no good checkpoint was written)');
    assert.equal(check.step({ 'loss.space': 1, 'loss.space.up': 1 }, { space: 3 }), null);
  });

  test('checkpoint tensors: non-finite anywhere, or a parameter beyond the bound, make it bad; large buffers do not', () => {
    const ok = new Map([['space.w', tensor('float32', [2], [1, -2])], ['space.norm.running_var', tensor('float32', [1], [1e8])], ['space.w.momentum', tensor('float32', [2], [0, 0])]]);
    assert.equal(check.checkpoint(ok), null);
    const nan = new Map([...ok, ['space.w.momentum', tensor('float32', [2], [0, NaN])]]);
    assert.equal(message(30, check.checkpoint(nan)), 'step 30: optimizer state space.w.momentum of group space is NaN (no good checkpoint was written)');
    const big = new Map([...ok, ['time.w', tensor('float32', [2], [3, -2e4])], ['space.w', tensor('float32', [1], [1.5e4])]]);
    assert.equal(message(30, check.checkpoint(big), '/r/step-20.safetensors'), `step 30: parameter time.w of group time reaches 2.00e+4, beyond the bound ±${PARAM_BOUND} of a good checkpoint (the last good checkpoint is /r/step-20.safetensors)`);
  });

  test('a loss output that names no group is a bug, not a guess', () => {
    assert.throws(() => new DivergenceCheck({ ...manifest, graphs: { step: { outputs: [{ name: 'loss.total' }] } } } as unknown as Manifest), /loss output loss\.total names none of the groups space, time/);
  });
});

describe('vhssl train: divergence end to end', () => {
  const { dir: tmp, cleanup } = tempDir('diverge');
  let data = '';
  before(() => {
    data = movingMnist();
  });
  after(cleanup);
  const run = (out: string, lr: number, every: number) =>
    vhssl(['train', '--config', 'tiny', '--set', `data.root=${data}`, '--set', 'train.batch_size=8', '--set', 'eval.knn.every=0', '--set', `train.optimizer.lr=${lr}`,
      '--set', 'train.epochs=2', '--set', 'train.steps_per_epoch=20', '--set', `train.checkpoint.every_steps=${every}`, '--set', 'train.checkpoint.keep_last=100', '--out', out], { env: { MALLOC_MMAP_MAX_: '0' } });
  const named = /^vhssl train: step \d+: (loss( term \w+)?|gradient norm|parameter [\w.]+|buffer [\w.]+|optimizer state [\w.]+) of group (space|time|ema) (is (NaN|-?Infinity)|reaches [\d.]+e\+\d+, beyond the bound ±10000 of a good checkpoint) \((the last good checkpoint is (?<file>\S+)|no good checkpoint was written)\)$/;

  test('at lr 30 the run stops naming quantity, group and step, and the checkpoint it names is finite and bounded', () => {
    const out = join(tmp, 'lr30');
    const r = run(out, 30, 5);
    assert.equal(r.status, 1, r.stderr);
    const line = r.stderr.trim().split('\n').at(-1)!;
    const m = named.exec(line);
    assert.ok(m, line);
    const file = m.groups!.file;
    assert.ok(file, `a checkpoint is named: ${line}`);
    assert.equal(basename(file), readlinkSync(join(out, 'checkpoints', 'last.safetensors')), 'last points at the last good checkpoint');
    const params = new Set(Object.values((JSON.parse(readFileSync(join(out, 'artifacts', 'manifest.json'), 'utf8')) as Manifest).groups).flatMap((g) => g.params));
    for (const [name, t] of readSafetensors(file).tensors) {
      for (const x of t.data as Float32Array) {
        assert.ok(Number.isFinite(x), `${name} holds ${x}`);
        if (params.has(name)) assert.ok(Math.abs(x) <= PARAM_BOUND, `${name} holds ${x}`);
      }
    }
  });

  test('at lr 100 with no checkpoint yet the message names quantity, group and step', () => {
    const r = run(join(tmp, 'lr100'), 100, 1000);
    assert.equal(r.status, 1, r.stderr);
    const line = r.stderr.trim().split('\n').at(-1)!;
    assert.match(line, named);
    assert.match(line, /\(no good checkpoint was written\)$/);
  });
});
