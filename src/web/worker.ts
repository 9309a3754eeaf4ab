/// <reference lib="webworker" />
// The page's Web Worker: loads the site (graphs, checkpoint, sample store), holds the run's state in onnxruntime-web
// sessions, trains and embeds on request (protocol.ts). Training yields between steps, so a pause is taken at the
// next step.
import * as ort from 'onnxruntime-web';
import { jsSims } from '../eval/knn-core.ts';
import type { Manifest } from '../graph/artifacts.ts';
import { SampleTrainer, type SiteFiles } from './core.ts';
import type { FromWorker, SiteInfo, ToWorker } from './protocol.ts';

declare const self: DedicatedWorkerGlobalScope;

let trainer: SampleTrainer | null = null;
let paused = false;
let busy: Promise<void> = Promise.resolve();
/** The sample's embeddings at the current state (null after a step). */
let bank: Awaited<ReturnType<SampleTrainer['knn']>> | null = null;

const post = (m: FromWorker, transfer: Transferable[] = []): void => self.postMessage(m, transfer);

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${r.statusText}`);
  return r;
}

const bytes = async (url: string): Promise<Uint8Array> => new Uint8Array(await (await fetchOk(url)).arrayBuffer());

async function loadSite(base: string): Promise<SiteFiles> {
  const info = (await (await fetchOk(new URL('site.json', base).href)).json()) as SiteInfo;
  const at = (path: string) => new URL(path, base).href;
  const index = await (await fetchOk(at(`${info.store.dir}/index.jsonl`))).text();
  const shardNames = [...new Set(index.split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { shard: string }).shard))];
  const shards = new Map(await Promise.all(shardNames.map(async (s) => [s, await bytes(at(`${info.store.dir}/${s}`))] as const)));
  const [manifest, step, encoder, checkpoint] = await Promise.all([
    fetchOk(at(info.files.manifest)).then((r) => r.json() as Promise<Manifest>),
    bytes(at(info.files.step)),
    bytes(at(info.files.encoder)),
    bytes(at(info.files.checkpoint)),
  ]);
  return { info, manifest, step, encoder, checkpoint, index, shards };
}

async function train(steps: number, lr: number): Promise<void> {
  const t = trainer!;
  paused = false;
  for (let k = 0; k < steps; k++) {
    if (paused) return post({ type: 'stopped', step: t.steps, reason: 'paused' });
    bank = null;
    post({ type: 'step', report: await t.step(lr) });
    // Let a pause message in between steps.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  post({ type: 'stopped', step: t.steps, reason: 'done' });
}

async function handle(m: ToWorker): Promise<void> {
  if (m.type === 'init') {
    // Warnings (nodes left to the CPU by WebGPU, say) would reach the console as errors.
    ort.env.logLevel = 'error';
    ort.env.wasm.wasmPaths = m.ortBase;
    ort.env.wasm.numThreads = m.threads;
    const files = await loadSite(m.base);
    trainer = await SampleTrainer.open(ort, files, { sessionOptions: { executionProviders: [m.backend], graphOptimizationLevel: 'all' } });
    const params = [...trainer.state.values()].reduce((a, t) => a + t.size, 0);
    return post({ type: 'ready', backend: m.backend, threads: m.threads, runStep: trainer.runStep, params });
  }
  if (!trainer) throw new Error(`"${m.type}" before the worker was initialised`);
  switch (m.type) {
    case 'train':
      return train(m.steps, m.lr);
    case 'knn': {
      bank = await trainer.knn();
      const { top1, train: tr, test } = bank;
      return post({ type: 'knn', top1, k: trainer.info.knn.k, count: test.labels.length, train: tr, test });
    }
    case 'embed': {
      const feature = await trainer.embedClip(m.frames, m.count, m.height, m.width);
      bank ??= await trainer.knn();
      const { train: tr, test } = bank;
      const near = async (split: 'train' | 'test', e: typeof tr) => {
        const sims = await jsSims(e.features, e.labels.length, e.dim)(feature, 1);
        return Array.from(e.labels, (label, i) => ({ split, video: e.videos[i]!, label, similarity: sims[i]! }));
      };
      const neighbours = [...(await near('train', tr)), ...(await near('test', test))].sort((a, b) => b.similarity - a.similarity).slice(0, 8);
      return post({ type: 'embedded', feature, neighbours });
    }
    case 'checkpoint': {
      const out = trainer.checkpoint();
      return post({ type: 'checkpoint', bytes: out, fileName: `web-step-${String(trainer.runStep).padStart(8, '0')}.safetensors` }, [out.buffer]);
    }
    case 'params': {
      const tensors: Record<string, { dims: number[]; data: Float32Array }> = {};
      for (const [name, t] of trainer.state) if (t.type === 'float32') tensors[name] = { dims: [...t.dims], data: t.data as Float32Array };
      return post({ type: 'params', tensors });
    }
    case 'pause':
      paused = true;
      return;
  }
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  // A pause acts at once; everything else runs in order.
  if (m.type === 'pause') {
    paused = true;
    return;
  }
  busy = busy.then(() => handle(m)).catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
};
