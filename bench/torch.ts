// The PyTorch reference of bench-st (bench/torch_step.py): which python runs it, and its timed steps.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const TORCH_STEP = fileURLToPath(new URL('./torch_step.py', import.meta.url));

/** $PYTHON, else the first of python3, /usr/bin/python3 that imports torch; null when none does. */
export function torchPython(): string | null {
  if (process.env.PYTHON) return process.env.PYTHON;
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

export const NO_TORCH = 'no python3 that imports torch (apt-get install -y python3-torch libopenblas0-pthread, or set PYTHON)';

export interface TorchSteps {
  steps_ms: number[];
  peak_rss_mb: number;
  torch: string;
}

/**
 * `steps` timed steps of the PyTorch reference after `warmup` untimed ones, on `threads` threads (clips of `geometry`);
 * `infer`: its encoder's no-grad forward instead of a training step.
 */
export function torchSteps(python: string, threads: number, steps: number, warmup: number, geometry?: { frames: number; size: number }, infer = false): TorchSteps {
  const shape = [...(geometry ? ['--frames', String(geometry.frames), '--size', String(geometry.size)] : []), ...(infer ? ['--infer'] : [])];
  const r = spawnSync(python, [TORCH_STEP, '--bench', '--threads', String(threads), '--steps', String(steps), '--warmup', String(warmup), ...shape], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${TORCH_STEP} --bench failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchSteps;
}
