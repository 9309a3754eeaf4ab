// Observability: metrics as JSON lines in the run directory, and a progress line with step, loss, clips/s and ETA
// (a live bar on a terminal, a plain line every `log_every` steps otherwise).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { writeFileAtomic } from '../atomic.ts';

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

export class Progress {
  private readonly bar: cliProgress.SingleBar | null;
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
  }
}
