// `vhssl sweep summary DIR`: one row per combination of DIR/sweep.json (its grid values, status, steps, last loss,
// best and last k-NN top-1, final evaluation top-1) as DIR/summary.csv, DIR/summary.html (self-contained: the table
// and inline SVG charts) and a text table.
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic.ts';
import { UserError } from '../errors.ts';
import { escapeXml, lineChartSvg, type Series } from '../eval/plot.ts';
import { runMetrics, type RunMetrics } from './metrics.ts';
import { readSweepRecord, sweepFile, type SweepRecord } from './record.ts';
import { runStatus, type RunStatus } from './status.ts';

export interface SummaryRow extends RunMetrics {
  index: number;
  name: string;
  /** The grid values, in axis order, as written. */
  values: string[];
  status: RunStatus;
}

export interface Summary {
  record: SweepRecord;
  rows: SummaryRow[];
}

export function readSummary(dir: string): Summary {
  const record = readSweepRecord(dir);
  if (!record) throw new UserError(dir, `is not a sweep directory: it has no ${sweepFile(dir)}`, 'give the --out of a vhssl sweep');
  const rows = record.combinations.map((c): SummaryRow => {
    const runDir = join(dir, c.name);
    const values = record.grid.map((a, i) => c.set[i]!.slice(a.key.length + 1));
    return { index: c.index, name: c.name, values, status: runStatus(runDir), ...runMetrics(runDir) };
  });
  return { record, rows };
}

/** The table's columns: header, CSV value (full precision; empty when absent), text value. */
interface Column {
  head: string;
  csv: (r: SummaryRow) => string;
  text: (r: SummaryRow) => string;
}

const NONE = '–';
const fixed = (v: number | null, digits: number) => (v === null ? NONE : v.toFixed(digits));
const raw = (v: number | null) => (v === null ? '' : String(v));

function columns(record: SweepRecord): Column[] {
  const metric = (head: string, get: (r: SummaryRow) => number | null, digits: number): Column => ({ head, csv: (r) => raw(get(r)), text: (r) => fixed(get(r), digits) });
  return [
    { head: '#', csv: (r) => String(r.index), text: (r) => String(r.index + 1) },
    { head: 'name', csv: (r) => r.name, text: (r) => r.name },
    ...record.grid.map((a, i): Column => ({ head: a.key, csv: (r) => r.values[i]!, text: (r) => r.values[i]! })),
    { head: 'status', csv: (r) => r.status, text: (r) => r.status },
    metric('steps', (r) => r.steps, 0),
    metric('last_loss', (r) => r.loss, 4),
    metric('knn_top1_best', (r) => r.knnBest, 2),
    metric('knn_top1_last', (r) => r.knnLast, 2),
    metric('final_top1', (r) => r.finalTop1, 2),
  ];
}

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
export const csvField = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function summaryCsv(s: Summary): string {
  const cols = columns(s.record);
  const lines = [cols.map((c) => csvField(c.head === '#' ? 'index' : c.head)), ...s.rows.map((r) => cols.map((c) => csvField(c.csv(r))))];
  return lines.map((l) => `${l.join(',')}\n`).join('');
}

