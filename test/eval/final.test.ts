// The final evaluation of a real run (the tiny config trained 20 steps on Moving MNIST through the CLI, one k-NN
// validation, so it keeps a best checkpoint): the probe on best, recorded in eval.jsonl (final, with its settings),
// metrics.jsonl (one `final` row appended, the rest untouched) and summary.json; best falling back to last when the
// run kept none; fine-tuning on last; `none` (summary only); and runs it cannot evaluate, refused in one line.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { UserError } from '../../src/errors.ts';
import { finalEvaluation, runSummary, type RunSummary } from '../../src/eval/final.ts';
import { vhssl } from '../cli/run.ts';
import { movingMnist } from '../fixtures.ts';
import { tempDir } from '../temp.ts';

const { dir: tmp, cleanup } = tempDir('final');
after(cleanup);
const trained = join(tmp, 'trained');

/** A copy of the trained run (checkpoint links kept relative) and its config with `eval` changed (final: probe unless said). */
function copyRun(name: string, evalSet: Partial<Config['eval']> = {}): { runDir: string; config: Config } {
  const runDir = join(tmp, name);
  cpSync(trained, runDir, { recursive: true, verbatimSymlinks: true });
  const { config } = loadConfig({ file: join(runDir, 'config.yaml') });
  return { runDir, config: { ...config, eval: { ...config.eval, final: 'probe', ...evalSet } } };
}

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const summaryOf = (runDir: string) => JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as RunSummary;

