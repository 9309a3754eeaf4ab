// Training and embedding on a `vhssl web` site's sample, for any ONNX Runtime with the common JavaScript API:
// onnxruntime-web in the page's worker, onnxruntime-node in the tests that hold the page to vhssl's own numbers.
// Batches are made exactly as `vhssl train` makes them (the loader's plan, buildBatch, the seeded positions stream),
// from the sample's store held in memory; a step is one run of the artifacts' fused step graph.
import type * as OrtApi from 'onnxruntime-common';
import { evalParams, renderClip } from '../data/augment.ts';
import { buildBatch, type Batch } from '../data/batch.ts';
import { batchPlan, type BatchOptions, type BatchPlan } from '../data/plan.ts';
import type { StoredVideo, VideoRecord } from '../data/store.ts';
import { jsSims, knnVotes, l2Normalize, topK, type Neighbours } from '../eval/knn-core.ts';
import type { Manifest } from '../graph/artifacts.ts';
import { EMA_DECAY, EMBEDDING, gradNormName, levelOutput, lossOutputs, lrName, newName, stepName, VIDEO } from '../graph/names.ts';
import { decodeSafetensors, encodeSafetensors } from '../graph/safetensors-codec.ts';
import type { DType, TypedArray } from '../graph/dtype.ts';
import type { Tensor } from '../graph/tensor.ts';
import { Rng } from '../rng.ts';
import { batchInputs, feedsOf } from '../runtime/batch-inputs.ts';
import { checkpointMetadata, CHECKPOINT_FORMAT, type TrainProgress } from '../train/checkpoint-format.ts';
import type { SampleEmbedding, SiteInfo, StepReport } from './protocol.ts';

/** The parts of an ONNX Runtime package the core uses (`import * as ort from 'onnxruntime-web'` or `-node`). */
export type Ort = Pick<typeof OrtApi, 'InferenceSession' | 'Tensor'>;
type OrtTensor = OrtApi.Tensor;
type Session = OrtApi.InferenceSession;

/** Everything of a site the core reads, as bytes and text (fetched in a browser, read from disk in node). */
export interface SiteFiles {
  info: SiteInfo;
  manifest: Manifest;
  step: Uint8Array;
  encoder: Uint8Array;
  checkpoint: Uint8Array;
  /** the sample store's index.jsonl and its shard files by name */
  index: string;
  shards: ReadonlyMap<string, Uint8Array>;
}

/** The sample store in memory: records in index order, frames read from the shards' bytes. */
export class SampleStore {
  readonly records: StoredVideo[];

  constructor(index: string, private readonly shards: ReadonlyMap<string, Uint8Array>) {
    this.records = index.split('\n').filter((l) => l.trim() !== '').map((l) => ({ ...(JSON.parse(l) as VideoRecord), dir: '' }));
    for (const r of this.records) {
      const bytes = shards.get(r.shard);
      if (!bytes) throw new Error(`sample store: video ${r.id} is in shard ${r.shard}, which was not loaded`);
      if (bytes.length < r.offset + r.bytes) throw new Error(`sample store: shard ${r.shard} has ${bytes.length} bytes, video ${r.id} ends at ${r.offset + r.bytes}`);
    }
  }

  split(name: string): StoredVideo[] {
    return this.records.filter((r) => r.split === name);
  }

  readFrame(r: StoredVideo, t: number, dst: Uint8Array): void {
    const fb = r.height * r.width * 3;
    const at = r.offset + t * fb;
    dst.set(this.shards.get(r.shard)!.subarray(at, at + fb));
  }
}

/** Batches of a split in order, each one clip per video (the centre clip, the centre view), for embedding. */
export const embeddingBatches = (info: SiteInfo, batchSize: number): BatchOptions => ({
  ...info.loader,
  batchSize,
  sampler: { kind: 'multiview', temporal: 1, spatial: 1 },
  augment: null,
  shuffle: false,
  dropLast: false,
  view: '',
});

const ortOf = (ort: Ort, t: Tensor): OrtTensor => new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.shape as number[]);
const hostOf = (t: OrtTensor): Tensor => ({ dtype: t.type as DType, shape: [...t.dims], data: t.data as TypedArray });
const scalarOf = (t: OrtTensor): number => Number((t.data as ArrayLike<number | bigint>)[0]);

export interface TrainerOptions {
  sessionOptions?: OrtApi.InferenceSession.SessionOptions;
}

/**
 * A run continued on the sample: the checkpoint's state, the site's batch stream (seeded as `info.train.seed`) and
 * the fused step graph; the step counts of the checkpoint's groups go on (AdamW's bias correction).
 */
