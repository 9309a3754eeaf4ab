// The report's view of the levels' spread recorded at each k-NN validation: one effective-rank and one std curve per
// level, and a table of the last validation beside the first; rows without `levels` (older runs) and malformed
// entries are left out, not fatal.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { buildReport, levelSpreadOf, trainingCharts, type MetricRecord } from '../../src/eval/report.ts';
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
