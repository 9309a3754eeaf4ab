// The training schedules as pure functions: learning rate (warmup, cosine, step, constant, per step or per epoch),
// alternation of the trained groups, the EMA decay, the run's plan, and what follows a step.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import type { ScheduleConfig } from '../../src/config/schema.ts';
import { cosine } from '../../src/runtime/schedule.ts';
import { activeGroups, afterStep, emaDecay, fusedStep, groupLearningRates, learningRate, trainingPlan } from '../../src/train/schedule.ts';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
const config = (set: string[] = []) => loadConfig({ file: 'tiny', set }).config;
const schedule = (s: Partial<ScheduleConfig>): ScheduleConfig => ({ ...config().train.schedule, ...s }) as ScheduleConfig;

describe('cosine', () => {
  test('from start to end, clamped outside [0, 1]', () => {
    close(cosine(1, 0.1, 0), 1, 'u=0');
    close(cosine(1, 0.1, 0.5), 0.55, 'u=½');
    close(cosine(1, 0.1, 1), 0.1, 'u=1');
    close(cosine(1, 0.1, 7), 0.1, 'u>1');
    close(cosine(1, 0.1, -1), 1, 'u<0');
    close(cosine(0.9, 0.999, 0.5), 0.9495, 'rising');
  });
});

describe('learning rate', () => {
  const p = (step: number) => ({ step, stepsPerEpoch: 10, epochs: 5 });

  test('linear warmup from warmup_start, then cosine to min_lr over the remaining epochs (no restart per epoch)', () => {
    const s = schedule({ name: 'cosine', warmup_epochs: 1, warmup_start: 0.001, min_lr: 1e-4, per: 'step' });
    close(learningRate(s, 0.1, p(0)), 0.001, 'step 0');
    close(learningRate(s, 0.1, p(5)), 0.001 + (0.1 - 0.001) * 0.5, 'half way through the warmup');
    close(learningRate(s, 0.1, p(10)), 0.1, 'end of warmup');
    close(learningRate(s, 0.1, p(30)), 1e-4 + 0.5 * (0.1 - 1e-4), 'half way through the cosine');
    close(learningRate(s, 0.1, p(50)), 1e-4, 'the end');
    assert.ok(learningRate(s, 0.1, p(21)) < learningRate(s, 0.1, p(19)), 'no restart at an epoch boundary');
  });

  test('per epoch: constant within an epoch', () => {
    const s = schedule({ name: 'cosine', warmup_epochs: 0, min_lr: 0, per: 'epoch' });
    assert.equal(learningRate(s, 0.1, p(20)), learningRate(s, 0.1, p(29)));
    assert.ok(learningRate(s, 0.1, p(30)) < learningRate(s, 0.1, p(29)));
  });

  test('step decay and constant', () => {
    const s = schedule({ name: 'step', warmup_epochs: 0, step_size: 2, gamma: 0.5, per: 'step' } as Partial<ScheduleConfig>);
    close(learningRate(s, 0.1, p(19)), 0.1, 'first two epochs');
    close(learningRate(s, 0.1, p(20)), 0.05, 'after two epochs');
    close(learningRate(schedule({ name: 'constant', warmup_epochs: 0 }), 0.1, p(33)), 0.1, 'constant');
  });
});

describe('groups, EMA decay and the fused step', () => {
  test('alternation: every other group, flipping every interval; 0 % trains all', () => {
    const groups = ['patch', 'space', 'time', 'clip'];
    assert.deepEqual(activeGroups(groups, 7, 100, 0), groups);
    assert.deepEqual(activeGroups(groups, 0, 100, 10), ['patch', 'time']);
    assert.deepEqual(activeGroups(groups, 9, 100, 10), ['patch', 'time']);
    assert.deepEqual(activeGroups(groups, 10, 100, 10), ['space', 'clip']);
    assert.deepEqual(activeGroups(groups, 100, 100, 10), ['patch', 'time'], 'each epoch starts with the first phase');
    assert.deepEqual(activeGroups(['space'], 10, 100, 10), ['space'], 'one group always trains');
  });

  test('groupLearningRates: the scheduled rate for each group that trains, and only those', () => {
    const c = config(['train.alternation.interval_pct=50', 'train.schedule.warmup_epochs=0', 'train.schedule.name=constant', 'train.optimizer.lr=0.3']);
    assert.deepEqual(groupLearningRates(c.train, ['space', 'time'], 0, 10), { space: 0.3 });
    assert.deepEqual(groupLearningRates(c.train, ['space', 'time'], 5, 10), { time: 0.3 });
  });

  test('EMA decay rises from decay to final_decay along a cosine over the run', () => {
    const ema = { decay: 0.9, final_decay: 1 };
    close(emaDecay(ema, 0, 100), 0.9, 'start');
    close(emaDecay(ema, 50, 100), 0.95, 'half way');
    close(emaDecay(ema, 100, 100), 1, 'end');
    close(emaDecay(ema, 0, 0), 0.9, 'a run of no steps');
  });

  test('the fused step graph runs without accumulation and alternation only', () => {
    assert.equal(fusedStep(config().train), true);
    assert.equal(fusedStep(config(['train.grad_accum=2']).train), false);
    assert.equal(fusedStep(config(['train.alternation.interval_pct=25']).train), false);
  });
});

describe('the plan of a run', () => {
  test('steps per epoch from the config or the loader (over the accumulation), total, validation epochs', () => {
    const fixed = trainingPlan(config(['train.epochs=4', 'train.steps_per_epoch=10', 'eval.knn.every=2', 'eval.knn.schedule=linear', 'data.root=/d']), 999);
    assert.deepEqual(fixed, { stepsPerEpoch: 10, total: 40, validateAt: new Set([2, 4]) });
    const derived = trainingPlan(config(['train.epochs=3', 'train.steps_per_epoch=null', 'train.grad_accum=2', 'eval.knn.every=0', 'data.root=/d']), 25);
    assert.deepEqual(derived, { stepsPerEpoch: 12, total: 36, validateAt: new Set() });
    assert.deepEqual(trainingPlan(config(['eval.knn.every=1']), 10).validateAt, new Set(), 'no dataset root, no validation');
  });

  test('--max-steps cuts the run and validates the epochs it reaches', () => {
    const plan = trainingPlan(config(['train.epochs=10', 'train.steps_per_epoch=10', 'eval.knn.every=1', 'data.root=/d']), 1, 25);
    assert.equal(plan.total, 25);
    assert.deepEqual(plan.validateAt, new Set([1, 2, 3]));
  });

  test('after a step: validation at the end of a validated epoch, else a checkpoint every N steps but the last', () => {
    const plan = { stepsPerEpoch: 10, total: 40, validateAt: new Set([2, 4]) };
    assert.equal(afterStep(20, plan, 15), 'validate');
    assert.equal(afterStep(40, plan, 40), 'validate');
    assert.equal(afterStep(10, plan, 5), 'checkpoint');
    assert.equal(afterStep(15, plan, 5), 'checkpoint');
    assert.equal(afterStep(16, plan, 5), null);
    assert.equal(afterStep(40, { ...plan, validateAt: new Set() }, 5), null, 'the last step is saved by the loop\'s end');
  });
});
