// The report's view of the levels' spread recorded at each k-NN validation: one effective-rank and one std curve per
// level, and a table of the last validation beside the first; rows without `levels` (older runs) and malformed
// entries are left out, not fatal. The charts' ticks are round (integers on step and epoch axes), series that coincide
// stay visible and say so, rows of another kind are ignored, and the evaluations table tells results apart by their
// settings and puts the final evaluation at the top of the page.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { linearTicks, lineChartSvg, logTicks, tickLabels } from '../../src/eval/plot.ts';
import { buildReport, finalEvaluation, levelSpreadOf, trainingCharts, type EvalRecord, type MetricRecord } from '../../src/eval/report.ts';
import { tempDir, tinyConfig } from './fixtures.ts';

const spread = (erank: number, std: number) => ({
  embedding: { erank, std, dim: 64 },
  'level.space': { erank: 2 * erank, std: std / 2, dim: 64 },
});

const records: MetricRecord[] = [
  { step: 10, epoch: 1, 'loss.space': 1 },
  { kind: 'knn', step: 10, epoch: 1, top1: 30, top5: 70, level: 'embedding' },
  { kind: 'knn', step: 20, epoch: 2, top1: 40, top5: 80, level: 'embedding', levels: spread(20.5, 0.5) },
  { kind: 'knn', step: 30, epoch: 3, top1: 45, top5: 85, level: 'embedding', levels: { ...spread(3.25, 0.0125), 'level.time': { erank: 'x', std: 1, dim: 64 } } },
];

describe('report: the spread of each level', () => {
  const tmp = tempDir('report');
  after(() => tmp.cleanup());

  test('levelSpreadOf keeps well-formed entries only', () => {
    assert.deepEqual([...levelSpreadOf(records[3]!).keys()], ['embedding', 'level.space']);
    assert.equal(levelSpreadOf(records[1]!).size, 0);
    assert.equal(levelSpreadOf({ kind: 'knn', levels: [1, 2] }).size, 0);
  });

  test('an effective-rank and a std chart, one curve per level over the validations that recorded it', () => {
    const charts = trainingCharts(records);
    assert.deepEqual(charts.map((c) => c.id), ['loss-space', 'knn', 'erank', 'level-std']);
    const erank = charts.find((c) => c.id === 'erank')!.svg;
    assert.deepEqual([...erank.matchAll(/<title>([^<]*)<\/title><\/polyline>/g)].map((m) => m[1]), ['embedding', 'level.space']);
    // two points per curve: epochs 2 and 3
    for (const m of erank.matchAll(/points="([^"]*)"/g)) assert.equal(m[1]!.split(' ').length, 2);
    assert.deepEqual(trainingCharts(records.slice(0, 2)).map((c) => c.id), ['loss-space', 'knn'], 'no levels recorded, no charts');
  });

  test('the table: the last validation beside the first', () => {
    const runDir = join(tmp.dir, 'run');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'metrics.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
    const html = readFileSync(buildReport(runDir, tinyConfig(join(tmp.dir, 'store'))), 'utf8');
    const section = /<section id="spread">([\s\S]*?)<\/section>/.exec(html)![1]!;
    assert.match(section, /at the last validation \(epoch 3, step 30\) and at the first/);
    assert.match(section, /<th>erank, epoch 2, step 20<\/th><th>std, epoch 2, step 20<\/th>/);
    assert.ok(section.includes('<tr><td>embedding</td><td>64</td><td>3.25</td><td>0.051</td><td>0.0125</td><td>20.50</td><td>0.500</td></tr>'), section);
    assert.ok(section.includes('<tr><td>level.space</td><td>64</td><td>6.50</td><td>0.102</td><td>0.00625</td><td>41.00</td><td>0.250</td></tr>'), section);
    assert.ok(!section.includes('level.time'));
    assert.ok(html.includes('id="erank"') && html.includes('id="level-std"'));

    writeFileSync(join(runDir, 'metrics.jsonl'), records.slice(0, 2).map((r) => JSON.stringify(r)).join('\n'));
    const bare = readFileSync(buildReport(runDir, tinyConfig(join(tmp.dir, 'store'))), 'utf8');
    assert.match(bare, /<section id="spread"><h2>Spread of each level<\/h2>\n<p>No validation has recorded/);
  });
});

