// The final evaluation of a finished run (config `eval.final`: probe | finetune | none, on the checkpoint `eval.on`:
// best | last), and what a run directory records of it: a row in RUN_DIR/eval.jsonl (`final: true`, with the settings
// that produced it), a `kind: 'final'` row appended to RUN_DIR/metrics.jsonl, and RUN_DIR/summary.json (written
// atomically, also when there is no final evaluation), the run's outcome in one small file.
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic.ts';
import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { fsUserError } from '../fs-errors.ts';
import { EMBEDDING } from '../graph/names.ts';
import type { ExecutionProvider } from '../runtime/session.ts';
import { DEFAULT_TEST_VIEWS, viewsText } from './features.ts';
import { finetune, type FinetuneOptions, type FinetuneResult } from './finetune.ts';
import type { Accuracy } from './knn.ts';
import { probeRun } from './probe.ts';
import { readJsonl, type EvalRecord, type MetricRecord } from './report.ts';
import { loadRun, type Run } from './run.ts';

/** An EvalRecord before the run's checkpoint is named in it. */
export type EvalResult = Omit<EvalRecord, 'time' | 'checkpoint' | 'step' | 'epoch'>;

/** `r` for the checkpoint of `run`, stamped with the time, appended to RUN_DIR/eval.jsonl; returns the record. */
export function appendEvalRecord(run: Run, r: EvalResult): EvalRecord {
  const record: EvalRecord = { time: new Date().toISOString(), checkpoint: run.checkpoint.name, step: run.checkpoint.step, epoch: run.checkpoint.epoch, ...r };
  appendLine(join(run.dir, 'eval.jsonl'), record);
  return record;
}

function appendLine(file: string, row: unknown): void {
  try {
    appendFileSync(file, `${JSON.stringify(row)}\n`);
  } catch (e) {
    throw fsUserError(e, file) ?? e;
  }
}

