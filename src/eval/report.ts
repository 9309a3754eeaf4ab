// RUN_DIR/report.html: one self-contained page (inline SVG, no script, no external file) with the run's training
// curves from metrics.jsonl (losses per group and term, learning rates, gradient norms, collapse monitors, k-NN
// accuracy and each level's effective rank and std during training), the spread of each level at the last validation,
// the evaluations recorded in eval.jsonl (the final evaluation that `vhssl train` ran also at the top of the page), and
// the feature pictures in RUN_DIR/pictures. Charts read only their own rows: step rows (no `kind`) and `kind: 'knn'`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic.ts';
import { configHash, type Config } from '../config/index.ts';
import { escapeXml, lineChartSvg, type Series } from './plot.ts';
import type { KnnAccuracy } from './knn.ts';
import type { SpreadStats } from './spectrum.ts';

export type MetricRecord = Record<string, unknown>;

/** JSON lines; lines that do not parse (a torn last line of a live run) are skipped and counted. */
export function readJsonl(file: string): { records: MetricRecord[]; skipped: number } {
  if (!existsSync(file)) return { records: [], skipped: 0 };
  const records: MetricRecord[] = [];
  let skipped = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) records.push(v as MetricRecord);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { records, skipped };
}

/** One evaluation result, appended to RUN_DIR/eval.jsonl by `vhssl eval`. */
export interface EvalRecord {
  kind: 'knn' | 'probe' | 'finetune';
  time: string;
  checkpoint: string;
  step: number | null;
  epoch: number | null;
  level?: string;
  views?: { train: string; test: string };
  splits?: { train: string; test: string };
  /** k-NN: one entry per k */
  knn?: KnnAccuracy[];
  /** probe / fine-tune */
  clip?: { top1: number; top5: number; count: number };
  video?: { top1: number; top5: number; count: number };
  /** What produced the result (probe: epochs, lr, batch_size, head, …), so two rows of one kind can be told apart. */
  settings?: Record<string, string | number | boolean>;
  /** Written by the final evaluation that `vhssl train` runs after training (config eval.final, eval.on). */
  final?: boolean;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Series of every key matching `pred`, against `step` (or `x`), from step records (records without `kind`). */
function seriesOf(records: MetricRecord[], keys: string[], x = 'step'): Series[] {
  return keys.map((k) => {
    const xs: number[] = [];
    const ys: number[] = [];
    for (const r of records) {
      const [a, b] = [num(r[x]), num(r[k])];
      if (a !== undefined && b !== undefined) {
        xs.push(a);
        ys.push(b);
      }
    }
    return { name: k, x: xs, y: ys };
  }).filter((s) => s.x.length > 0);
}

/** The `levels` of a validation row (each level's spread), keeping the entries whose erank, std and dim are numbers. */
export function levelSpreadOf(r: MetricRecord): Map<string, SpreadStats> {
  const out = new Map<string, SpreadStats>();
  const levels = r.levels;
  if (!levels || typeof levels !== 'object' || Array.isArray(levels)) return out;
  for (const [name, v] of Object.entries(levels as Record<string, unknown>)) {
    const l = (v ?? {}) as Record<string, unknown>;
    const [erank, std, dim] = [num(l.erank), num(l.std), num(l.dim)];
    if (erank !== undefined && std !== undefined && dim !== undefined) out.set(name, { erank, std, dim });
  }
  return out;
}

/** One series per level of `key` (erank or std) over the validations that recorded it. */
function spreadSeries(knn: MetricRecord[], key: 'erank' | 'std', x: string): Series[] {
  const series = new Map<string, Series>();
  for (const r of knn) {
    const at = num(r[x]);
    if (at === undefined) continue;
    for (const [name, l] of levelSpreadOf(r)) {
      const s = series.get(name) ?? { name, x: [], y: [] };
      s.x.push(at);
      s.y.push(l[key]);
      series.set(name, s);
    }
  }
  return [...series.values()];
}

export interface Chart {
  id: string;
  title: string;
  svg: string;
}

/** The training-curve charts of a run's metrics. */
export function trainingCharts(records: MetricRecord[]): Chart[] {
  const steps = records.filter((r) => r.kind === undefined && num(r.step) !== undefined);
  const keys = [...new Set(steps.flatMap((r) => Object.keys(r).filter((k) => num(r[k]) !== undefined)))].sort();
  const charts: Chart[] = [];
  const lossKeys = keys.filter((k) => k.startsWith('loss.'));
  const groups = [...new Set(lossKeys.map((k) => k.split('.')[1]!))];
  for (const g of groups) {
    const mine = lossKeys.filter((k) => k.split('.')[1] === g);
    charts.push({ id: `loss-${g}`, title: `Loss: ${g}`, svg: lineChartSvg(seriesOf(steps, mine), { title: `Loss of ${g} (total and per term)`, xLabel: 'step', yLabel: 'loss', logY: true, integerX: true }) });
  }
  const families: [string, string, string, boolean][] = [
    ['lr.', 'lr', 'Learning rates', false],
    ['grad_norm.', 'grad-norm', 'Gradient norms (before clipping)', true],
    ['monitor.', 'monitor', 'Collapse monitors (mean per-channel std)', false],
  ];
  for (const [prefix, id, title, logY] of families) {
    const ks = keys.filter((k) => k.startsWith(prefix));
    if (ks.length) charts.push({ id, title, svg: lineChartSvg(seriesOf(steps, ks), { title, xLabel: 'step', logY, integerX: true }) });
  }
  const knn = records.filter((r) => r.kind === 'knn');
  if (knn.length) {
    const x = knn.some((r) => num(r.epoch) !== undefined) ? 'epoch' : 'step';
    const ks = ['top1', 'top5'].filter((k) => knn.some((r) => num(r[k]) !== undefined));
    charts.push({ id: 'knn', title: 'k-NN accuracy during training', svg: lineChartSvg(seriesOf(knn, ks, x), { title: 'k-NN accuracy during training (%)', xLabel: x, yLabel: '%', integerX: true }) });
    const erank = spreadSeries(knn, 'erank', x);
    if (erank.length) {
      charts.push({ id: 'erank', title: 'Effective rank per level', svg: lineChartSvg(erank, { title: 'Effective rank of the test features per level', xLabel: x, yLabel: 'erank', integerX: true }) });
      charts.push({ id: 'level-std', title: 'Feature std per level', svg: lineChartSvg(spreadSeries(knn, 'std', x), { title: 'Mean per-dimension std of the test features per level', xLabel: x, yLabel: 'std', integerX: true }) });
    }
  }
  const rate = keys.filter((k) => k === 'clips_per_s');
  if (rate.length) charts.push({ id: 'speed', title: 'Throughput', svg: lineChartSvg(seriesOf(steps, rate), { title: 'Throughput (clips/s)', xLabel: 'step', integerX: true }) });
  return charts;
}

const pct = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(2));

