#!/usr/bin/env node
// Entry point of the `vhssl` command: registers tsx so the TypeScript sources run as they are, then hands over.
// Commands that run ONNX Runtime for long re-execute once with glibc malloc told to keep freed memory: fresh
// allocations above ~32 MB are very slow in some VMs otherwise (ORT copies every output into a new buffer).
// Set MALLOC_MMAP_MAX_ yourself (any value) to skip the re-execution.
import { spawn } from 'node:child_process';
import { register } from 'tsx/esm/api';

const HEAVY = new Set(['train', 'eval', 'export']);
if (HEAVY.has(process.argv[2] ?? '') && process.env.MALLOC_MMAP_MAX_ === undefined && process.platform === 'linux') {
  const env = { ...process.env, MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '17179869184' };
  const child = spawn(process.execPath, process.argv.slice(1), { stdio: 'inherit', env });
  // Ctrl-C reaches the child from the terminal; other signals (a scheduler's SIGTERM) are passed on.
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
} else {
  register();
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