export function summaryText(s: Summary): string {
  const cols = columns(s.record);
  const cells = [cols.map((c) => c.head), ...s.rows.map((r) => cols.map((c) => c.text(r)))];
  const widths = cols.map((_, j) => Math.max(...cells.map((row) => row[j]!.length)));
  // Names and grid values left-aligned, numbers right-aligned.
  const left = (j: number) => j > 0 && j <= s.record.grid.length + 2;
  return cells.map((row) => row.map((cell, j) => (left(j) ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  ').trimEnd()).join('\n');
}

/** Charts: each run's final metrics by combination number, its k-NN top-1 and its loss during training. */
function charts(s: Summary): { id: string; svg: string }[] {
  const byRun = (get: (r: SummaryRow) => number | null, name: string): Series => {
    const rows = s.rows.filter((r) => get(r) !== null);
    return { name, x: rows.map((r) => r.index + 1), y: rows.map((r) => get(r)!) };
  };
  const finals = [byRun((r) => r.knnBest, 'k-NN top-1, best'), byRun((r) => r.knnLast, 'k-NN top-1, last'), byRun((r) => r.finalTop1, 'final top-1')].filter((x) => x.x.length > 0);
  const curves = (get: (r: SummaryRow) => { x: number[]; y: number[] }): Series[] => s.rows.map((r) => ({ name: `#${r.index + 1}`, ...get(r) })).filter((x) => x.x.length > 0);
  const out: { id: string; svg: string }[] = [];
  if (finals.length) out.push({ id: 'final', svg: lineChartSvg(finals, { title: 'Final metrics per run (%)', xLabel: 'run #', yLabel: '%', integerX: true }) });
  const knn = curves((r) => r.knnCurve);
  if (knn.length) out.push({ id: 'knn', svg: lineChartSvg(knn, { title: 'k-NN top-1 during training (%)', xLabel: 'step', yLabel: '%', integerX: true }) });
  const loss = curves((r) => r.lossCurve);
  if (loss.length) out.push({ id: 'loss', svg: lineChartSvg(loss, { title: 'Loss during training (sum of the groups)', xLabel: 'step', yLabel: 'loss', logY: true, integerX: true }) });
  return out;
}

export function summaryHtml(dir: string, s: Summary): string {
  const cols = columns(s.record);
  const title = `vhssl sweep ${escapeXml(dir)}`;
  const counts = (['finished', 'partial', 'failed', 'not started'] as const).map((st) => [st, s.rows.filter((r) => r.status === st).length] as const).filter(([, n]) => n > 0);
  const figures = charts(s);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${title}</title>`,
    '<style>body{font-family:sans-serif;max-width:1200px;margin:1em auto;padding:0 1em;color:#222}section{margin:1.5em 0}' +
      '.charts{display:flex;flex-wrap:wrap;gap:12px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}' +
      'td.text,th.text{text-align:left}code{background:#f4f4f4;padding:0 3px}</style>',
    '</head><body>',
    `<h1>${title}</h1>`,
    '<section id="sweep"><ul>',
    `<li>base config <code>${escapeXml(s.record.config)}</code>${s.record.set.length ? `, ${s.record.set.map((x) => `<code>--set ${escapeXml(x)}</code>`).join(' ')}` : ''}</li>`,
    `<li>grid ${s.record.grid.map((a) => `<code>--grid ${escapeXml(`${a.key}=${a.values.join(',')}`)}</code>`).join(' ')}: ${s.rows.length} runs (${counts.map(([st, n]) => `${n} ${st}`).join(', ')})</li>`,
    '</ul></section>',
    '<section id="runs"><h2>Runs</h2>',
    `<table><thead><tr>${cols.map((c, j) => `<th${j > 0 && j <= s.record.grid.length + 2 ? ' class="text"' : ''}>${escapeXml(c.head)}</th>`).join('')}</tr></thead><tbody>`,
    ...s.rows.map((r) => `<tr>${cols.map((c, j) => `<td${j > 0 && j <= s.record.grid.length + 2 ? ' class="text"' : ''}>${escapeXml(c.text(r))}</td>`).join('')}</tr>`),
    '</tbody></table>',
    '<p>last_loss: the sum of the groups\' losses at the last logged step; k-NN top-1 of the validations during training; final_top1: clip top-1 of the final evaluation (eval.jsonl, <code>final: true</code>).</p>',
    '</section>',
    '<section id="charts"><h2>Charts</h2>',
    figures.length ? `<div class="charts">\n${figures.map((f) => `<figure id="chart-${f.id}">${f.svg}</figure>`).join('\n')}\n</div>` : '<p>No metrics yet.</p>',
    '</section>',
    '</body></html>',
    '',
  ].join('\n');
}

/** Writes DIR/summary.csv and DIR/summary.html; returns the summary and the two paths. */
export function writeSummary(dir: string): { summary: Summary; csv: string; html: string } {
  const summary = readSummary(dir);
  const csv = join(dir, 'summary.csv');
  const html = join(dir, 'summary.html');
  writeFileAtomic(csv, summaryCsv(summary));
  writeFileAtomic(html, summaryHtml(dir, summary));
  return { summary, csv, html };
}
