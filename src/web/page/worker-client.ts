// The page's end of the worker: requests go one at a time, in order, each answered by one message of the type it
// expects (messages of other types while it waits, such as training's `step` reports, go to its listener). So a
// worker `error` always belongs to the request in flight, and rejects exactly that one.
import type { FromWorker, ToWorker } from '../protocol.ts';

export type Reply<T extends FromWorker['type']> = Extract<FromWorker, { type: T }>;

/** An error the worker reported, or the worker failing to load or run. */
export class WorkerError extends Error {
  override readonly name = 'WorkerError';
}

interface InFlight {
  what: ToWorker['type'];
  expect: FromWorker['type'];
  resolve: (m: FromWorker) => void;
  reject: (e: Error) => void;
  listen?: (m: FromWorker) => void;
}

export class WorkerClient {
  private readonly worker: Worker;
  private queue: Promise<unknown> = Promise.resolve();
  private current: InFlight | undefined;
  private broken: WorkerError | undefined;

  /** `stray`: a worker error, or a message, that no request is waiting for. */
  constructor(url: URL, private readonly stray: (e: Error) => void) {
    this.worker = new Worker(url, { type: 'module' });
    this.worker.addEventListener('message', (e: MessageEvent<FromWorker>) => this.receive(e.data));
    this.worker.addEventListener('error', (e) => {
      e.preventDefault();
      const detail = e instanceof ErrorEvent && e.message ? `${e.message}${e.filename ? ` (${e.filename}:${e.lineno})` : ''}` : 'failed to load or crashed';
      this.fail(new WorkerError(`${url.pathname.split('/').pop()}: ${detail}`));
    });
    this.worker.addEventListener('messageerror', () => this.fail(new WorkerError('a message from the worker could not be read (structured clone failed)')));
  }

  /** Sends `message` once every earlier request is answered; resolves with the worker's `expect` reply. */
  request<T extends FromWorker['type']>(message: ToWorker, expect: T, o: { transfer?: Transferable[]; listen?: (m: FromWorker) => void } = {}): Promise<Reply<T>> {
    const send = () => new Promise<Reply<T>>((resolve, reject) => {
      if (this.broken) return reject(this.broken);
      this.current = { what: message.type, expect, resolve: resolve as (m: FromWorker) => void, reject, listen: o.listen };
      this.worker.postMessage(message, o.transfer ?? []);
    });
    const reply = this.queue.then(send, send);
    this.queue = reply.catch(() => undefined);
    return reply;
  }

  /** Sends at once, past the queue (`pause` while a `train` request waits for `stopped`). */
  post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  private receive(m: FromWorker): void {
    const c = this.current;
    if (m.type === 'error') {
      const e = new WorkerError(c && !m.message.startsWith(`${c.what}:`) ? `${c.what}: ${m.message}` : m.message);
      if (!c) return this.stray(e);
      this.current = undefined;
      return c.reject(e);
    }
    if (c && m.type === c.expect) {
      this.current = undefined;
      return c.resolve(m);
    }
    if (c?.listen) return c.listen(m);
    this.stray(new WorkerError(`unexpected '${m.type}' message from the worker${c ? ` while waiting for '${c.expect}'` : ''}`));
  }

  private fail(e: WorkerError): void {
    this.broken = e;
    const c = this.current;
    this.current = undefined;
    if (c) c.reject(e);
    else this.stray(e);
    this.worker.terminate();
  }
}
