// `vhssl web`: a run as a self-contained static site that trains and embeds in the browser with onnxruntime-web.
//
// DIR/index.html, style.css      the page (src/web/page)
// DIR/page.js, worker.js         bundled from TypeScript by esbuild; the worker holds every ONNX Runtime session
// DIR/ort/                       onnxruntime-web's WebAssembly build (CPU, and WebGPU through it)
// DIR/model/                     the run's manifest, fused step graph, encoder graph, and checkpoint (safetensors)
// DIR/data/                      a sample of the run's store: a vhssl store of raw frames (train and test splits)
// DIR/site.json                  what the page needs to know (protocol.ts, SiteInfo)
//
// Written into a temporary sibling directory and renamed into place: a failure leaves nothing partial.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { build } from 'esbuild';
import { twoViews } from '../config/index.ts';
import { batchOptions, storeRoot } from '../data/from-config.ts';
import { span } from '../data/sampling.ts';
import { StoreReader, type StoredVideo, type VideoRecord } from '../data/store.ts';
import { UserError } from '../errors.ts';
import { runCheckpoint } from '../eval/run.ts';
import { evalSplits } from '../eval/validate.ts';
import { MANIFEST, readManifest, type Manifest } from '../graph/artifacts.ts';
import { readSafetensors } from '../graph/safetensors.ts';
import { checkOutputDir } from '../out-path.ts';
import { fusedStep } from '../train/schedule.ts';
import type { SiteFiles } from './core.ts';
import type { SiteInfo } from './protocol.ts';

export interface SiteOptions {
  run: string;
  out: string;
  /** best | last | a path (default: best, else last) */
  checkpoint?: string;
  /** videos of the sample per split (default 64 train, 32 test), spread over the classes */
  trainVideos?: number;
  testVideos?: number;
  /** the page's default number of steps, and its learning rate (default: the run's base rate) */
  steps?: number;
  lr?: number;
  log?: (line: string) => void;
}

export interface SiteResult {
  dir: string;
  info: SiteInfo;
  bytes: number;
}

const PAGE_DIR = fileURLToPath(new URL('./page/', import.meta.url));
const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
/** onnxruntime-web's build the default entry loads: WebAssembly with WebGPU (JSEP). */
const ORT_FILES = ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'];

/** The folder of onnxruntime-web's dist files. */
function ortDist(): string {
  const entry = fileURLToPath(import.meta.resolve('onnxruntime-web'));
  return dirname(entry);
}

/**
 * Up to `n` videos of `records`, taken round-robin over the classes in index order (each class's first videos
 * first), so a small sample still holds every class; the order of the result is the store's.
 */
export function spreadSample(records: readonly StoredVideo[], n: number): StoredVideo[] {
  const byClass = new Map<number, StoredVideo[]>();
  for (const r of records) byClass.set(r.label, [...(byClass.get(r.label) ?? []), r]);
  const chosen = new Set<StoredVideo>();
  for (let i = 0; chosen.size < Math.min(n, records.length); i++) {
    for (const list of byClass.values()) if (i < list.length && chosen.size < n) chosen.add(list[i]!);
  }
  return records.filter((r) => chosen.has(r));
}

/** Writes the sample store: one shard of the chosen videos' frames (at most `maxFrames` each, from the middle). */
function writeSample(reader: StoreReader, splits: { split: 'train' | 'test'; records: StoredVideo[] }[], dir: string, maxFrames: number): { train: number; test: number; fps: number | null } {
  mkdirSync(dir, { recursive: true });
  const shard = 'shard-00000.bin';
  const chunks: Uint8Array[] = [];
  const lines: string[] = [];
  let offset = 0;
  const rates: number[] = [];
  for (const { split, records } of splits) {
    for (const r of records) {
      const fb = r.height * r.width * 3;
      const frames = Math.min(r.frames, maxFrames);
      const first = Math.floor((r.frames - frames) / 2);
      // Only the frames kept are read: a long video need not be read whole.
      const bytes = new Uint8Array(frames * fb);
      for (let t = 0; t < frames; t++) reader.readFrame(r, first + t, bytes.subarray(t * fb, (t + 1) * fb));
      const rec: VideoRecord = {
        id: r.id, label: r.label, split, frames, height: r.height, width: r.width, fps: r.fps,
        seconds: r.fps ? frames / r.fps : null, shard, offset, bytes: bytes.length, crc: crc32(bytes), src: r.src,
      };
      if (r.fps) rates.push(r.fps);
      chunks.push(bytes);
      lines.push(JSON.stringify(rec));
      offset += bytes.length;
    }
  }
  writeFileSync(join(dir, shard), Buffer.concat(chunks));
  writeFileSync(join(dir, 'index.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'classes.json'), `${JSON.stringify(reader.classes)}\n`);
  rates.sort((a, b) => a - b);
  return { train: splits[0]!.records.length, test: splits[1]!.records.length, fps: rates.length ? rates[Math.floor(rates.length / 2)]! : null };
}

/** Bundles the page and its worker for browsers; a node-only import anywhere below them fails here. */
async function bundle(dir: string): Promise<void> {
  const r = await build({
    entryPoints: { page: join(PAGE_DIR, 'main.ts'), worker: WORKER },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outdir: dir,
    sourcemap: 'linked',
    logLevel: 'silent',
    legalComments: 'none',
  });
  if (r.errors.length) throw new Error(`bundling the page: ${r.errors.map((e) => e.text).join('; ')}`);
  for (const f of ['index.html', 'style.css']) copyFileSync(join(PAGE_DIR, f), join(dir, f));
}

/** Bytes of every file under `dir`. */
const dirBytes = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true, recursive: true }).reduce((a, e) => (e.isFile() ? a + statSync(join(e.parentPath, e.name)).size : a), 0);

