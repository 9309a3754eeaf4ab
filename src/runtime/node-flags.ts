// Settings of the processes that run ONNX Runtime for long (`vhssl train`, `eval`, `export`, a sweep's runs,
// bench/step.ts). V8's garbage collector otherwise marks and sweeps on helper threads while a session runs, and on a
// machine whose cores ORT's intra-op threads already fill they take turns with them: every step hands ~13 MB of new
// output buffers to JavaScript (onnxruntime-node copies each output out, preallocated or not), so collections are
// frequent. Measured on bench-st, 2 cores, 70 fused steps: GC 330–365 ms → 69 ms in all, median step 38–43 →
// 30–34 ms. V8 flags cannot be set once the process runs (v8.setFlagsFromString('--single-threaded-gc') crashes the
// next collection), nor through NODE_OPTIONS: they go on the command line of a new process.
export const NODE_FLAGS: readonly string[] = ['--single-threaded-gc'];

/**
 * glibc malloc told to keep freed memory (no mmap for large blocks, no trimming): fresh allocations above ~32 MB are
 * very slow in some VMs otherwise, and ORT copies every output into a new buffer. Values the user set win.
 */
export const mallocEnv = (env: NodeJS.ProcessEnv): Record<string, string> => ({
  MALLOC_MMAP_MAX_: env.MALLOC_MMAP_MAX_ ?? '0',
  MALLOC_TRIM_THRESHOLD_: env.MALLOC_TRIM_THRESHOLD_ ?? '17179869184',
});
