// The page's messages to its training worker and the worker's answers (structured clone; typed arrays transfer).
// The worker holds the run's state and every ONNX Runtime session; the page only draws and decodes dropped videos.
import type { BatchOptions } from '../data/plan.ts';

/** `site.json`: what `vhssl web` wrote, read by the page and the worker. Paths are relative to the site's root. */
export interface SiteInfo {
  format: 'vhssl-web/1';
  /** the run directory it was made from, and the checkpoint (its file name and step) */
  run: string;
  checkpoint: { file: string; step: number };
  configHash: string;
  task: string;
  groups: string[];
  /** the artifacts' manifest and its graphs, and the checkpoint (safetensors: parameters, buffers, optimizer state) */
  files: { manifest: string; step: string; encoder: string; checkpoint: string };
  /** the sample: a vhssl store of raw frames (index.jsonl, classes.json, shard files) */
  store: { dir: string; train: number; test: number; classes: string[] };
  /** the model's clip: `frames` frames `stride` apart, resized to height × width */
  clip: { frames: number; stride: number; height: number; width: number };
  /** the run's training batches (sampler, augmentation, normalisation) over the sample's train split */
  loader: BatchOptions;
  /** a two-view task: each step also takes a second view of the same clips */
  twoViews: boolean;
  /** stored frames per second of the sample's videos (median; null for stills): how a dropped video is sampled */
  fps: number | null;
  /** the page's defaults for training on the sample (a continuation of the run at a constant rate) */
  train: { batchSize: number; seed: number; lr: number; emaDecay: number; steps: number };
  /** k-NN on the sample: the run's eval.knn (k at most the sample's train videos per class) */
  knn: { k: number; temperature: number };
}

export type Backend = 'wasm' | 'webgpu';

export type ToWorker =
  /** `base`: the site's root URL; `ortBase`: where onnxruntime-web's .wasm/.mjs files are */
  | { type: 'init'; base: string; ortBase: string; backend: Backend; threads: number }
  /** trains `steps` more steps (or until paused) at rate `lr` */
  | { type: 'train'; steps: number; lr: number }
  | { type: 'pause' }
  /** embeds the sample's train and test videos and runs k-NN of test against train */
  | { type: 'knn' }
  /** embeds a decoded video: (frames, height, width, 3) uint8 rgb, one clip of the model's length */
  | { type: 'embed'; frames: Uint8Array; count: number; height: number; width: number }
  /** the trained state as a vhssl checkpoint (safetensors) */
  | { type: 'checkpoint' }
  /** the state's parameters as plain arrays, for tests */
  | { type: 'params' };

export interface StepReport {
  /** steps taken since the checkpoint (the page's own count) and the run's step count */
  step: number;
  runStep: number;
  /** the sum of the groups' losses (as `vhssl train` logs it), and every loss output by name (`loss.<group>[.<term>]`) */
  loss: number;
  losses: Record<string, number>;
  /** wall time of this step (batch and session run) */
  ms: number;
}

export interface SampleEmbedding {
  /** (n, dim) row-major, L2-normalised */
  features: Float32Array;
  dim: number;
  labels: Int32Array;
  /** index of each video in the split's record list */
  videos: Int32Array;
}

export type FromWorker =
  | { type: 'ready'; backend: Backend; threads: number; runStep: number; params: number }
  | { type: 'step'; report: StepReport }
  /** training stopped: the steps asked were taken, or a pause */
  | { type: 'stopped'; step: number; reason: 'done' | 'paused' }
  | { type: 'knn'; top1: number; k: number; count: number; train: SampleEmbedding; test: SampleEmbedding }
  /** the dropped video's embedding (L2-normalised) and its nearest sample videos (train split first, then test) */
  | { type: 'embedded'; feature: Float32Array; neighbours: { split: 'train' | 'test'; video: number; label: number; similarity: number }[] }
  | { type: 'checkpoint'; bytes: Uint8Array; fileName: string }
  | { type: 'params'; tensors: Record<string, { dims: number[]; data: Float32Array }> }
  | { type: 'error'; message: string };
