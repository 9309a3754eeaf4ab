// Stopping a run from outside. SIGINT (Ctrl-C) and SIGTERM (SLURM preemption, `docker stop`, Kubernetes) ask the loop
// to stop after the current step and save a checkpoint; the command then exits 128 + the signal's number (130, 143).
// A second Ctrl-C quits at once, without the checkpoint. A second SIGTERM is ignored: a scheduler may signal every
// process of the job (the wrapper, which passes it on, and the training process), and its SIGKILL after the grace
// period is the hard stop.
import { constants } from 'node:os';

export type StopSignal = 'SIGINT' | 'SIGTERM';

/** The exit status of a command stopped by `s`, as a shell reports a process killed by it. */
export const stopExitCode = (s: StopSignal): number => 128 + constants.signals[s];

export class StopRequests implements Disposable {
  /** The first stop signal received, or null. */
  signal: StopSignal | null = null;
  private readonly handlers = (['SIGINT', 'SIGTERM'] as const).map((s) => [s, () => this.receive(s)] as const);

  constructor(private readonly log: (line: string) => void) {
    for (const [s, h] of this.handlers) process.on(s, h);
  }

  private receive(s: StopSignal): void {
    if (this.signal !== null) {
      if (s === 'SIGINT') process.exit(stopExitCode('SIGINT'));
      return;
    }
    this.signal = s;
    this.log(s === 'SIGINT'
      ? '\ninterrupted: saving a checkpoint after this step (press Ctrl-C again to quit without it)'
      : '\nSIGTERM: saving a checkpoint after this step, then exiting');
  }

  dispose(): void {
    for (const [s, h] of this.handlers) process.off(s, h);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