export async function writeSite(o: SiteOptions): Promise<SiteResult> {
  const log = o.log ?? (() => {});
  const { dir: runDir, config, hash, path: checkpoint, name } = runCheckpoint(o.run, o.checkpoint);
  if (!fusedStep(config.train)) {
    throw new UserError(runDir, 'trains with gradient accumulation or alternation (per-group graphs)', 'the page runs the fused step graph: train.grad_accum 1 and train.alternation.interval_pct 0');
  }
  const manifest = readManifest(join(runDir, 'artifacts'), hash);
  if (!manifest?.graphs.step || !manifest.graphs.encoder) throw new UserError(join(runDir, 'artifacts'), 'holds no fused step and encoder graphs of this config', 'run `vhssl build-graph` or `vhssl train` on it first');
  const out = resolve(o.out);
  if (existsSync(out) && readdirSync(out).length > 0 && !existsSync(join(out, 'site.json'))) {
    throw new UserError(o.out, 'is a directory that holds something other than a vhssl web site', 'choose an empty or new --out');
  }
  checkOutputDir(dirname(out), '--out');
  const trainVideos = o.trainVideos ?? 64;
  const testVideos = o.testVideos ?? 32;

  const store = storeRoot(config);
  const reader = new StoreReader(store);
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  try {
    const splits = evalSplits(store);
    const train = spreadSample(reader.split(splits.train), trainVideos);
    const test = spreadSample(reader.split(splits.test), testVideos);
    const clip = { length: config.data.frames, stride: config.data.frame_stride };
    const loader = batchOptions(config, { train: true }, train.length);
    const clips = train.length * config.data.epoch_clips_per_video;
    if (clips < config.train.batch_size) {
      throw new UserError('--train-videos', `${train.length} train videos give ${clips} clips an epoch, fewer than the batch of ${config.train.batch_size}`, 'take more videos');
    }
    log(`sample: ${train.length} train and ${test.length} test videos of ${store}`);
    const sample = writeSample(reader, [{ split: 'train', records: train }, { split: 'test', records: test }], join(tmp, 'data'), 4 * span(clip));

    mkdirSync(join(tmp, 'model'), { recursive: true });
    const artifacts = join(runDir, 'artifacts');
    for (const f of [MANIFEST, manifest.graphs.step.file, manifest.graphs.encoder.file]) copyFileSync(join(artifacts, f), join(tmp, 'model', f));
    copyFileSync(checkpoint, join(tmp, 'model', 'checkpoint.safetensors'));
    mkdirSync(join(tmp, 'ort'));
    for (const f of ORT_FILES) copyFileSync(join(ortDist(), f), join(tmp, 'ort', f));

    const step = Number(readSafetensors(checkpoint).metadata.step);
    const info: SiteInfo = {
      format: 'vhssl-web/1',
      run: basename(resolve(runDir)),
      checkpoint: { file: name, step },
      configHash: hash,
      task: config.arch.task,
      groups: Object.keys(manifest.groups),
      files: { manifest: `model/${MANIFEST}`, step: `model/${manifest.graphs.step.file}`, encoder: `model/${manifest.graphs.encoder.file}`, checkpoint: 'model/checkpoint.safetensors' },
      store: { dir: 'data', train: sample.train, test: sample.test, classes: reader.classes },
      clip: { frames: clip.length, stride: clip.stride, height: config.data.height, width: config.data.width },
      loader,
      twoViews: twoViews(config),
      fps: sample.fps,
      train: { batchSize: config.train.batch_size, seed: config.train.seed, lr: o.lr ?? config.train.optimizer.lr, emaDecay: config.arch.ema.decay, steps: o.steps ?? 50 },
      // The run's k, but no more than the sample's train videos per class: with 8 a class, 20 neighbours mostly vote
      // for other classes.
      knn: { k: Math.max(1, Math.min(config.eval.knn.k[0]!, Math.floor(sample.train / Math.max(1, reader.classes.length)))), temperature: config.eval.knn.temperature },
    };
    writeFileSync(join(tmp, 'site.json'), `${JSON.stringify(info, null, 2)}\n`);
    log('bundling the page');
    await bundle(tmp);
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
    return { dir: out, info, bytes: dirBytes(out) };
  } finally {
    reader.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A written site's files as the page's worker fetches them (for running the page's core in node). */
export function readSiteFiles(dir: string): SiteFiles {
  const info = JSON.parse(readFileSync(join(dir, 'site.json'), 'utf8')) as SiteInfo;
  const index = readFileSync(join(dir, info.store.dir, 'index.jsonl'), 'utf8');
  const shards = new Map([...new Set(index.split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as VideoRecord).shard))].map((s) => [s, readFileSync(join(dir, info.store.dir, s))]));
  const at = (f: string) => readFileSync(join(dir, f));
  return { info, manifest: JSON.parse(at(info.files.manifest).toString('utf8')) as Manifest, step: at(info.files.step), encoder: at(info.files.encoder), checkpoint: at(info.files.checkpoint), index, shards };
}