export interface RunSummary {
  status: 'finished';
  /** the last training row's step and epoch (null: no training row) */
  step: number | null;
  epoch: number | null;
  /** the last training row's main loss: the sum of its groups' totals `loss.<group>` */
  loss: number | null;
  /** k-NN top-1 (clip level) of the validations during training: the highest and the last */
  knn: { best: number | null; last: number | null };
  final: EvalRecord | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** `loss.<group>` keys only: the groups' totals, not their terms (`loss.<group>.<term>`). */
const GROUP_LOSS = /^loss\.[^.]+$/;

/** The sum of a step row's group totals (what the progress line shows), or undefined when it has none. */
export function rowLoss(r: MetricRecord): number | undefined {
  const values = Object.keys(r).filter((k) => GROUP_LOSS.test(k)).map((k) => num(r[k]));
  if (values.length === 0 || values.some((v) => v === null)) return undefined;
  return values.reduce((s: number, v) => s + v!, 0);
}

/** The summary of a run from its metrics rows (training rows have no `kind`; validations have `kind: 'knn'`). */
export function runSummary(rows: readonly MetricRecord[], final: EvalRecord | null): RunSummary {
  const steps = rows.filter((r) => r.kind === undefined && num(r.step) !== null);
  const last = steps.at(-1);
  const knn = rows.filter((r) => r.kind === 'knn').map((r) => num(r.top1)).filter((v) => v !== null);
  return {
    status: 'finished',
    step: last ? num(last.step) : null,
    epoch: last ? num(last.epoch) : null,
    loss: (last && rowLoss(last)) ?? null,
    knn: { best: knn.length ? Math.max(...knn) : null, last: knn.at(-1) ?? null },
    final,
  };
}

/** A finished run's summary, in its run directory. */
export const SUMMARY_FILE = 'summary.json';

/** Writes RUN_DIR/summary.json (atomically) from RUN_DIR/metrics.jsonl and the final evaluation; returns it. */
export function writeRunSummary(runDir: string, final: EvalRecord | null): RunSummary {
  const summary = runSummary(readJsonl(join(runDir, 'metrics.jsonl')).records, final);
  writeFileAtomic(join(runDir, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

export interface FinalOptions {
  runDir: string;
  /** the run's config: its `eval.final`, `eval.on` and `eval.probe` choose the evaluation */
  config: Config;
  ep?: ExecutionProvider;
  threads?: number;
  /** progress and result lines (default: stderr) */
  log?: (line: string) => void;
  /** progress bars (default: when stderr is a terminal) */
  progress?: boolean;
  /** fine-tuning: stop after this many steps (default: its epochs) */
  maxSteps?: number;
}

export interface FinalResult {
  method: 'probe' | 'finetune';
  /** the record appended to eval.jsonl */
  record: EvalRecord;
  /** the row appended to metrics.jsonl */
  row: Record<string, unknown>;
  summary: RunSummary;
}

/**
 * What a fine-tuning with `finetune()`'s defaults ran, as `EvalRecord.settings` (`batch_size` as asked: fine-tuning
 * takes fewer when the train split has fewer clips per epoch).
 */
export function finetuneSettings(config: Config, ran: Pick<FinetuneResult, 'steps' | 'batchSize'>, o: Pick<FinetuneOptions, 'epochs' | 'lr' | 'batchSize' | 'maxSteps' | 'testViews'> = {}): Record<string, string | number> {
  return {
    epochs: o.epochs ?? config.eval.probe.epochs, lr: o.lr ?? config.train.optimizer.lr, batch_size: o.batchSize ?? config.train.batch_size,
    batch_run: ran.batchSize, optimizer: config.train.optimizer.name, steps: ran.steps, ...(o.maxSteps !== undefined ? { max_steps: o.maxSteps } : {}), test_views: viewsText(o.testViews ?? DEFAULT_TEST_VIEWS),
  };
}

const pct = (a: Accuracy) => `${a.top1.toFixed(2)} %`;

function describe(run: Run): string {
  const c = run.checkpoint;
  const at = [c.epoch !== null ? `epoch ${c.epoch}` : null, c.step !== null ? `step ${c.step}` : null].filter((s) => s !== null);
  return `${c.name}${at.length ? ` (${at.join(', ')})` : ''}`;
}

/** `eval.on`, or `last` when it asks for `best` and the run kept none (no k-NN validation ran). */
function checkpointOf(runDir: string, on: 'best' | 'last', log: (line: string) => void): 'best' | 'last' {
  const dir = join(runDir, 'checkpoints');
  const has = (name: string) => existsSync(join(dir, `${name}.safetensors`));
  if (!has('last') && !has(on)) {
    throw new UserError(dir, `no checkpoint to evaluate (no ${on === 'best' ? 'best.safetensors or ' : ''}last.safetensors)`, 'the final evaluation runs on a run that has saved a checkpoint');
  }
  if (on === 'best' && !has('best')) {
    log('final evaluation: the run kept no best checkpoint (no k-NN validation ran, eval.knn.every = 0?): evaluating last instead');
    return 'last';
  }
  return on;
}

/**
 * The final evaluation of the run in `runDir`, by `config.eval.final` on the checkpoint `config.eval.on`: records it
 * (eval.jsonl, metrics.jsonl) and writes summary.json. Returns null, after writing summary.json, for `none`.
 */
export async function finalEvaluation(o: FinalOptions): Promise<FinalResult | null> {
  const log = o.log ?? ((line: string) => console.error(line));
  const progress = o.progress ?? process.stderr.isTTY === true;
  const method = o.config.eval.final;
  if (!existsSync(o.runDir) || !statSync(o.runDir).isDirectory()) throw new UserError(o.runDir, 'no such run directory');
  if (method === 'none') {
    log('final evaluation: none (eval.final = none)');
    writeRunSummary(o.runDir, null);
    return null;
  }
  const run = loadRun(o.runDir, { checkpoint: checkpointOf(o.runDir, o.config.eval.on, log) });
  let result: EvalResult;
  if (method === 'probe') {
    const p = o.config.eval.probe;
    log(`final evaluation: linear probe on ${describe(run)}, level ${EMBEDDING} (${p.epochs} epochs at least, lr ${p.lr}, batch ${p.batch_size} at most)`);
    const r = await probeRun(run, { ep: o.ep, threads: o.threads, progress, probe: { epochs: p.epochs, lr: p.lr, batchSize: p.batch_size } });
    log(`final evaluation: probe trained ${r.plan.steps} steps (${r.plan.epochs} epochs of ${r.plan.stepsPerEpoch}, batch ${r.plan.batchSize}) on ${r.counts.train} ${r.splits.train} clips, loss ${r.losses[0]!.toFixed(4)} → ${r.losses.at(-1)!.toFixed(4)}`);
    result = { kind: 'probe', level: r.level, views: r.views, splits: r.splits, clip: r.clip, video: r.video, settings: r.settings, final: true };
  } else {
    log(`final evaluation: fine-tuning ${describe(run)}${o.maxSteps !== undefined ? ` (at most ${o.maxSteps} steps)` : ''}`);
    const r = await finetune(o.config, run.spec, run.params, { maxSteps: o.maxSteps, ep: o.ep, threads: o.threads, progress });
    log(`final evaluation: fine-tuned ${r.steps} steps, loss per epoch ${r.losses.map((l) => l.toFixed(4)).join(' ')}`);
    result = { kind: 'finetune', level: EMBEDDING, clip: r.clip, video: r.video, settings: finetuneSettings(o.config, r, { maxSteps: o.maxSteps }), final: true };
  }
  const record = appendEvalRecord(run, result);
  const row = {
    kind: 'final', step: run.checkpoint.step, epoch: run.checkpoint.epoch, checkpoint: run.checkpoint.name, method,
    clip_top1: record.clip!.top1, clip_top5: record.clip!.top5, video_top1: record.video!.top1, video_top5: record.video!.top5,
  };
  appendLine(join(run.dir, 'metrics.jsonl'), row);
  const summary = writeRunSummary(run.dir, record);
  log(`final ${method} on ${describe(run)}: clip top-1 ${pct(record.clip!)}  video top-1 ${pct(record.video!)}`);
  return { method, record, row, summary };
}