describe('final evaluation', () => {
  before(() => {
    const r = vhssl(['train', '--config', 'tiny', '--out', trained, '--set', `data.root=${movingMnist()}`, '--set', 'train.batch_size=8',
      '--set', 'train.epochs=1', '--set', 'train.steps_per_epoch=20', '--set', 'eval.knn.every=1', '--set', 'eval.final=none']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(trained, 'checkpoints', 'best.safetensors')));
  });

  test('probe on best: eval.jsonl, a final row in metrics.jsonl, summary.json, and a closing log line', async () => {
    const { runDir, config } = copyRun('probe', { final: 'probe' });
    assert.equal(config.eval.final, 'probe');
    assert.equal(config.eval.on, 'best');
    const before = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    const log: string[] = [];
    const r = await finalEvaluation({ runDir, config, threads: 1, log: (l) => log.push(l) });
    assert.ok(r);
    assert.equal(r.method, 'probe');

    const [rec, ...more] = lines(join(runDir, 'eval.jsonl'));
    assert.equal(more.length, 0);
    assert.deepEqual(rec, JSON.parse(JSON.stringify(r.record)));
    assert.equal(rec!.kind, 'probe');
    assert.equal(rec!.final, true);
    assert.equal(rec!.checkpoint, 'best');
    assert.deepEqual([rec!.step, rec!.epoch], [20, 1]);
    assert.deepEqual(rec!.splits, { train: 'train', test: 'test' });
    // tiny.yaml: eval.probe.epochs 5; 64 train clips: batch 6, 10 steps per epoch, 200 epochs for 2000 steps
    const settings = { ...(rec!.settings as Record<string, unknown>) };
    const loss = settings.final_loss as number;
    delete settings.final_loss;
    assert.deepEqual(settings, { epochs: 5, lr: 0.1, batch_size: 512, head: 'linear', steps: 2000, epochs_run: 200, batch_run: 6, whitened: true, train_views: '1x1', test_views: '3x1' });
    // Real features: the probe's training loss fell well below its start (ln 8 = 2.08 for 8 classes).
    assert.ok(loss < 1.5, `final training loss ${loss}`);
    const clip = rec!.clip as { top1: number; count: number };
    assert.equal(clip.count, 48, '16 test videos × 3 views');
    assert.ok(clip.top1 >= 0 && clip.top1 <= 100);

    const after = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    assert.ok(after.startsWith(before), 'the training rows are untouched');
    const row = JSON.parse(after.slice(before.length)) as Record<string, unknown>;
    assert.deepEqual(row, {
      kind: 'final', step: 20, epoch: 1, checkpoint: 'best', method: 'probe',
      clip_top1: clip.top1, clip_top5: (rec!.clip as { top5: number }).top5, video_top1: (rec!.video as { top1: number }).top1, video_top5: (rec!.video as { top5: number }).top5,
    });

    const s = summaryOf(runDir);
    const rows = lines(join(runDir, 'metrics.jsonl'));
    const last = rows.filter((m) => m.kind === undefined).at(-1)!;
    const knn = rows.filter((m) => m.kind === 'knn');
    assert.equal(knn.length, 1);
    assert.deepEqual({ ...s, final: null }, {
      status: 'finished', step: 20, epoch: 1, loss: (last['loss.space'] as number) + (last['loss.time'] as number),
      knn: { best: knn[0]!.top1, last: knn[0]!.top1 }, final: null,
    });
    assert.deepEqual(s.final, rec);
    assert.deepEqual(s, JSON.parse(JSON.stringify(r.summary)));

    assert.match(log[0]!, /^final evaluation: linear probe on best \(epoch 1, step 20\), level embedding \(5 epochs at least, lr 0\.1, batch 512 at most\)$/);
    assert.match(log.at(-1)!, /^final probe on best \(epoch 1, step 20\): clip top-1 \d+\.\d\d % {2}video top-1 \d+\.\d\d %$/);
  });

  test('best falls back to last, saying so, when the run kept no best checkpoint', async () => {
    const { runDir, config } = copyRun('fallback');
    rmSync(join(runDir, 'checkpoints', 'best.safetensors'));
    const log: string[] = [];
    const r = await finalEvaluation({ runDir, config, threads: 1, log: (l) => log.push(l) });
    assert.equal(r!.record.checkpoint, 'last');
    assert.equal(r!.row.checkpoint, 'last');
    assert.ok(log.includes('final evaluation: the run kept no best checkpoint (no k-NN validation ran, eval.knn.every = 0?): evaluating last instead'), log.join('\n'));
    assert.match(log.at(-1)!, /^final probe on last \(epoch 1, step 20\): /);
  });

  test('fine-tuning on last', async () => {
    const { runDir, config: copied } = copyRun('finetune', { final: 'finetune', on: 'last' });
    // A batch larger than the train split's 64 clips: the settings record both what was asked and what ran.
    const config = { ...copied, train: { ...copied.train, batch_size: 100 } };
    const log: string[] = [];
    const r = await finalEvaluation({ runDir, config, threads: 1, maxSteps: 2, log: (l) => log.push(l) });
    assert.equal(r!.method, 'finetune');
    const [rec] = lines(join(runDir, 'eval.jsonl'));
    assert.equal(rec!.kind, 'finetune');
    assert.equal(rec!.final, true);
    assert.equal(rec!.checkpoint, 'last');
    assert.deepEqual(rec!.settings, { epochs: 5, lr: config.train.optimizer.lr, batch_size: 100, batch_run: 64, optimizer: config.train.optimizer.name, steps: 2, max_steps: 2, test_views: '3x1' });
    const row = lines(join(runDir, 'metrics.jsonl')).at(-1)!;
    assert.equal(row.kind, 'final');
    assert.equal(row.method, 'finetune');
    assert.equal(summaryOf(runDir).final!.kind, 'finetune');
    assert.match(log.at(-1)!, /^final finetune on last \(epoch 1, step 20\): clip top-1 /);
  });

  test('none: summary.json only, with no final result', async () => {
    const { runDir, config } = copyRun('none', { final: 'none' });
    const before = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8');
    const log: string[] = [];
    assert.equal(await finalEvaluation({ runDir, config, log: (l) => log.push(l) }), null);
    assert.ok(!existsSync(join(runDir, 'eval.jsonl')));
    assert.equal(readFileSync(join(runDir, 'metrics.jsonl'), 'utf8'), before);
    const s = summaryOf(runDir);
    assert.equal(s.final, null);
    assert.deepEqual([s.status, s.step, s.epoch], ['finished', 20, 1]);
    assert.deepEqual(log, ['final evaluation: none (eval.final = none)']);
  });

  test('the summary of metrics rows: the last training row, the best and last k-NN, nulls when there are none', () => {
    const rows = [
      { step: 1, epoch: 0, 'loss.space': 2, 'loss.space.up': 1, 'loss.time': 3 },
      { kind: 'knn', step: 1, epoch: 1, top1: 40 },
      { step: 2, epoch: 1, 'loss.space': 1.5, 'loss.space.up': 0.5, 'loss.time': 0.25 },
      { kind: 'knn', step: 2, epoch: 2, top1: 30 },
    ];
    assert.deepEqual(runSummary(rows, null), { status: 'finished', step: 2, epoch: 1, loss: 1.75, knn: { best: 40, last: 30 }, final: null });
    assert.deepEqual(runSummary([], null), { status: 'finished', step: null, epoch: null, loss: null, knn: { best: null, last: null }, final: null });
  });

  test('a run it cannot evaluate: one line naming it', async () => {
    const { config: trainedConfig } = loadConfig({ file: join(trained, 'config.yaml') });
    const config = { ...trainedConfig, eval: { ...trainedConfig.eval, final: 'probe' as const } };
    const empty = join(tmp, 'no-checkpoint');
    mkdirSync(empty);
    writeFileSync(join(empty, 'config.yaml'), readFileSync(join(trained, 'config.yaml')));
    const reject = (runDir: string, re: RegExp) => assert.rejects(finalEvaluation({ runDir, config, log: () => {} }), (e: unknown) => e instanceof UserError && re.test(e.message));
    await reject(empty, /^.*no-checkpoint\/checkpoints: no checkpoint to evaluate \(no best\.safetensors or last\.safetensors\) \(the final evaluation runs on a run that has saved a checkpoint\)$/);
    await reject(join(tmp, 'missing'), /^.*missing: no such run directory$/);
    mkdirSync(join(empty, 'checkpoints'));
    writeFileSync(join(empty, 'checkpoints', 'last.safetensors'), Buffer.from([1, 2, 3]));
    await reject(empty, /^.*last\.safetensors: truncated: 3 bytes, less than the 8-byte header length$/);
    assert.ok(!existsSync(join(empty, 'eval.jsonl')) && !existsSync(join(empty, 'summary.json')));
  });
});
