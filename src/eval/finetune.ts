// Fine-tuning: the whole encoder (from a checkpoint) plus a linear head, trained end to end on the labelled train
// split with the `cls` training graph (clsTrainGraph: NLL of log-softmax) and one optimizer graph over every
// parameter (the run's `train.optimizer`, cosine lr over the fine-tuning steps), with the configured augmentation.
// Then test accuracy: the fine-tuned encoder's embeddings over the test views, the head's log-probabilities, clip
// level and video level (mean log-probabilities of a video's views).
import * as ort from 'onnxruntime-node';
import type { Config } from '../config/index.ts';
import { loaderFromConfig } from '../data/from-config.ts';
import { StoreReader } from '../data/store.ts';
import { UserError } from '../errors.ts';
import { clsTrainGraph } from '../graph/model/graphs.ts';
import type { ModelSpec } from '../graph/model/spec.ts';
import { EMBEDDING, LABELS, VIDEO } from '../graph/names.ts';
import type { Tensor } from '../graph/tensor.ts';
import { cosine } from '../runtime/schedule.ts';
import type { ExecutionProvider } from '../runtime/session.ts';
import { tensorsOf } from '../runtime/state.ts';
import { graphStepper } from '../runtime/stepper.ts';
import { DEFAULT_TEST_VIEWS, extractFeatures, storeOf, type Views } from './features.ts';
import type { Accuracy } from './knn.ts';
import { headLogProbs, scoreAccuracy } from './probe.ts';
import { progressBar } from './progress.ts';
import { evalSplits } from './validate.ts';

export interface FinetuneOptions {
  epochs?: number;
  /** default: the run's `train.optimizer.lr` */
  lr?: number;
  /** default: `train.batch_size` (at most the number of train videos) */
  batchSize?: number;
  /** stop after this many steps in total (the lr schedule still spans the epochs) */
  maxSteps?: number;
  testViews?: Views;
  store?: string;
  ep?: ExecutionProvider;
  threads?: number;
  progress?: boolean;
}

export interface FinetuneResult {
  clip: Accuracy;
  video: Accuracy;
  /** mean training loss per epoch */
  losses: number[];
  steps: number;
  /** The batch it trained with: the asked (or config's) batch size, at most the train split's clips. */
  batchSize: number;
  params: Map<string, Tensor>;
}

export async function finetune(config: Config, spec: ModelSpec, encoder: ReadonlyMap<string, Tensor>, o: FinetuneOptions = {}): Promise<FinetuneResult> {
  const store = storeOf(config, o.store);
  const cfg: Config = { ...config, data: { ...config.data, root: store } };
  const splits = evalSplits(store);
  const reader = new StoreReader(store);
  const videos = reader.split(splits.train).length;
  const K = reader.classes.length;
  reader.close();
  if (K < 2) throw new UserError(store, `fine-tuning needs at least 2 classes, classes.json has ${K}`);
  const B = Math.min(o.batchSize ?? config.train.batch_size, videos * config.data.epoch_clips_per_video);
  const g = clsTrainGraph({ ...spec, batch: B, numClasses: K }, config.train.seed);
  const epochs = o.epochs ?? config.eval.probe.epochs;
  const lr = o.lr ?? config.train.optimizer.lr;
  const [group] = g.groups as [string];
  const { stepper, state } = await graphStepper(group, { graph: g.builder.graph, params: g.params, buffers: g.buffers }, { ...config.train.optimizer, lr }, { initial: encoder, ep: o.ep, threads: o.threads });
  const loader = loaderFromConfig(cfg, { split: splits.train, train: true, batchSize: B });
  const total = epochs * loader.batchesPerEpoch;
  const steps = Math.min(total, o.maxSteps ?? total);
  const losses: number[] = [];
  const bar = progressBar('fine-tune', steps, 'steps', o.progress);
  let step = 0;
  try {
    for (let e = 0; e < epochs && step < steps; e++) {
      let sum = 0;
      let n = 0;
      for await (const batch of loader) {
        if (step >= steps) break;
        const feeds = { [VIDEO]: new ort.Tensor('float32', batch.x, batch.shape), [LABELS]: new ort.Tensor('int64', BigInt64Array.from(batch.labels, (y) => BigInt(y)), [B]) };
        const r = await stepper.step([feeds], { [group]: cosine(lr, 0, step / total) }, { [group]: step });
        sum += r.losses[0]!.value;
        n++;
        step++;
        bar.tick();
      }
      losses.push(sum / Math.max(1, n));
    }
  } finally {
    bar.stop();
    await loader.close();
    await stepper.release();
  }
  const params = tensorsOf(state, [...g.params, ...g.buffers].map((p) => p.value.name));
  const encoderParams = new Map([...params].filter(([k]) => encoder.has(k)));
  const test = await extractFeatures({ config, spec, params: encoderParams, split: splits.test, views: o.testViews ?? DEFAULT_TEST_VIEWS, store, ep: o.ep, threads: o.threads, progress: o.progress });
  const emb = test.levels.get(EMBEDDING)!;
  const logp = await headLogProbs(emb.data, emb.dim, K, params, { ep: o.ep, threads: o.threads });
  return { ...scoreAccuracy(logp, K, test.labels, test.videos), losses, steps: step, batchSize: B, params };
}
