// A sweep's records on disk, without training: sweep.json written once and compared (another grid, base config,
// --set or config is named), each run's status from its directory, and the summary (CSV, text, self-contained HTML)
// from metrics.jsonl and eval.jsonl rows written here.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { combinations, parseGrid } from '../../src/sweep/grid.ts';
import type { SweepPlan } from '../../src/sweep/plan.ts';
import { checkSameSweep, readSweepRecord, recordOf, sweepFile, writeSweepRecord } from '../../src/sweep/record.ts';
import { runMetrics } from '../../src/sweep/metrics.ts';
import { checkpointStep, runStatus, writeAttempt } from '../../src/sweep/status.ts';
import { csvField, readSummary, summaryCsv, summaryText, writeSummary } from '../../src/sweep/summary.ts';
import { tempDir } from '../temp.ts';

const { dir: tmp, cleanup } = tempDir('sweep-summary');
after(cleanup);

/** A plan as planSweep makes it, with made-up config hashes (no config is loaded here). */
function plan(dir: string, grid: string[], o: { config?: string; set?: string[]; hash?: (i: number) => string } = {}): SweepPlan {
  const axes = parseGrid(grid);
  const runs = combinations(axes).map((c) => ({ ...c, hash: o.hash?.(c.index) ?? `hash${c.index}`, runDir: join(dir, c.name) }));
  return { dir, config: o.config ?? '/configs/base.yaml', set: o.set ?? ['data.root=/data'], axes, runs };
}