/** `epochs 5, lr 0.001, head linear, views 1x1 / 3x1`: what tells two results of one kind apart. */
function settingsText(e: EvalRecord): string {
  const parts = Object.entries(e.settings ?? {}).map(([k, v]) => `${k} ${String(v)}`);
  if (e.views) parts.push(`views ${e.views.train} / ${e.views.test}`);
  if (e.splits) parts.push(`${e.splits.train} → ${e.splits.test}`);
  return parts.join(', ');
}

const EVAL_HEAD = '<thead><tr><th>evaluation</th><th>level</th><th>settings</th><th>checkpoint</th><th>clip top-1</th><th>clip top-5</th><th>video top-1</th><th>video top-5</th><th>when (UTC)</th></tr></thead>';

/** `2026-01-01T00:02:00.000Z` → `2026-01-01 00:02` (UTC); other text as it is. */
const shortTime = (t: string) => (/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(t) ? `${t.slice(0, 10)} ${t.slice(11, 16)}` : t);

/** One table row per result of `e` (k-NN: one per k); the final evaluation's rows carry the class and a badge. */
function evalRows(e: EvalRecord, badge: boolean): string[] {
  const where = `${escapeXml(e.checkpoint)}${e.epoch !== null ? `, epoch ${e.epoch}` : ''}${e.step !== null ? `, step ${e.step}` : ''}`;
  const lines = e.knn ? e.knn.map((r) => ({ what: `k-NN k=${r.k}`, clip: r.clip, video: r.video })) : [{ what: e.kind, clip: e.clip, video: e.video }];
  const mark = e.final === true && badge ? ' <span class="badge">final</span>' : '';
  return lines.map((l) => `<tr${e.final === true ? ' class="final"' : ''}><td>${escapeXml(l.what)}${mark}</td><td>${escapeXml(e.level ?? 'embedding')}</td><td class="settings">${escapeXml(settingsText(e))}</td><td>${where}</td>` +
    `<td>${pct(l.clip?.top1)}</td><td>${pct(l.clip?.top5)}</td><td>${pct(l.video?.top1)}</td><td>${pct(l.video?.top5)}</td><td class="when" title="${escapeXml(e.time)}">${escapeXml(shortTime(e.time))}</td></tr>`);
}

