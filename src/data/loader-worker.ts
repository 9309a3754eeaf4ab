// Worker thread of the loader: builds the batches it is sent and transfers their buffers back.
import { parentPort, workerData } from 'node:worker_threads';
import { UserError } from '../errors.ts';
import { buildBatch, type BatchConfig, type BatchJob } from './batch.ts';
import { ShardFiles, type StoredVideo } from './store.ts';

const { config, records } = workerData as { config: BatchConfig; records: StoredVideo[] };
const files = new ShardFiles();

parentPort!.on('message', (msg: { id: number; job: BatchJob }) => {
  try {
    const b = buildBatch(files, records, config, msg.job);
    parentPort!.postMessage({ id: msg.id, batch: b }, [b.x.buffer, b.labels.buffer, b.videos.buffer, b.starts.buffer] as ArrayBuffer[]);
  } catch (e) {
    const user = e instanceof UserError ? { where: e.where, problem: e.problem, hint: e.hint } : undefined;
    parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e), user });
  }
});