export class SampleTrainer {
  /** Steps taken here (since the checkpoint). */
  steps = 0;
  private readonly position: Rng;
  private readonly first: BatchPlan;
  private readonly second: BatchPlan | null;
  private readonly train: StoredVideo[];
  /** loss outputs and whether each is a group's total (the step's loss is the sum of those) */
  private readonly losses: [string, boolean][];
  private readonly updated: string[];

  private constructor(
    private readonly ort: Ort,
    private readonly files: SiteFiles,
    readonly store: SampleStore,
    private readonly stepSession: Session,
    private readonly encoderSession: Session,
    /** parameters, buffers, optimizer state and EMA copies by name: the checkpoint's tensors, then each step's */
    readonly state: Map<string, OrtTensor>,
    private readonly progress: TrainProgress,
  ) {
    const { info } = files;
    this.train = store.split('train');
    const frames = Int32Array.from(this.train, (r) => r.frames);
    const options: BatchOptions = { ...info.loader, batchSize: info.train.batchSize, seed: info.train.seed };
    this.first = batchPlan({ ...options, view: '' }, frames, 'the sample');
    this.second = info.twoViews ? batchPlan({ ...options, view: '/2' }, frames, 'the sample') : null;
    this.position = Rng.fromSeed(info.train.seed, 'positions');
    this.losses = [...lossOutputs(stepSession.outputNames, info.groups)].map(([name, key]) => [name, key.term === null]);
    const outputs = new Set(stepSession.outputNames);
    this.updated = [...state.keys()].filter((n) => outputs.has(newName(n)));
  }

  static async open(ort: Ort, files: SiteFiles, o: TrainerOptions = {}): Promise<SampleTrainer> {
    const { tensors, metadata } = decodeSafetensors(files.checkpoint, files.info.files.checkpoint);
    if (metadata.format !== CHECKPOINT_FORMAT) throw new Error(`${files.info.files.checkpoint}: not a vhssl checkpoint`);
    const progress = JSON.parse(metadata.progress ?? 'null') as TrainProgress;
    const store = new SampleStore(files.index, files.shards);
    const stepSession = await ort.InferenceSession.create(files.step, o.sessionOptions);
    const encoderSession = await ort.InferenceSession.create(files.encoder, o.sessionOptions);
    const state = new Map([...tensors].map(([n, t]) => [n, ortOf(ort, t)]));
    return new SampleTrainer(ort, files, store, stepSession, encoderSession, state, progress);
  }

  get info(): SiteInfo {
    return this.files.info;
  }

  /** The run's step count: the checkpoint's and the steps taken here. */
  get runStep(): number {
    return this.progress.step + this.steps;
  }

  /** The next batch of the stream (and its second view): epoch and index follow from the steps taken. */
  private batch(plan: BatchPlan): Batch {
    const epoch = Math.floor(this.steps / plan.batchesPerEpoch);
    return buildBatch(this.store, this.train, plan.config, plan.plan.job(epoch, this.steps % plan.batchesPerEpoch));
  }

  /** One optimizer step of every group at rate `lr`. */
  async step(lr: number): Promise<StepReport> {
    const t0 = performance.now();
    const { info, manifest } = this.files;
    const host = batchInputs(manifest, this.position, this.batch(this.first), this.second ? this.batch(this.second) : null);
    const data = Object.fromEntries(Object.entries(host).map(([name, t]) => [name, ortOf(this.ort, t)]));
    const scalars: Record<string, OrtTensor> = { [EMA_DECAY]: new this.ort.Tensor('float32', Float32Array.of(info.train.emaDecay), []) };
    for (const g of info.groups) {
      scalars[lrName(g)] = new this.ort.Tensor('float32', Float32Array.of(lr), []);
      scalars[stepName(g)] = new this.ort.Tensor('int64', BigInt64Array.of(BigInt(this.progress.groupSteps[g]! + this.steps + 1)), []);
    }
    const feeds = feedsOf(this.stepSession.inputNames, data, scalars, this.state);
    const missing = this.stepSession.inputNames.filter((n) => !feeds[n]);
    if (missing.length) throw new Error(`step graph: no value for ${missing.join(', ')}`);
    const out = await this.stepSession.run(feeds);
    for (const n of this.updated) this.state.set(n, out[newName(n)]!);
    this.steps++;
    const losses = Object.fromEntries(this.losses.map(([name]) => [name, scalarOf(out[name]!)]));
    const loss = this.losses.reduce((a, [name, total]) => (total ? a + losses[name]! : a), 0);
    const gradNorms = Object.fromEntries(info.groups.filter((g) => out[gradNormName(g)]).map((g) => [g, scalarOf(out[gradNormName(g)]!)]));
    if (!Number.isFinite(loss) || Object.values(gradNorms).some((v) => !Number.isFinite(v))) {
      throw new Error(`step ${this.runStep}: the loss or a gradient is not finite (loss ${loss}); lower the learning rate`);
    }
    return { step: this.steps, runStep: this.runStep, loss, losses, ms: performance.now() - t0 };
  }

