// A run's results as a sweep reports them, read from RUN_DIR/metrics.jsonl (step rows and `kind: 'knn'` rows) and
// RUN_DIR/eval.jsonl (the record of the final evaluation, `final: true`).
import { join } from 'node:path';
import { rowLoss } from '../eval/final.ts';
import { readJsonl, type EvalRecord } from '../eval/report.ts';
import { trainedDir } from './status.ts';

export interface RunMetrics {
  /** The last step with a metrics row, or null. */
  steps: number | null;
  /** The loss of that row: the sum of the groups' totals `loss.<group>` (what the progress line shows). */
  loss: number | null;
  /** k-NN top-1 (%) of the last validation, and the best of all. */
  knnLast: number | null;
  knnBest: number | null;
  /** Clip top-1 (%) of the final evaluation (eval.final: probe or finetune), and which it was. */
  finalTop1: number | null;
  finalKind: string | null;
  /** Series for the plots: loss per logged step, k-NN top-1 per validation step. */
  lossCurve: { x: number[]; y: number[] };
  knnCurve: { x: number[]; y: number[] };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A run's metrics; of a curriculum, its newest stage's. */
export function runMetrics(run: string): RunMetrics {
  const runDir = trainedDir(run);
  const { records } = readJsonl(join(runDir, 'metrics.jsonl'));
  const lossCurve = { x: [] as number[], y: [] as number[] };
  const knnCurve = { x: [] as number[], y: [] as number[] };
  let steps: number | null = null;
  let loss: number | null = null;
  for (const r of records) {
    const step = num(r.step);
    if (step === undefined) continue;
    if (r.kind === undefined) {
      steps = Math.max(steps ?? 0, step);
      const l = rowLoss(r);
      if (l !== undefined) {
        loss = l;
        lossCurve.x.push(step);
        lossCurve.y.push(l);
      }
    } else if (r.kind === 'knn' && num(r.top1) !== undefined) {
      knnCurve.x.push(step);
      knnCurve.y.push(num(r.top1)!);
    }
  }
  const evals = readJsonl(join(runDir, 'eval.jsonl')).records as unknown as EvalRecord[];
  const final = evals.filter((e) => e.final === true && num(e.clip?.top1) !== undefined).at(-1);
  return {
    steps,
    loss,
    knnLast: knnCurve.y.at(-1) ?? null,
    knnBest: knnCurve.y.length ? Math.max(...knnCurve.y) : null,
    finalTop1: final?.clip?.top1 ?? null,
    finalKind: final?.kind ?? null,
    lossCurve,
    knnCurve,
  };
}

/** `step 5, loss 3.2054, k-NN top-1 18.75 % (best 25.00 %), probe top-1 40.00 %`: what there is of it. */
export function metricsLine(m: RunMetrics): string {
  const parts: string[] = [];
  if (m.steps !== null) parts.push(`step ${m.steps}`);
  if (m.loss !== null) parts.push(`loss ${m.loss.toFixed(4)}`);
  if (m.knnLast !== null) parts.push(`k-NN top-1 ${m.knnLast.toFixed(2)} %${m.knnBest !== null && m.knnBest > m.knnLast ? ` (best ${m.knnBest.toFixed(2)} %)` : ''}`);
  if (m.finalTop1 !== null) parts.push(`${m.finalKind} top-1 ${m.finalTop1.toFixed(2)} %`);
  return parts.join(', ');
}
