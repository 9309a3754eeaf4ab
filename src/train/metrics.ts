// Observability: metrics as JSON lines in the run directory (one row per logged step, one per validation), and a
// progress line with step, loss, clips/s and ETA (a live bar on a terminal, a plain line every `log_every` steps
// otherwise). The rows are pure functions of what a step returns.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { writeFileAtomic } from '../atomic.ts';
import type { KnnSummary, LevelSpread } from '../eval/validate.ts';
import { gradNormName, lossName, lrName } from '../graph/names.ts';
import type { LossValue, StepResult } from '../runtime/stepper.ts';

/** Clips, wall time and time spent waiting for data (ms) since the last logged step. */
export interface Throughput {
  clips: number;
  ms: number;
  wait: number;
}

export const NO_THROUGHPUT: Throughput = { clips: 0, ms: 0, wait: 0 };

export const addStep = (w: Throughput, clips: number, ms: number, wait: number): Throughput => ({ clips: w.clips + clips, ms: w.ms + ms, wait: w.wait + wait });

export const clipsPerSecond = (w: Throughput): number => (w.clips / w.ms) * 1000;

/** The sum of the groups' total losses: the loss the progress line shows. */
export const mainLoss = (losses: readonly LossValue[]): number => losses.filter((l) => l.term === null).reduce((s, l) => s + l.value, 0);

/** Losses by output name (`loss.<group>`, `loss.<group>.<term>`): the keys of a metrics row. */
export const namedLosses = (losses: readonly LossValue[]): Record<string, number> => Object.fromEntries(losses.map((l) => [lossName(l), l.value]));

/**
 * The row of a logged step: step, epoch, throughput over the steps since the last row, then per group its learning
 * rate (`lr.<group>`), losses, gradient norm (`grad_norm.<group>`) and collapse monitor.
 */
export function stepRecord(at: { step: number; epoch: number }, w: Throughput, logEvery: number, lr: Readonly<Record<string, number>>, r: StepResult): Record<string, number> {
  return {
    step: at.step, epoch: at.epoch, clips_per_s: +clipsPerSecond(w).toFixed(2), data_wait_ms: +(w.wait / logEvery).toFixed(2),
    ...Object.fromEntries(Object.entries(lr).map(([g, v]) => [lrName(g), v])),
    ...namedLosses(r.losses),
    ...Object.fromEntries(Object.entries(r.gradNorms).map(([g, v]) => [gradNormName(g), v])),
    ...r.monitors,
  };
}

/** The row of a k-NN validation; with `levels`, each level's spread (`{erank, std, dim}` by output name). */
export const knnRecord = (at: { step: number; epoch: number }, knn: KnnSummary & { levels?: LevelSpread }) => ({
  kind: 'knn', step: at.step, epoch: at.epoch, top1: knn.top1, top5: knn.top5, level: knn.level,
  ...(knn.levels ? { levels: knn.levels } : {}),
});

/** The log line of a k-NN validation. */
export const knnLine = (epoch: number, knn: KnnSummary, best: boolean): string =>
  `epoch ${epoch}: k-NN top-1 ${knn.top1.toFixed(2)}%, top-5 ${knn.top5.toFixed(2)}%${best ? ' (best)' : ''}`;

/** The log line of the levels' spread at a validation: effective rank of dim, mean std. */
export const spreadLine = (epoch: number, levels: LevelSpread): string =>
  `epoch ${epoch}: effective rank/dim (mean std) ${Object.entries(levels).map(([name, l]) => `${name} ${l.erank.toFixed(1)}/${l.dim} (${l.std.toPrecision(3)})`).join(', ')}`;

export class MetricsLog {
  constructor(readonly file: string) {}

  write(record: Record<string, unknown>): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }

  /**
   * Keeps the rows of steps ≤ `step`, atomically: a run that starts at `step` (0, or its checkpoint's step) then
   * writes every later row once. Rows a killed run wrote after its last checkpoint go, and so does a torn last line.
   */
  keepUpTo(step: number): void {
    if (!existsSync(this.file)) return;
    const text = readFileSync(this.file, 'utf8');
    const lines = text.split('\n').filter((l) => l !== '');
    const kept = lines.filter((l) => {
      try {
        const row = JSON.parse(l) as { step?: unknown };
        return typeof row.step === 'number' && row.step <= step;
      } catch {
        return false;
      }
    });
    if (kept.length < lines.length || (text !== '' && !text.endsWith('\n'))) writeFileAtomic(this.file, kept.map((l) => `${l}\n`).join(''));
  }
}

const fmtTime = (s: number): string => {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
};

export class Progress implements Disposable {
  private bar: cliProgress.SingleBar | null;
  private readonly started = performance.now();

  constructor(private readonly total: number, private readonly first: number, tty = process.stderr.isTTY === true) {
    this.bar = tty
      ? new cliProgress.SingleBar({ format: 'step {value}/{total} [{bar}] loss {loss} | {rate} clips/s | ETA {eta_str}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic)
      : null;
    this.bar?.start(total, first, { loss: '-', rate: '-', eta_str: '?' });
  }

  update(step: number, loss: number, clipsPerSecond: number, line: boolean): void {
    const done = step - this.first;
    const eta = ((performance.now() - this.started) / 1000 / Math.max(done, 1)) * (this.total - step);
    if (this.bar) this.bar.update(step, { loss: loss.toFixed(4), rate: clipsPerSecond.toFixed(1), eta_str: fmtTime(eta) });
    else if (line) console.error(`step ${step}/${this.total}  loss ${loss.toFixed(4)}  ${clipsPerSecond.toFixed(1)} clips/s  ETA ${fmtTime(eta)}`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}
