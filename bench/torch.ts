// The PyTorch reference of bench-st and bench-s3d (bench/torch_step.py): which python runs it, and its timed steps.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const TORCH_STEP = fileURLToPath(new URL('./torch_step.py', import.meta.url));

/**
 * $PYTHON, else the first that imports torch of: python3-torch2 (PyTorch 2.x, bench/torch2-root.sh), python3,
 * /usr/bin/python3; null when none does.
 */
export function torchPython(): string | null {
  if (process.env.PYTHON) return process.env.PYTHON;
  for (const py of ['python3-torch2', 'python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}

export const NO_TORCH = 'no python3 that imports torch (apt-get install -y python3-torch libopenblas0-pthread for PyTorch 1.13; sudo sh bench/torch2-root.sh for 2.6; or set PYTHON)';

export interface TorchSteps {
  steps_ms: number[];
  peak_rss_mb: number;
  torch: string;
}

/** The configurations the reference ports (bench/torch_step.py --config). */
export const TORCH_CONFIGS = ['bench-st', 'bench-s3d'] as const;
export type TorchConfig = (typeof TORCH_CONFIGS)[number];

/**
 * glibc malloc settings for the reference's process. PyTorch 1.13 has no caching CPU allocator: every activation above
 * glibc's mmap threshold (at most 32 MiB by default; bench-s3d's stem makes 64 MiB ones) is mapped afresh and its pages
 * faulted in on every step, and freed heap tops are given back. Raised thresholds keep that memory in the heap for
 * reuse, what onnxruntime's arena does for vhssl and what the jemalloc/tcmalloc preload of PyTorch's CPU tuning advice
 * buys, with nothing to install. Measured on a 2-core VM (2 threads, processes in turn, median and best step):
 * bench-s3d 5167 → 820 ms and 4811 → 686 ms, bench-st 205 → 80 ms and 59 → 49 ms; peak RSS of bench-s3d 1.0 → 1.6 GB.
 */
const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296';

export interface TorchRun {
  threads: number;
  /** Untimed steps first. */
  warmup: number;
  /** Clips of this shape instead of the config's. */
  geometry?: { frames: number; size: number };
  /** The encoder's no-grad forward instead of a training step. */
  infer?: boolean;
  /** torch.compile the model (PyTorch 2.x; the first warmup step compiles). */
  compile?: boolean;
}

/**
 * `config`'s PyTorch reference kept running between rounds (torch_step.py --serve): warmed up once, then `steps(n)`
 * times n more steps. A process started afresh for every round of a side-by-side benchmark would pay its start in its
 * warmup, while the other engine's first steps after it ran are slow on a VM (its memory comes back): both stay warm.
 */
export class TorchServer {
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  static start(python: string, config: TorchConfig, o: TorchRun): TorchServer {
    const args = [
      TORCH_STEP, '--config', config, '--bench', '--serve', '--threads', String(o.threads), '--warmup', String(o.warmup),
      ...(o.geometry ? ['--frames', String(o.geometry.frames), '--size', String(o.geometry.size)] : []),
      ...(o.infer ? ['--infer'] : []), ...(o.compile ? ['--compile'] : []),
    ];
    const env = { ...process.env, GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, MALLOC_TUNABLES].filter(Boolean).join(':') };
    return new TorchServer(spawn(python, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** Times `n` more steps (the first call also waits for the warmup). */
  async steps(n: number): Promise<TorchSteps> {
    this.child.stdin!.write(`${n}\n`);
    for (;;) {
      const line = await this.lines.next();
      if (line.done) throw new Error(`${TORCH_STEP} --serve ended (${this.child.exitCode}): ${this.stderr}`);
      if (line.value.startsWith('{')) return JSON.parse(line.value) as TorchSteps;
    }
  }

  /** Ends the reference's process (its stdin closes) and waits for it. */
  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => (this.child.exitCode !== null ? resolve() : this.child.once('exit', () => resolve())));
    this.child.stdin!.end();
    await exited;
  }
}