describe('report: charts that read well', () => {
  test('round ticks: integers on count axes, 1-2-5 steps, labels with the decimals the step needs', () => {
    assert.deepEqual(linearTicks(1, 3, { count: 8, integer: true }), [1, 2, 3], 'no 1.5 epochs');
    assert.deepEqual(linearTicks(1, 30, { count: 8, integer: true }), [5, 10, 15, 20, 25, 30]);
    assert.deepEqual(linearTicks(0, 0.1, { count: 5 }), [0, 0.02, 0.04, 0.06, 0.08, 0.1]);
    assert.deepEqual(linearTicks(0, 100_000, { count: 5, integer: true }), [0, 20_000, 40_000, 60_000, 80_000, 100_000]);
    assert.deepEqual(tickLabels([0, 0.02, 0.04, 0.1]), ['0.00', '0.02', '0.04', '0.10']);
    assert.deepEqual(tickLabels([-0.5, 0, 0.5]), ['-0.5', '0.0', '0.5']);
    assert.deepEqual(tickLabels([0, 20_000, 40_000]), ['0', '20k', '40k']);
    assert.deepEqual(logTicks(1e-4, 10), [1e-4, 1e-3, 0.01, 0.1, 1, 10], 'decades');
    assert.deepEqual(logTicks(0.55, 4.2), [0.6, 0.8, 1, 2, 3, 4], '1…9 × 10^k, thinned where they crowd');
    assert.deepEqual(logTicks(0.85, 2), [0.9, 1, 1.5, 2]);
  });

  test('the epoch axis of a 3-epoch run has ticks 1, 2, 3 only; a step axis has integer ticks', () => {
    const texts = (svg: string) => [...svg.matchAll(/<g class="ticks"[^>]*>([\s\S]*?)<\/g>/g)][0]![1]!;
    const knn = trainingCharts(records).find((c) => c.id === 'knn')!.svg;
    const xTicks = [...texts(knn).matchAll(/text-anchor="middle">([^<]*)</g)].map((m) => m[1]);
    assert.deepEqual(xTicks, ['1', '2', '3']);
    const steps = Array.from({ length: 7 }, (_, i) => ({ step: i + 1, epoch: 0, 'loss.space': 2 / (i + 1), 'loss.space.up': 2 / (i + 1) }));
    const loss = trainingCharts(steps).find((c) => c.id === 'loss-space')!.svg;
    for (const m of texts(loss).matchAll(/text-anchor="middle">([^<]*)</g)) assert.match(m[1]!, /^\d+$/);
  });

  test('series that coincide are drawn as nested stripes and the legend names the equal ones', () => {
    const x = [1, 2, 3];
    const svg = lineChartSvg([
      { name: 'loss.space', x, y: [3, 2, 1] },
      { name: 'loss.space.up', x, y: [3, 2, 1 + 1e-9] },
      { name: 'loss.space.side', x, y: [1, 1, 1] },
    ], { title: 'Loss of space', xLabel: 'step', logY: true, integerX: true });
    const widths = [...svg.matchAll(/<polyline [^>]*stroke-width="([\d.]+)"[^>]*><title>([^<]*)</g)].map((m) => [m[2], Number(m[1])]);
    assert.deepEqual(widths, [['loss.space', 5.5], ['loss.space.up', 2.5], ['loss.space.side', 2.5]], 'the first of two equal series is drawn wider, under the second');
    assert.deepEqual([...svg.matchAll(/<polyline [^>]*?(stroke-dasharray="[^"]*")?\s*points/g)].map((m) => m[1] !== undefined), [false, true, false], 'the second dashed');
    const legend = /<g class="legend">([\s\S]*?)<\/g>/.exec(svg)![1]!;
    assert.deepEqual([...legend.matchAll(/<text[^>]*>([^<]*)</g)].map((m) => m[1]), ['loss.space (= loss.space.up)', 'loss.space.up (= loss.space)', 'loss.space.side']);
    assert.match(svg, /^<svg [^>]*viewBox="0 0 680 /);
  });

  test('rows of another kind (final, …) are left out of the charts, like k-NN rows are out of the step charts', () => {
    const withFinal = [...records, { kind: 'final', step: 30, epoch: 3, top1: 99, 'loss.space': 1e6, levels: spread(60, 9) }];
    assert.deepEqual(trainingCharts(withFinal), trainingCharts(records));
  });
});

describe('report: the evaluations', () => {
  const tmp = tempDir('report-evals');
  after(() => tmp.cleanup());
  const at = { checkpoint: 'last', step: 30, epoch: 3 };
  const acc = (top1: number) => ({ clip: { top1, top5: 90, count: 24 }, video: { top1: top1 + 1, top5: 95, count: 8 } });
  const evals: EvalRecord[] = [
    { kind: 'probe', time: '2026-01-01T00:00:00Z', ...at, level: 'embedding', settings: { epochs: 5, lr: 0.001, batch_size: 64, head: 'linear' }, ...acc(41) },
    { kind: 'probe', time: '2026-01-01T00:01:00Z', ...at, level: 'embedding', settings: { epochs: 50, lr: 0.01, batch_size: 64, head: 'mlp' }, ...acc(52) },
    { kind: 'knn', time: '2026-01-01T00:02:00Z', ...at, final: true, level: 'embedding', views: { train: '1x1', test: '3x1' }, knn: [{ k: 20, clip: { top1: 61, top5: 90, count: 24 }, video: { top1: 63, top5: 95, count: 8 } }] },
    { kind: 'probe', time: '2026-01-01T00:03:00Z', ...at, final: true, level: 'embedding', settings: { epochs: 5, lr: 0.001, batch_size: 64, head: 'linear' }, ...acc(58) },
  ];

  test('the final evaluation: the records marked final of the last such checkpoint and step', () => {
    assert.deepEqual(finalEvaluation(evals).map((e) => e.time), ['2026-01-01T00:02:00Z', '2026-01-01T00:03:00Z']);
    assert.deepEqual(finalEvaluation([{ ...evals[3]!, step: 10 }, evals[2]!]).map((e) => e.time), ['2026-01-01T00:02:00Z'], 'an older final evaluation is not this one');
    assert.deepEqual(finalEvaluation(evals.slice(0, 2)), []);
  });

  test('a "Final evaluation" section at the top; every row shows its settings; final rows are marked', () => {
    const runDir = join(tmp.dir, 'run');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'metrics.jsonl'), records.map((r) => JSON.stringify(r)).join('\n'));
    writeFileSync(join(runDir, 'eval.jsonl'), evals.map((r) => JSON.stringify(r)).join('\n'));
    const html = readFileSync(buildReport(runDir, tinyConfig(join(tmp.dir, 'store'))), 'utf8');
    const order = ['id="summary"', 'id="final"', 'id="curves"', 'id="evaluation"'].map((id) => html.indexOf(id));
    assert.deepEqual([...order].sort((a, b) => a - b), order, `sections in order ${order}`);
    const final = /<section id="final">([\s\S]*?)<\/section>/.exec(html)![1]!;
    assert.match(final, /<h2>Final evaluation<\/h2>/);
    assert.equal([...final.matchAll(/<tr class="final">/g)].length, 2);
    assert.match(final, /<td>k-NN k=20<\/td><td>embedding<\/td><td class="settings">views 1x1 \/ 3x1<\/td><td>last, epoch 3, step 30<\/td><td>61.00<\/td>/);
    const all = /<section id="evaluation">([\s\S]*?)<\/section>/.exec(html)![1]!;
    const settings = [...all.matchAll(/<td class="settings">([^<]*)<\/td>/g)].map((m) => m[1]);
    assert.deepEqual(settings, ['epochs 5, lr 0.001, batch_size 64, head linear', 'epochs 50, lr 0.01, batch_size 64, head mlp', 'views 1x1 / 3x1', 'epochs 5, lr 0.001, batch_size 64, head linear']);
    assert.equal([...all.matchAll(/<tr class="final">/g)].length, 2);

    writeFileSync(join(runDir, 'eval.jsonl'), evals.slice(0, 2).map((r) => JSON.stringify(r)).join('\n'));
    const none = readFileSync(buildReport(runDir, tinyConfig(join(tmp.dir, 'store'))), 'utf8');
    assert.ok(!none.includes('id="final"'), 'no final evaluation, no section');
  });
});
