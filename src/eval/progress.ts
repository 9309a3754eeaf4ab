// A progress bar on stderr (only when stderr is a terminal: logs and pipes stay clean).
import cliProgress from 'cli-progress';

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number, unit: string, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled || total <= 0) return { tick: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} {bar} {percentage}% | {value}/{total} ${unit} | ETA {eta_formatted}`, etaBuffer: 20, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
}