const evalTable = (evals: readonly EvalRecord[], badge = true) => `<table class="evals">${EVAL_HEAD}<tbody>\n${evals.flatMap((e) => evalRows(e, badge)).join('\n')}\n</tbody></table>`;

/** The records of the latest final evaluation: those of the checkpoint and step of the last record marked final. */
export function finalEvaluation(evals: readonly EvalRecord[]): EvalRecord[] {
  const last = evals.filter((e) => e.final === true).at(-1);
  if (!last) return [];
  return evals.filter((e) => e.final === true && e.checkpoint === last.checkpoint && e.step === last.step);
}

function finalSection(evals: readonly EvalRecord[]): string {
  const final = finalEvaluation(evals);
  if (!final.length) return '';
  return '<section id="final"><h2>Final evaluation</h2>\n' +
    `<p>What <code>vhssl train</code> measured on ${escapeXml(final[0]!.checkpoint)} when training ended. Every evaluation is listed under <a href="#evaluation">Evaluations</a>.</p>\n` +
    `${evalTable(final, false)}\n</section>`;
}

function evalSection(evals: readonly EvalRecord[]): string {
  if (!evals.length) return '<p>No evaluation recorded yet (run <code>vhssl eval knn|probe|finetune --run RUN_DIR</code>).</p>';
  const marked = evals.some((e) => e.final === true) ? '; the final evaluation\'s rows are marked <span class="badge">final</span>' : '';
  return `<p>Every result in eval.jsonl, oldest first${marked}.</p>\n${evalTable(evals)}`;
}

/** Each level's spread at the last validation that recorded it, beside the first when there were several. */
function spreadTable(records: MetricRecord[]): string {
  const knn = records.filter((r) => r.kind === 'knn' && levelSpreadOf(r).size > 0);
  if (!knn.length) return '<p>No validation has recorded the levels\' spread yet (k-NN validation during training records it).</p>';
  const [first, last] = [knn[0]!, knn[knn.length - 1]!];
  const both = knn.length > 1;
  const when = (r: MetricRecord) => [num(r.epoch) !== undefined ? `epoch ${num(r.epoch)}` : '', num(r.step) !== undefined ? `step ${num(r.step)}` : ''].filter(Boolean).join(', ');
  const before = levelSpreadOf(first);
  const rows = [...levelSpreadOf(last)].map(([name, l]) => {
    const was = before.get(name);
    const then = both ? `<td>${was ? was.erank.toFixed(2) : '–'}</td><td>${was ? was.std.toPrecision(3) : '–'}</td>` : '';
    return `<tr><td>${escapeXml(name)}</td><td>${l.dim}</td><td>${l.erank.toFixed(2)}</td><td>${(l.erank / l.dim).toFixed(3)}</td><td>${l.std.toPrecision(3)}</td>${then}</tr>`;
  });
  const firstHead = both ? `<th>erank, ${escapeXml(when(first))}</th><th>std, ${escapeXml(when(first))}</th>` : '';
  return `<p>The test features of each level (one vector per clip) at the last validation (${escapeXml(when(last))})${both ? ' and at the first' : ''}. ` +
    'Effective rank: the exponential of the entropy of the normalised covariance spectrum, from 1 (every clip on one line: collapse) to dim (isotropic).</p>\n' +
    `<table><thead><tr><th>level</th><th>dim</th><th>effective rank</th><th>erank / dim</th><th>mean std</th>${firstHead}</tr></thead><tbody>\n` +
    `${rows.join('\n')}\n</tbody></table>`;
}

