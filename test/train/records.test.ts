// The loop's bookkeeping as pure functions: a step's progress, its metrics row, the progress line's loss, the
// throughput window, and a validation's row and log line.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KnnSummary } from '../../src/eval/validate.ts';
import type { StepResult } from '../../src/runtime/stepper.ts';
import { advance, startProgress } from '../../src/train/checkpoint.ts';
import { addStep, clipsPerSecond, knnLine, knnRecord, mainLoss, namedLosses, NO_THROUGHPUT, spreadLine, stepRecord } from '../../src/train/metrics.ts';

const position = (n: number) => ({ rng: [n, 2, 3, 4] as const, loader: { seed: 1, epoch: 0, position: n } });

const result: StepResult = {
  losses: [
    { group: 'space', term: 'up', value: 1.5 },
    { group: 'space', term: null, value: 1.5 },
    { group: 'time', term: 'down', value: 0.25 },
    { group: 'time', term: 'summary', value: 0.5 },
    { group: 'time', term: null, value: 0.75 },
  ],
  gradNorms: { space: 2, time: 3 },
  monitors: { 'monitor.space.std': 0.5, 'monitor.time.std': 0.25 },
};

describe('progress', () => {
  test('a new run starts at step 0 with every group at 0 steps', () => {
    assert.deepEqual(startProgress(['space', 'time'], position(0)), { step: 0, epoch: 0, groupSteps: { space: 0, time: 0 }, ...position(0), best: null });
  });

  test('a step advances the step, the epoch, the steps of the groups that trained, and the stream position', () => {
    const p0 = { ...startProgress(['space', 'time'], position(0)), step: 9, groupSteps: { space: 5, time: 4 }, best: 12 };
    const p1 = advance(p0, ['time'], 10, position(1));
    assert.deepEqual(p1, { step: 10, epoch: 1, groupSteps: { space: 5, time: 5 }, ...position(1), best: 12 });
    assert.deepEqual(p0.groupSteps, { space: 5, time: 4 }, 'the progress before the step is left as it was');
  });
});

describe('metrics rows', () => {
  test('losses by output name; the progress line shows the sum of the group totals', () => {
    assert.deepEqual(namedLosses(result.losses), { 'loss.space.up': 1.5, 'loss.space': 1.5, 'loss.time.down': 0.25, 'loss.time.summary': 0.5, 'loss.time': 0.75 });
    assert.equal(mainLoss(result.losses), 2.25);
  });

  test('a step row: step, epoch, throughput, then per group lr, losses, gradient norm and monitor', () => {
    const w = addStep(addStep(NO_THROUGHPUT, 8, 100, 10), 8, 60, 5);
    assert.deepEqual(w, { clips: 16, ms: 160, wait: 15 });
    assert.equal(clipsPerSecond(w), 100);
    const row = stepRecord({ step: 20, epoch: 2 }, w, 2, { space: 0.1, time: 0.05 }, result);
    assert.deepEqual(row, {
      step: 20, epoch: 2, clips_per_s: 100, data_wait_ms: 7.5,
      'lr.space': 0.1, 'lr.time': 0.05,
      'loss.space.up': 1.5, 'loss.space': 1.5, 'loss.time.down': 0.25, 'loss.time.summary': 0.5, 'loss.time': 0.75,
      'grad_norm.space': 2, 'grad_norm.time': 3,
      'monitor.space.std': 0.5, 'monitor.time.std': 0.25,
    });
    assert.deepEqual(Object.keys(row).slice(0, 4), ['step', 'epoch', 'clips_per_s', 'data_wait_ms']);
  });

  test('a validation row and its log line', () => {
    const knn = { top1: 37.5, top5: 81.25, level: 'embedding' } as KnnSummary;
    assert.deepEqual(knnRecord({ step: 40, epoch: 4 }, knn), { kind: 'knn', step: 40, epoch: 4, top1: 37.5, top5: 81.25, level: 'embedding' });
    assert.equal(knnLine(4, knn, true), 'epoch 4: k-NN top-1 37.50%, top-5 81.25% (best)');
    assert.equal(knnLine(4, knn, false), 'epoch 4: k-NN top-1 37.50%, top-5 81.25%');
  });

  test('a validation row with the levels\' spread, and its log line', () => {
    const levels = { embedding: { erank: 12.345, std: 0.41234, dim: 64 }, 'level.space': { erank: 3.04, std: 0.0012345, dim: 32 } };
    const knn = { top1: 37.5, top5: 81.25, level: 'embedding', levels } as KnnSummary & { levels: typeof levels };
    assert.deepEqual(knnRecord({ step: 40, epoch: 4 }, knn), { kind: 'knn', step: 40, epoch: 4, top1: 37.5, top5: 81.25, level: 'embedding', levels });
    assert.equal(spreadLine(4, levels), 'epoch 4: effective rank/dim (mean std) embedding 12.3/64 (0.412), level.space 3.0/32 (0.00123)');
  });
});