  /** The encoder's embedding of a batch of normalised clips (B, F, H, W, 3), rows L2-normalised. */
  private async embedBatch(x: Float32Array, count: number): Promise<Float32Array> {
    const { frames, height, width } = this.files.manifest.video;
    const video = new this.ort.Tensor('float32', x, [count, frames, height, width, 3]);
    const out = await this.encoderSession.run(feedsOf(this.encoderSession.inputNames, { [VIDEO]: video }, this.state), [levelOutput(EMBEDDING)]);
    const e = out[levelOutput(EMBEDDING)]!;
    return l2Normalize(e.data as Float32Array, e.dims[1]!);
  }

  /** Every video of a split, one centre clip each, in the split's record order. */
  async embedSplit(split: 'train' | 'test'): Promise<SampleEmbedding> {
    const records = this.store.split(split);
    const B = 16;
    const p = batchPlan(embeddingBatches(this.files.info, B), Int32Array.from(records, (r) => r.frames), `the sample's ${split} split`);
    const rows: Float32Array[] = [];
    const labels: number[] = [];
    const videos: number[] = [];
    for (let b = 0; b < p.batchesPerEpoch; b++) {
      const batch = buildBatch(this.store, records, p.config, p.plan.job(0, b));
      rows.push(await this.embedBatch(batch.x, batch.labels.length));
      labels.push(...batch.labels);
      videos.push(...batch.videos);
    }
    const features = concat(rows);
    return { features, dim: features.length / labels.length, labels: Int32Array.from(labels), videos: Int32Array.from(videos) };
  }

  /** k-NN top-1 (clip level, percent) of the sample's test split against its train split. */
  async knn(): Promise<{ top1: number; train: SampleEmbedding; test: SampleEmbedding }> {
    const train = await this.embedSplit('train');
    const test = await this.embedSplit('test');
    const nb = await neighbours(train.features, test.features, train.dim, this.files.info.knn.k);
    const [acc] = knnVotes(nb, train.labels, test, [this.files.info.knn.k], this.files.info.knn.temperature, this.files.info.store.classes.length);
    return { top1: acc!.clip.top1, train, test };
  }

  /** One decoded clip (count, H, W, 3) uint8 at its natural size → its embedding, as vhssl evaluates a stored video. */
  async embedClip(frames: Uint8Array, count: number, height: number, width: number): Promise<Float32Array> {
    const { clip, normalize } = { clip: this.files.info.clip, normalize: this.files.info.loader.normalize! };
    if (count !== clip.frames) throw new Error(`embed: expected ${clip.frames} frames, got ${count}`);
    if (frames.length !== count * height * width * 3) throw new Error(`embed: ${frames.length} bytes are not ${count} frames of ${width}×${height} rgb`);
    const x = new Float32Array(count * clip.height * clip.width * 3);
    renderClip(frames, count, height, width, evalParams(height, width, clip.height, clip.width), clip.height, clip.width, normalize, x, 0);
    return this.embedBatch(x, 1);
  }

  /** The state as a vhssl checkpoint of the run's config, its step count advanced by the steps taken here. */
  checkpoint(): Uint8Array {
    const groupSteps = Object.fromEntries(Object.entries(this.progress.groupSteps).map(([g, n]) => [g, n + this.steps]));
    const progress: TrainProgress = { ...this.progress, step: this.runStep, groupSteps };
    return encodeSafetensors(new Map([...this.state].map(([n, t]) => [n, hostOf(t)])), checkpointMetadata(this.files.info.configHash, progress));
  }

  async release(): Promise<void> {
    await this.stepSession.release();
    await this.encoderSession.release();
  }
}

const concat = (parts: readonly Float32Array[]): Float32Array => {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** The k most similar rows of `bank` for each row of `queries` (both L2-normalised; small sets: all at once). */
export async function neighbours(bank: Float32Array, queries: Float32Array, dim: number, k: number): Promise<Neighbours> {
  const n = bank.length / dim;
  const rows = queries.length / dim;
  const kk = Math.min(k, n);
  const all = await jsSims(bank, n, dim)(queries, rows);
  const sims = new Float32Array(rows * kk);
  const index = new Int32Array(rows * kk);
  for (let r = 0; r < rows; r++) topK(all, r * n, n, kk, sims, index, r * kk);
  return { k: kk, sims, index };
}