const jsonl = (rows: object[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

function checkpointAt(runDir: string, step: number): void {
  mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
  const file = `step-${String(step).padStart(8, '0')}.safetensors`;
  writeFileSync(join(runDir, 'checkpoints', file), '');
  symlinkSync(file, join(runDir, 'checkpoints', 'last.safetensors'));
}

const attempt = (status: 'finished' | 'failed' | 'interrupted', exit: number | null) => ({ status, exit, signal: null, step: null, time: '2025-01-01T00:00:00.000Z', log: 'train.log' });

describe('sweep records', () => {
  test('sweep.json is written once; a later sweep into DIR must be the same one, else the difference is named', () => {
    const dir = join(tmp, 'record');
    const p = plan(dir, ['train.optimizer.lr=0.05,0.1', 'train.seed=1']);
    writeSweepRecord(p);
    const text = readFileSync(sweepFile(dir), 'utf8');
    assert.deepEqual(readSweepRecord(dir), recordOf(p));
    assert.deepEqual(JSON.parse(text).combinations.map((c: { name: string }) => c.name), ['train.optimizer.lr-0.05__train.seed-1', 'train.optimizer.lr-0.1__train.seed-1']);
    checkSameSweep(p);
    writeSweepRecord(plan(dir, ['train.seed=7']));
    assert.equal(readFileSync(sweepFile(dir), 'utf8'), text, 'never rewritten');

    const hint = ' (rerun with the same base config, --set and --grid options to continue it, or choose another --out)';
    const refused = (q: SweepPlan, why: string) => assert.throws(() => checkSameSweep(q), (e: Error) => {
      assert.equal(e.message, `${dir}: holds another sweep: ${why}${hint}`);
      return true;
    });
    refused(plan(dir, ['train.optimizer.lr=0.05,0.2', 'train.seed=1']), 'it was made with another grid: --grid train.optimizer.lr=0.05,0.1 --grid train.seed=1; now --grid train.optimizer.lr=0.05,0.2 --grid train.seed=1');
    refused(plan(dir, ['train.seed=1', 'train.optimizer.lr=0.05,0.1']), 'it was made with another grid: --grid train.optimizer.lr=0.05,0.1 --grid train.seed=1; now --grid train.seed=1 --grid train.optimizer.lr=0.05,0.1');
    refused(plan(dir, ['train.optimizer.lr=0.05,0.1', 'train.seed=1'], { config: '/configs/other.yaml' }), 'it was made with the base config /configs/base.yaml, now /configs/other.yaml');
    refused(plan(dir, ['train.optimizer.lr=0.05,0.1', 'train.seed=1'], { set: ['data.root=/data', 'train.epochs=2'] }), 'its --set options differ: now with --set train.epochs=2');
    refused(plan(dir, ['train.optimizer.lr=0.05,0.1', 'train.seed=1'], { set: ['data.root=/other'] }), 'its --set options differ: now without --set data.root=/data, with --set data.root=/other');
    refused(plan(dir, ['train.optimizer.lr=0.05,0.1', 'train.seed=1'], { hash: (i) => (i === 1 ? 'changed' : `hash${i}`) }),
      'the combination train.optimizer.lr=0.1 train.seed=1 gave config hash1 then and gives changed now: /configs/base.yaml or vhssl\'s defaults changed since');
  });

  test('a sweep.json that is not one is refused naming the file', () => {
    const dir = join(tmp, 'broken');
    mkdirSync(dir);
    writeFileSync(sweepFile(dir), '{"format": "vhssl-sweep/1", ');
    assert.throws(() => readSweepRecord(dir), /broken\/sweep\.json: not valid JSON: .* \(restore it, or choose another --out\)$/);
    writeFileSync(sweepFile(dir), '{"format": "other"}');
    assert.throws(() => readSweepRecord(dir), /broken\/sweep\.json: not a sweep record of format vhssl-sweep\/1 \(restore it, or choose another --out\)$/);
  });

  test('a run\'s status: finished (sweep-status.json or summary.json), failed, partial (a checkpoint), not started', () => {
    const run = (name: string) => {
      const d = join(tmp, 'status', name);
      mkdirSync(d, { recursive: true });
      return d;
    };
    assert.equal(runStatus(join(tmp, 'status', 'absent')), 'not started');
    const empty = run('empty');
    mkdirSync(join(empty, 'checkpoints'));
    assert.equal(runStatus(empty), 'not started');
    assert.equal(checkpointStep(empty), null);
    const partial = run('partial');
    checkpointAt(partial, 7);
    assert.equal(runStatus(partial), 'partial');
    assert.equal(checkpointStep(partial), 7);
    writeAttempt(partial, attempt('interrupted', 130));
    assert.equal(runStatus(partial), 'partial');
    const failed = run('failed');
    checkpointAt(failed, 3);
    writeAttempt(failed, attempt('failed', 1));
    assert.equal(runStatus(failed), 'failed');
    const done = run('done');
    writeAttempt(done, attempt('finished', 0));
    assert.equal(runStatus(done), 'finished');
    const byTrain = run('by-train');
    checkpointAt(byTrain, 9);
    writeFileSync(join(byTrain, 'summary.json'), JSON.stringify({ status: 'finished', step: 9 }));
    assert.equal(runStatus(byTrain), 'finished');
    writeFileSync(join(byTrain, 'summary.json'), '{"status": "fini');
    assert.equal(runStatus(byTrain), 'partial', 'a torn summary.json is not a finished run');
  });

  test('a curriculum run: partial once begun (even before its first checkpoint), its newest stage\'s checkpoint, metrics and summary', () => {
    const cur = join(tmp, 'status', 'curriculum');
    mkdirSync(cur, { recursive: true });
    const stages = ['stage-1', 'stage-2'].map((dir, i) => ({ index: i + 1, name: `s${i + 1}`, dir, config_hash: `h${i}`, status: 'pending', parent: null, steps: null }));
    writeFileSync(join(cur, 'curriculum.json'), JSON.stringify({ format: 'vhssl-curriculum/1', config_hash: 'h', optimizer_state: 'reset', stages }));
    assert.equal(runStatus(cur), 'partial', 'begun: --resume starts its first stage');
    assert.equal(checkpointStep(cur), null);
    checkpointAt(join(cur, 'stage-1'), 8);
    checkpointAt(join(cur, 'stage-2'), 3);
    writeFileSync(join(cur, 'stage-2', 'metrics.jsonl'), jsonl([{ step: 3, 'loss.space': 1.5 }, { kind: 'knn', step: 3, epoch: 1, top1: 25 }]));
    assert.equal(checkpointStep(cur), 3, 'the newest stage\'s checkpoint');
    assert.deepEqual([runMetrics(cur).steps, runMetrics(cur).loss, runMetrics(cur).knnLast], [3, 1.5, 25]);
    writeFileSync(join(cur, 'stage-2', 'summary.json'), JSON.stringify({ status: 'finished', step: 3 }));
    assert.equal(runStatus(cur), 'finished');
  });
});

describe('sweep summary', () => {
  test('one row per combination: grid values, status, steps, last loss, best and last k-NN top-1, final top-1', () => {
    const dir = join(tmp, 'summary');
    const p = plan(dir, ['arch.groups=[space,time],[patch,space,time]', 'train.seed=1,2']);
    writeSweepRecord(p);
    const [a, b, c] = p.runs.map((r) => r.runDir);
    mkdirSync(a!, { recursive: true });
    writeFileSync(join(a!, 'metrics.jsonl'), jsonl([
      { step: 5, epoch: 1, 'loss.space': 1.5, 'loss.space.up': 1.5, 'loss.time': 2, 'loss.time.down': 1, 'loss.time.summary': 1, 'lr.space': 0.1 },
      { kind: 'knn', step: 5, epoch: 1, top1: 25, top5: 75 },
      { step: 10, epoch: 2, 'loss.space': 1, 'loss.space.up': 1, 'loss.time': 0.5, 'loss.time.down': 0.25, 'loss.time.summary': 0.25 },
      { kind: 'knn', step: 10, epoch: 2, top1: 18.75, top5: 70 },
    ]) + '{"step": 11, "torn');
    writeFileSync(join(a!, 'eval.jsonl'), jsonl([
      { kind: 'probe', time: 't0', checkpoint: 'best', step: 10, epoch: 2, clip: { top1: 30, top5: 80, count: 16 }, final: true },
      { kind: 'knn', time: 't1', checkpoint: 'best', step: 10, epoch: 2, knn: [] },
      { kind: 'probe', time: 't2', checkpoint: 'best', step: 10, epoch: 2, clip: { top1: 31.25, top5: 81, count: 16 }, final: true },
      { kind: 'probe', time: 't3', checkpoint: 'last', step: 10, epoch: 2, clip: { top1: 99, top5: 99, count: 16 } },
    ]));
    writeAttempt(a!, attempt('finished', 0));
    mkdirSync(b!, { recursive: true });
    writeFileSync(join(b!, 'metrics.jsonl'), jsonl([{ step: 2, epoch: 0, 'loss.space': 3, 'loss.time': 4 }]));
    checkpointAt(b!, 2);
    mkdirSync(c!, { recursive: true });
    writeAttempt(c!, attempt('failed', 1));

    const s = readSummary(dir);
    assert.deepEqual(s.rows.map((r) => [r.name, r.values, r.status, r.steps, r.loss, r.knnBest, r.knnLast, r.finalTop1]), [
      [p.runs[0]!.name, ['[space,time]', '1'], 'finished', 10, 1.5, 25, 18.75, 31.25],
      [p.runs[1]!.name, ['[space,time]', '2'], 'partial', 2, 7, null, null, null],
      [p.runs[2]!.name, ['[patch,space,time]', '1'], 'failed', null, null, null, null, null],
      [p.runs[3]!.name, ['[patch,space,time]', '2'], 'not started', null, null, null, null, null],
    ]);
    assert.equal(summaryCsv(s), [
      'index,name,arch.groups,train.seed,status,steps,last_loss,knn_top1_best,knn_top1_last,final_top1',
      `0,${p.runs[0]!.name},"[space,time]",1,finished,10,1.5,25,18.75,31.25`,
      `1,${p.runs[1]!.name},"[space,time]",2,partial,2,7,,,`,
      `2,${p.runs[2]!.name},"[patch,space,time]",1,failed,,,,,`,
      `3,${p.runs[3]!.name},"[patch,space,time]",2,not started,,,,,`,
      '',
    ].join('\n'));
    const text = summaryText(s).split('\n');
    assert.equal(text.length, 5);
    assert.match(text[1]!, /^1 +arch\.groups-space_time_[0-9a-f]{6}__train\.seed-1 +\[space,time\] +1 +finished +10 +1\.5000 +25\.00 +18\.75 +31\.25$/);
    assert.match(text[4]!, /not started +– +– +– +– +–$/);

    const { csv, html } = writeSummary(dir);
    assert.equal(readFileSync(csv, 'utf8'), summaryCsv(s));
    const page = readFileSync(html, 'utf8');
    for (const r of p.runs) assert.ok(page.includes(`<td class="text">${r.name}</td>`), r.name);
    assert.ok(page.includes('<td class="text">partial</td>') && page.includes('<td>31.25</td>'));
    assert.equal((page.match(/<svg /g) ?? []).length, 3, 'final metrics, k-NN and loss charts');
    assert.doesNotMatch(page, /<script|<link|src="|href="http/, 'self-contained');
  });

  test('CSV fields with commas, quotes or line breaks are quoted', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('[a,b]'), '"[a,b]"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
  });

  test('summary of a folder that is no sweep: the folder and what to give instead', () => {
    assert.throws(() => readSummary(tmp), (e: Error) => {
      assert.equal(e.message, `${tmp}: is not a sweep directory: it has no ${join(tmp, 'sweep.json')} (give the --out of a vhssl sweep)`);
      return true;
    });
  });
});
