// onnxruntime-node sessions: threads set explicitly (ORT's default is 1 here), execution providers chosen by name
// with a clear error (never a silent fallback), and feeds checked by name (ORT silently ignores unknown names).
import { existsSync } from 'node:fs';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';
import type { DType, TypedArray } from '../graph/dtype.ts';
import type { Tensor } from '../graph/tensor.ts';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export interface SessionOptions {
  ep?: ExecutionProvider;
  /** Intra-op threads (default: the machine's cores). */
  threads?: number;
  /** Profile every run with ORT's profiler, written to `<profile>_<time>.json` when the session is released. */
  profile?: string;
}

const HOW_TO: Record<ExecutionProvider, string> = {
  cpu: '',
  cuda:
    'the CUDA provider is not installed: on a machine with CUDA 12 and internet access run ' +
    '`ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` (npm 11 does not run that script on its own; see README, "GPU", or docker/Dockerfile.cuda)',
  webgpu: 'this onnxruntime-node build has no WebGPU provider',
};

/** Checks that `ep` is usable here; throws a UserError that says how to get it otherwise. */
export function checkProvider(ep: ExecutionProvider): void {
  const backends = ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
  const found = backends.find((b) => b.name === ep);
  if (!found) throw new UserError(`--ep ${ep}`, 'unknown execution provider', 'use cpu, cuda or webgpu');
  if (ep === 'cuda' && !found.bundled && !cudaInstalled()) throw new UserError(`--ep ${ep}`, HOW_TO.cuda);
}

/** The CUDA provider library sits beside libonnxruntime when `ONNXRUNTIME_NODE_INSTALL=cuda12` installed it. */
function cudaInstalled(): boolean {
  const lib = new URL('../../node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so', import.meta.url);
  return existsSync(lib);
}

let probeModel: Uint8Array | null = null;

/**
 * Checks that `ep` can actually run a graph here (its library loads and finds a device), by starting a session on a
 * one-node model; a failure becomes a UserError that names the provider and the cause.
 */
export async function ensureProvider(ep: ExecutionProvider): Promise<void> {
  if (ep === 'cpu') return;
  checkProvider(ep);
  if (!probeModel) {
    const { GraphBuilder } = await import('../graph/builder.ts');
    const { encodeModel } = await import('../graph/onnx.ts');
    const b = new GraphBuilder('probe');
    b.output(b.Relu(b.input('x', 'float32', [1])), 'y');
    probeModel = encodeModel(b.graph).model;
  }
  try {
    await ort.InferenceSession.create(probeModel, { executionProviders: [ep] });
  } catch (e) {
    const cause = String((e as Error).message ?? e).split('\n')[0]!.slice(0, 200);
    throw new UserError(`--ep ${ep}`, `the ${ep} provider cannot start on this machine: ${cause}`, ep === 'webgpu' ? 'it needs a GPU with Vulkan drivers (libvulkan.so.1)' : 'check the GPU driver and CUDA 12 / cuDNN 9 libraries');
  }
}

export async function createSession(model: Uint8Array | string, o: SessionOptions = {}): Promise<ort.InferenceSession> {
  const ep = o.ep ?? 'cpu';
  if (ep !== 'cpu') checkProvider(ep);
  return ort.InferenceSession.create(model as Uint8Array, {
    executionProviders: [ep],
    intraOpNumThreads: o.threads ?? os.availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...(o.profile ? { enableProfiling: true, profileFilePrefix: o.profile } : {}),
  });
}

export function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === 'bfloat16') throw new Error('bfloat16 tensors cannot be fed to onnxruntime-node');
  return new ort.Tensor(t.dtype, t.data as never, t.shape as number[]);
}

export function fromOrt(t: ort.Tensor): Tensor {
  return { dtype: t.type as DType, shape: [...t.dims], data: t.data as TypedArray };
}

/** Runs `session` after checking that the feeds are exactly its inputs (ORT would ignore a misspelt name). */
export async function runChecked(
  session: ort.InferenceSession,
  feeds: Record<string, ort.Tensor>,
  fetches?: readonly string[],
): Promise<Record<string, ort.Tensor>> {
  const expected = new Set(session.inputNames);
  const unknown = Object.keys(feeds).filter((k) => !expected.has(k));
  const missing = session.inputNames.filter((k) => !(k in feeds));
  if (unknown.length || missing.length) {
    throw new Error(`session run: ${unknown.length ? `unknown feeds [${unknown.join(', ')}]` : ''}${unknown.length && missing.length ? '; ' : ''}${missing.length ? `missing feeds [${missing.join(', ')}]` : ''}`);
  }
  return fetches ? session.run(feeds, fetches as string[]) : session.run(feeds);
}
