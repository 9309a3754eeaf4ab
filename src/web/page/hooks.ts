// `window.vhssl`: what a headless-browser test drives. The page's buttons call the same functions. Every value is
// plain (arrays, not typed arrays), so puppeteer's page.evaluate can return it.

export interface TrainResult {
  /** steps taken by this call (fewer than asked when paused) and the summed loss of its last step (NaN: none) */
  steps: number;
  lastLoss: number;
  /** steps since the checkpoint, all calls together, and the run's step count */
  step: number;
  runStep: number;
  reason: 'done' | 'paused';
}

export interface Neighbour {
  split: 'train' | 'test';
  /** index into the split's records in index.jsonl order */
  video: number;
  label: number;
  className: string;
  /** cosine similarity to the dropped video */
  similarity: number;
}

export interface Embedding {
  fileName: string;
  /** L2-normalised */
  feature: number[];
  neighbours: Neighbour[];
  /** the decoded clip: its size, the file's frame count and the frames taken */
  clip: { count: number; height: number; width: number; decoded: number; indices: number[] };
  /** steps since the checkpoint when it was embedded */
  step: number;
}

export type ParamTensors = Record<string, { dims: number[]; data: number[] }>;

export interface VhsslHooks {
  /** resolves once the worker is ready and the k-NN at the checkpoint is shown; rejects when loading failed */
  ready: Promise<void>;
  /** trains `steps` steps at `lr` (default: site.json's train.lr); resolves when training stopped and, when all
   * steps were taken, after the k-NN that follows */
  train(steps: number, lr?: number): Promise<TrainResult>;
  /** asks a running training to stop (its train() then resolves with reason 'paused') */
  pause(): void;
  /** k-NN top-1 (percent) of the sample's test split against its train split */
  knn(): Promise<number>;
  params(): Promise<ParamTensors>;
  /** decodes and embeds a video file, as a drop or #video-file does */
  embedFile(file: File): Promise<Embedding>;
  /** the trained state as a vhssl checkpoint (safetensors bytes) */
  checkpointBytes(): Promise<number[]>;
}

export type PageState = 'loading' | 'ready' | 'training' | 'error';

declare global {
  interface Window {
    vhssl: VhsslHooks;
    /** the last embedding of a dropped or chosen file */
    vhsslLastEmbedding?: Embedding;
  }
}
