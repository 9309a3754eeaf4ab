// The training/evaluation loader: clip items per epoch (sampler), a seeded order per epoch, batches built in worker
// threads ahead of time. Batch (epoch e, index b) depends only on (seed, e, b), so `state()` = { epoch, position } is
// all a checkpoint needs to resume the exact same batch sequence.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import { buildBatch, type Batch, type BatchConfig } from './batch.ts';
import { batchPlan, type BatchOptions, type EpochPlan } from './plan.ts';
import { StoreReader, type StoredVideo } from './store.ts';

export type { Sampler } from './plan.ts';

export interface LoaderOptions extends BatchOptions {
  /** store directories (several: the outputs of `prepare --shard i/n` kept apart) */
  store: string | string[];
  split?: string;
  /** worker threads; 0 builds batches on the calling thread. Default: CPU count − 1, at least 1. */
  workers?: number;
  /** batches built ahead; default 2 per worker */
  prefetch?: number;
  /**
   * false: build nothing ahead past the end of the current epoch, so that a loader iterated one epoch at a time (the
   * trainer's validation, once per validated epoch) holds no batches between its epochs. Default true.
   */
  prefetchAcrossEpochs?: boolean;
}

export interface LoaderState {
  seed: number;
  epoch: number;
  position: number;
}

interface Pending {
  promise: Promise<Batch>;
  resolve: (b: Batch) => void;
  reject: (e: Error) => void;
}

/** Starts a worker on a .ts module: under tsx the worker thread must register the loader itself. */
function startWorker(data: unknown): Worker {
  const url = new URL('./loader-worker.ts', import.meta.url);
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

export class Loader implements AsyncIterable<Batch> {
  readonly records: StoredVideo[];
  readonly classes: string[];
  /** indices of videos shorter than the clip span (dropped, or padded with `sampler.pad`) */
  readonly short: number[];
  readonly batchesPerEpoch: number;
  private readonly config: BatchConfig;
  private readonly reader: StoreReader;
  private readonly frames: Int32Array;
  private readonly plan: EpochPlan;
  private epoch = 0;
  private position = 0;
  private generation = 0;
  private pending = new Map<string, Pending>();
  private workers: Worker[] = [];
  private busy: number[] = [];
  private calls = new Map<number, { key: string; worker: number; gen: number }>();
  private nextId = 0;

  constructor(private readonly o: LoaderOptions) {
    if (!(o.batchSize >= 1)) throw new UserError('loader.batchSize', `expected a positive integer, got ${o.batchSize}`);
    this.reader = new StoreReader(o.store);
    this.records = this.reader.split(o.split);
    if (this.records.length === 0) throw new UserError(String(o.store), `no videos in split "${o.split ?? '(all)'}"`);
    this.classes = this.reader.classes;
    this.frames = Int32Array.from(this.records, (r) => r.frames);
    ({ config: this.config, plan: this.plan, batchesPerEpoch: this.batchesPerEpoch, short: this.short } = batchPlan(o, this.frames, String(o.store)));
    const n = o.workers ?? Math.max(1, availableParallelism() - 1);
    for (let i = 0; i < n; i++) {
      const w = startWorker({ config: this.config, records: this.records });
      w.on('message', (m: { id: number; batch?: Batch; error?: string; user?: { where: string; problem: string; hint?: string } }) => this.onResult(m));
      w.on('error', (e) => this.failAll(e));
      w.unref();
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  private dispatch(epoch: number, index: number): Pending {
    const key = `${epoch}:${index}`;
    let p = this.pending.get(key);
    if (p) return p;
    let resolve!: (b: Batch) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Batch>((res, rej) => ((resolve = res), (reject = rej)));
    promise.catch(() => {});
    p = { promise, resolve, reject };
    this.pending.set(key, p);
    const job = this.plan.job(epoch, index);
    if (this.workers.length === 0) {
      try {
        resolve(buildBatch(this.reader, this.records, this.config, job));
      } catch (e) {
        reject(e as Error);
      }
      return p;
    }
    const w = this.busy.indexOf(Math.min(...this.busy));
    const id = this.nextId++;
    this.calls.set(id, { key, worker: w, gen: this.generation });
    if (this.busy[w]!++ === 0) this.workers[w]!.ref();
    this.workers[w]!.postMessage({ id, job });
    return p;
  }

  private onResult(m: { id: number; batch?: Batch; error?: string; user?: { where: string; problem: string; hint?: string } }): void {
    const call = this.calls.get(m.id);
    if (!call) return;
    this.calls.delete(m.id);
    if (--this.busy[call.worker]! === 0) this.workers[call.worker]!.unref();
    if (call.gen !== this.generation) return;
    const p = this.pending.get(call.key);
    if (!p) return;
    if (m.batch) p.resolve(m.batch);
    else p.reject(m.user ? new UserError(m.user.where, m.user.problem, m.user.hint) : new Error(`loader worker: ${m.error}`));
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
  }

  /** (epoch, index) of the k-th batch after the current position. */
  private ahead(k: number): [number, number] {
    const n = this.position + k;
    return [this.epoch + Math.floor(n / this.batchesPerEpoch), n % this.batchesPerEpoch];
  }

  /** The next batch; rolls over into the next epoch. Keeps `prefetch` batches in flight. */
  async next(): Promise<Batch> {
    const [e, b] = [this.epoch, this.position];
    const p = this.dispatch(e, b);
    const depth = this.workers.length === 0 ? 0 : (this.o.prefetch ?? 2 * this.workers.length);
    for (let k = 1; k <= depth; k++) {
      const [epoch, index] = this.ahead(k);
      if (epoch !== e && this.o.prefetchAcrossEpochs === false) break;
      this.dispatch(epoch, index);
    }
    this.position++;
    if (this.position === this.batchesPerEpoch) {
      this.epoch++;
      this.position = 0;
    }
    try {
      return await p.promise;
    } finally {
      this.pending.delete(`${e}:${b}`);
    }
  }

  /** The remaining batches of the current epoch. */
  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    const epoch = this.epoch;
    while (this.epoch === epoch) yield await this.next();
  }

  state(): LoaderState {
    return { seed: this.o.seed, epoch: this.epoch, position: this.position };
  }

  /** Continues from a saved state: the next batch is the one that followed it. */
  restore(s: LoaderState): void {
    if (s.seed !== this.o.seed) throw new UserError('loader.state.seed', `checkpoint has seed ${s.seed}, loader has ${this.o.seed}`);
    if (!(s.position >= 0 && s.position < this.batchesPerEpoch)) {
      throw new UserError('loader.state.position', `expected 0 ≤ position < ${this.batchesPerEpoch}, got ${s.position}`, 'the dataset or batch size changed since the checkpoint');
    }
    this.generation++;
    for (const p of this.pending.values()) p.reject(new Error('loader restored'));
    this.pending.clear();
    this.epoch = s.epoch;
    this.position = s.position;
  }

  async close(): Promise<void> {
    this.generation++;
    this.pending.clear();
    // Late results must not unref a worker again: an unref'd worker's exit does not keep the event loop alive,
    // which would leave terminate() unsettled.
    this.calls.clear();
    for (const w of this.workers) w.ref();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
    this.reader.close();
  }
}
