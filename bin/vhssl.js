#!/usr/bin/env node
// Entry point of the `vhssl` command: registers tsx so the TypeScript sources run as they are, then hands over.
// Commands that run ONNX Runtime for long re-execute once with glibc malloc told to keep freed memory: fresh
// allocations above ~32 MB are very slow in some VMs otherwise (ORT copies every output into a new buffer); and with
// V8's garbage collection kept off ORT's cores (src/runtime/node-flags.ts).
// Set MALLOC_MMAP_MAX_ yourself (any value) to skip the re-execution.
//
// The visible process then only waits: it passes SIGTERM and SIGHUP on (a scheduler's stop), and exits with the
// child's status (128 + n when the child was killed by signal n). The child dies with it: the two share an IPC
// channel that the kernel closes when the parent dies, even by SIGKILL, and the child then exits at once. At once,
// not after a checkpoint: the parent's death means someone wanted the job gone now (kill -9, an OOM kill), and a
// graceful stop is a SIGTERM or Ctrl-C away; the run resumes from its last periodic checkpoint.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { register } from 'tsx/esm/api';

const HEAVY = new Set(['train', 'eval', 'export']);
const CHILD = 'VHSSL_REEXECUTED';

register();
if (HEAVY.has(process.argv[2] ?? '') && process.env.MALLOC_MMAP_MAX_ === undefined && process.platform === 'linux') {
  const { NODE_FLAGS, mallocEnv } = await import('../src/runtime/node-flags.ts');
  const env = { ...process.env, ...mallocEnv(process.env), [CHILD]: '1' };
  const child = spawn(process.execPath, [...NODE_FLAGS, ...process.argv.slice(1)], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], env });
  // Ctrl-C reaches the child from the terminal (same process group); other signals are passed on.
  process.on('SIGINT', () => {});
  for (const sig of ['SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => {
    console.error(`vhssl: cannot start ${process.execPath}: ${e.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
} else {
  if (process.env[CHILD] === '1' && process.channel) {
    delete process.env[CHILD];
    process.on('disconnect', () => {
      console.error('vhssl: the parent process is gone; stopping');
      process.exit(1);
    });
    // The watch alone must not keep the process alive once the command is done.
    process.channel.unref();
  }
  const { main } = await import('../src/cli/main.ts');
  process.exitCode = await main(process.argv.slice(2));
}