/** SVG files of RUN_DIR/pictures, in a stable order. */
function pictureFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const order = ['pca', 'tsne', 'umap'];
  return readdirSync(dir).filter((f) => f.endsWith('.svg')).sort((a, b) => order.indexOf(a.split('-')[0]!) - order.indexOf(b.split('-')[0]!) || (a < b ? -1 : 1));
}

/** Strips the XML prolog so an SVG file can sit inline in HTML. */
const inlineSvg = (text: string) => text.replace(/^<\?xml[^>]*>\s*/, '');

export function buildReport(runDir: string, config: Config): string {
  const { records, skipped } = readJsonl(join(runDir, 'metrics.jsonl'));
  const evals = readJsonl(join(runDir, 'eval.jsonl')).records as unknown as EvalRecord[];
  const charts = trainingCharts(records);
  const pics = pictureFiles(join(runDir, 'pictures'));
  const lastStep = records.reduce((m, r) => Math.max(m, r.kind === undefined ? num(r.step) ?? 0 : 0), 0);
  const a = config.arch;
  const title = `vhssl run ${escapeXml(runDir)}`;
  const html = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${title}</title>`,
    // Two charts per row from 1136 px (1400 px: 680 px each), one below; each SVG scales to its cell.
    '<style>body{font-family:sans-serif;font-size:15px;line-height:1.45;max-width:1400px;box-sizing:border-box;margin:0 auto;padding:8px 16px;color:#222}' +
      'section{margin:1.5em 0}.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:8px;align-items:start}' +
      'figure{margin:0;border:1px solid #ddd}figure svg{display:block;width:100%;height:auto}' +
      'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child,.evals td:nth-child(-n+4),.evals th:nth-child(-n+4){text-align:left}.evals .when,.evals th{white-space:nowrap}' +
      'tr.final{background:#fff6d6}#final{border-left:4px solid #e0a800;padding-left:12px}.badge{background:#e0a800;color:#fff;border-radius:3px;padding:0 5px;font-size:12px}' +
      'code{background:#f4f4f4;padding:0 3px}</style>',
    '</head><body>',
    `<h1>${title}</h1>`,
    '<section id="summary"><h2>Run</h2><ul>',
    `<li>config <code>${configHash(config)}</code>: task ${escapeXml(a.task)}, groups ${escapeXml(a.groups.join(', '))}, stem ${escapeXml(a.stem)}, ${config.data.frames}×${config.data.height}×${config.data.width} input, dataset ${escapeXml(config.data.dataset)}</li>`,
    `<li>${records.length} metric records up to step ${lastStep}${skipped ? ` (${skipped} unreadable lines skipped)` : ''}</li>`,
    '</ul></section>',
    finalSection(evals),
    '<section id="curves"><h2>Training curves</h2>',
    charts.length ? `<div class="charts">\n${charts.map((c) => `<figure id="${c.id}">${c.svg}</figure>`).join('\n')}\n</div>` : '<p>No metrics.jsonl records yet.</p>',
    '</section>',
    `<section id="spread"><h2>Spread of each level</h2>\n${spreadTable(records)}\n</section>`,
    `<section id="evaluation"><h2>Evaluations</h2>\n${evalSection(evals)}\n</section>`,
    '<section id="pictures"><h2>Feature pictures</h2>',
    pics.length
      ? `<div class="charts">\n${pics.map((f) => `<figure id="picture-${escapeXml(f.replace(/\.svg$/, ''))}">${inlineSvg(readFileSync(join(runDir, 'pictures', f), 'utf8'))}</figure>`).join('\n')}\n</div>`
      : '<p>No pictures yet (<code>vhssl eval pictures --run RUN_DIR</code>).</p>',
    '</section>',
    '</body></html>',
    '',
  ].join('\n');
  const out = join(runDir, 'report.html');
  writeFileAtomic(out, html);
  return out;
}
