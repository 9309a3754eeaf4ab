// The page: reads site.json, starts the worker (which holds the model and runs ONNX Runtime), and draws what it
// reports: the training loss, k-NN on the sample, the dropped video's neighbours and a PCA map of the sample's
// embeddings. The buttons and window.vhssl (hooks.ts) call the same App methods; every failure is shown on the page
// and logged with console.error.
import { isUserError, UserError } from '../../errors.ts';
import type { Backend, FromWorker, SiteInfo, StepReport } from '../protocol.ts';
import { classColour, legend, lineChart, scatter, type LegendEntry, type ScatterPoint } from './chart.ts';
import { decodeClip, type Clip } from './decode.ts';
import type { Embedding, PageState, ParamTensors, TrainResult, VhsslHooks } from './hooks.ts';
import { pca2 } from './pca.ts';
import { SampleStore } from './store.ts';
import { animatedThumbnail, frameThumbnail } from './thumbs.ts';
import { WorkerClient, type Reply } from './worker-client.ts';

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`index.html: no element #${id}`);
  return e as T;
}

const text = (id: string, s: string): void => void ($(id).textContent = s);
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const percent = (v: number): string => `${v.toFixed(1)} %`;

/** Whether WebGPU can run here: navigator.gpu exists and gives an adapter (headless or GPU-less browsers often
 * have the first without the second). */
async function webGpuAdapter(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<object | null> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** webgpu when the browser can run it, unless `?backend=wasm|webgpu` says which. */
function chooseBackend(search: string, webgpu: boolean): Backend {
  const asked = new URLSearchParams(search).get('backend');
  if (asked === null || asked === '') return webgpu ? 'webgpu' : 'wasm';
  if (asked !== 'wasm' && asked !== 'webgpu') throw new UserError('?backend', `expected webgpu or wasm, got "${asked}"`);
  if (asked === 'webgpu' && !webgpu) throw new UserError('?backend=webgpu', 'this browser gives no WebGPU adapter (navigator.gpu missing, or requestAdapter() found none)', 'open the page with ?backend=wasm');
  return asked;
}

/** Shows an error in the banner (or beside the drop zone) and logs it; a failure of the page itself, not of a
 * user's input, puts the page in the 'error' state. */
function report(e: unknown, o: { fatal?: boolean; where?: string } = {}): void {
  console.error(e);
  const line = document.createElement('p');
  line.textContent = message(e);
  const box = $(o.where ?? 'error');
  box.append(line);
  box.hidden = false;
  while (box.childElementCount > 4) box.firstElementChild!.remove();
  if (o.fatal ?? !isUserError(e)) document.body.dataset.state = 'error' satisfies PageState;
}

/** Steps per second over the last reports' own times. */
function stepsPerSecond(reports: readonly StepReport[]): number {
  const last = reports.slice(-20);
  const ms = last.reduce((s, r) => s + r.ms, 0);
  return ms > 0 ? (1000 * last.length) / ms : NaN;
}

class App {
  /** steps since the checkpoint (all training together) and the run's step count */
  private step = 0;
  private runStep: number;
  private readonly reports: StepReport[] = [];
  private training: { target: number; lr: number; pausing: boolean } | undefined;
  /** the rest of a paused training, for Resume */
  private rest: { steps: number; lr: number } | undefined;
  /** trainings running, with the k-NN after each */
  private busy = 0;
  private knnAt: { step: number; reply: Reply<'knn'> } | undefined;
  private readonly knnHistory: { step: number; top1: number }[] = [];
  private last: { clip: Clip; embedding: Embedding; feature: Float32Array } | undefined;
  private drawQueued = false;

  constructor(
    private readonly site: SiteInfo,
    private readonly client: WorkerClient,
    private readonly store: SampleStore,
    ready: Reply<'ready'>,
  ) {
    this.runStep = ready.runStep;
    $<HTMLInputElement>('steps').value = String(site.train.steps);
    $<HTMLInputElement>('lr').value = String(site.train.lr);
    text('backend', ready.backend);
    text('threads', String(ready.threads));
    text('param-count', ready.params.toLocaleString('en'));
    this.showStep();
    this.drawLoss();
  }

  /** Runs `f`; a failure is reported (beside the drop zone for `where: 'embed-error'`) and rethrown. */
  async act<T>(f: () => Promise<T>, where?: string): Promise<T> {
    try {
      return await f();
    } catch (e) {
      report(e, { where: where && isUserError(e) ? where : undefined });
      throw e;
    }
  }

  /** 'training' while a training (or the k-NN after it) runs, else 'ready'; an 'error' stays. */
  setState(): void {
    if (document.body.dataset.state !== 'error') document.body.dataset.state = (this.busy > 0 ? 'training' : 'ready') satisfies PageState;
    this.controls();
  }

  private controls(): void {
    const training = this.training !== undefined;
    $<HTMLButtonElement>('start').disabled = training;
    const pause = $<HTMLButtonElement>('pause');
    pause.textContent = this.rest && !training ? `Resume (${this.rest.steps} steps)` : 'Pause';
    pause.disabled = training ? this.training!.pausing : !this.rest;
    $<HTMLButtonElement>('download').disabled = false;
    $<HTMLButtonElement>('knn-button').disabled = false;
    $<HTMLInputElement>('video-file').disabled = false;
    $('drop-zone').classList.remove('disabled');
  }

  async train(steps: number, lr = this.site.train.lr): Promise<TrainResult> {
    if (!Number.isInteger(steps) || steps < 1) throw new UserError('steps', `expected a whole number ≥ 1, got ${steps}`);
    if (!(Number.isFinite(lr) && lr > 0)) throw new UserError('learning rate', `expected a positive number, got ${lr}`);
    if (this.training) throw new UserError('train', 'already training', 'pause it first');
    const first = this.step;
    let lastLoss = NaN;
    this.training = { target: first + steps, lr, pausing: false };
    this.rest = undefined;
    this.busy++;
    this.setState();
    text('status', `Training ${steps} steps at lr ${lr}…`);
    try {
      const listen = (m: FromWorker) => {
        if (m.type !== 'step') return report(new Error(`unexpected '${m.type}' message while training`));
        lastLoss = m.report.loss;
        this.onStep(m.report);
      };
      const stopped = await this.client.request({ type: 'train', steps, lr }, 'stopped', { listen });
      this.step = stopped.step;
      const target = this.training.target;
      this.training = undefined;
      if (stopped.reason === 'paused' && stopped.step < target) this.rest = { steps: target - stopped.step, lr };
      this.showStep();
      this.setState();
      text('status', stopped.reason === 'done' ? `Trained ${stopped.step - first} steps.` : `Paused after ${stopped.step - first} steps.`);
      if (stopped.reason === 'done') await this.knn();
      return { steps: stopped.step - first, lastLoss, step: stopped.step, runStep: this.runStep, reason: stopped.reason };
    } finally {
      this.training = undefined;
      this.busy--;
      this.setState();
    }
  }

  /** Pause while training; else Resume: train the rest of a paused training. */
  async pauseOrResume(): Promise<unknown> {
    if (this.training) return this.pause();
    if (this.rest) return this.train(this.rest.steps, this.rest.lr);
  }

  pause(): void {
    if (!this.training || this.training.pausing) return;
    this.training.pausing = true;
    this.client.post({ type: 'pause' });
    text('status', 'Pausing after this step…');
    this.controls();
  }

  private onStep(r: StepReport): void {
    this.reports.push(r);
    this.step = r.step;
    this.runStep = r.runStep;
    this.showStep();
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      this.drawLoss();
    });
  }

  private showStep(): void {
    const target = this.training ? ` / ${this.training.target}` : '';
    text('step-count', `${this.step}${target} (run step ${this.runStep})`);
    const last = this.reports.at(-1);
    text('last-loss', last ? last.loss.toPrecision(4) : '–');
    const rate = stepsPerSecond(this.reports);
    text('steps-per-second', Number.isFinite(rate) ? rate.toFixed(rate < 10 ? 2 : 1) : '–');
  }

  drawLoss(): void {
    lineChart($<HTMLCanvasElement>('loss-chart'), this.reports.map((r) => r.step), this.reports.map((r) => r.loss), {
      xLabel: 'step (since the checkpoint)',
      yLabel: 'loss',
      logY: true,
      empty: 'the loss of each step appears here while training',
    });
  }

  async knn(): Promise<number> {
    text('status', 'Embedding the sample’s videos for k-NN…');
    const reply = await this.client.request({ type: 'knn' }, 'knn');
    this.knnAt = { step: this.step, reply };
    if (this.knnHistory.at(-1)?.step === this.step) this.knnHistory.pop();
    this.knnHistory.push({ step: this.step, top1: reply.top1 });
    text('knn-top1', percent(reply.top1));
    text('knn-detail', `k = ${reply.k}, ${reply.count} test videos`);
    text('knn-history', this.knnHistory.map((h) => `${h.step === 0 ? 'checkpoint' : `step ${h.step}`}: ${percent(h.top1)}`).join(' → '));
    text('status', `k-NN top-1 at step ${this.step}: ${percent(reply.top1)}.`);
    this.drawMap();
    return reply.top1;
  }

  /** The sample's train and test embeddings on their first two principal directions; the dropped video as a star
   * when it was embedded by the same parameters as the map. */
  drawMap(): void {
    const canvas = $<HTMLCanvasElement>('pca-map');
    if (!this.knnAt) return scatter(canvas, [], { xLabel: 'PC 1', yLabel: 'PC 2', empty: 'the map appears once the sample is embedded' });
    const { train, test } = this.knnAt.reply;
    const dim = train.dim;
    const [nTrain, nTest] = [train.features.length / dim, test.features.length / dim];
    const rows = new Float32Array((nTrain + nTest) * dim);
    rows.set(train.features);
    rows.set(test.features, train.features.length);
    const p = pca2(rows, nTrain + nTest, dim);
    const classes = this.store.classes.length;
    const labels = [...train.labels, ...test.labels];
    const points: ScatterPoint[] = labels.map((label, i) => ({ x: p.points[2 * i]!, y: p.points[2 * i + 1]!, colour: classColour(label, classes), mark: i < nTrain ? 'dot' : 'ring' }));
    const current = this.last && this.last.embedding.step === this.knnAt.step ? this.last : undefined;
    if (current) {
      const [x, y] = p.project(current.feature);
      points.push({ x, y, colour: '#111', mark: 'star' });
    }
    const share = (k: 0 | 1) => {
      const v = p.total > 0 ? (100 * p.variance[k]) / p.total : NaN;
      return Number.isFinite(v) ? ` (${v >= 10 ? Math.round(v) : v.toFixed(1)} % of variance)` : '';
    };
    scatter(canvas, points, { xLabel: `PC 1${share(0)}`, yLabel: `PC 2${share(1)}` });
    canvas.setAttribute('aria-label', `PCA map of ${nTrain} train and ${nTest} test embeddings at step ${this.knnAt.step}, coloured by class${current ? `, with ${current.embedding.fileName} as a star` : ''}`);
    const present = [...new Set(labels)].sort((a, b) => a - b);
    const entries: LegendEntry[] = [
      ...present.map((label): LegendEntry => ({ label: this.store.className(label), colour: classColour(label, classes), mark: 'dot' })),
      { label: 'train video', colour: '#555', mark: 'dot' },
      { label: 'test video', colour: '#555', mark: 'ring' },
      ...(current ? [{ label: `your video (${current.embedding.fileName})`, colour: '#111', mark: 'star' } satisfies LegendEntry] : []),
    ];
    legend($('pca-legend'), entries);
    const stale = this.last && !current;
    $('reembed-note').hidden = !stale;
    if (stale) text('reembed-text', `${this.last!.embedding.fileName} was embedded at step ${this.last!.embedding.step}; the map is at step ${this.knnAt.step}.`);
  }

  async embedFile(file: File): Promise<Embedding> {
    $('embed-error').replaceChildren();
    $('embed-error').hidden = true;
    text('clip-info', `Decoding ${file.name}…`);
    $('clip-frames').replaceChildren();
    const clip = await decodeClip(file, this.site.clip, this.site.fps ?? 25).catch((e: unknown) => {
      text('clip-info', '');
      throw e;
    });
    const { clip: shape } = this.site;
    text('clip-info', `${file.name}: ${clip.width}×${clip.height}, ${clip.decoded} frames; the model sees frames ${clip.indices.join(', ')} (${shape.frames} frames ${shape.stride} apart, from the middle), resized to ${shape.width}×${shape.height}.`);
    $('clip-frames').replaceChildren(...clip.indices.map((_, t) => frameThumbnail(clip.frames, t, clip.height, clip.width, 84)));
    return this.embedClip(file.name, clip);
  }

  async embedClip(fileName: string, clip: Clip): Promise<Embedding> {
    text('status', `Embedding ${fileName}…`);
    const frames = clip.frames.slice();
    const reply = await this.client.request({ type: 'embed', frames, count: clip.count, height: clip.height, width: clip.width }, 'embedded', { transfer: [frames.buffer] });
    const embedding: Embedding = {
      fileName,
      feature: Array.from(reply.feature),
      neighbours: reply.neighbours.map((n) => ({ ...n, className: this.store.className(n.label) })),
      clip: { count: clip.count, height: clip.height, width: clip.width, decoded: clip.decoded, indices: [...clip.indices] },
      step: this.step,
    };
    this.last = { clip, embedding, feature: reply.feature };
    window.vhsslLastEmbedding = embedding;
    this.drawMap();
    await this.showNeighbours(embedding);
    text('status', `Embedded ${fileName}.`);
    return embedding;
  }

  private async showNeighbours(e: Embedding): Promise<void> {
    const figures = await Promise.all(e.neighbours.map(async (n) => {
      const v = await this.store.video(n.split, n.video);
      const figure = document.createElement('figure');
      const caption = document.createElement('figcaption');
      const name = document.createElement('strong');
      name.textContent = n.className;
      caption.append(name, ` ${n.split} · cos ${n.similarity.toFixed(3)}`);
      figure.append(animatedThumbnail(v.frames, v.count, v.height, v.width, v.record.fps ?? 8, 112), caption);
      figure.title = `${v.record.id} (${n.split} video ${n.video})`;
      figure.dataset.split = n.split;
      return figure;
    }));
    const list = $('neighbours');
    list.replaceChildren(...figures);
    text('neighbours-note', `Nearest sample videos to ${e.fileName} by cosine similarity of embeddings, at step ${e.step}.`);
  }

  async reembed(): Promise<Embedding> {
    if (!this.last) throw new UserError('re-embed', 'no video was dropped yet');
    return this.embedClip(this.last.embedding.fileName, this.last.clip);
  }

  async checkpoint(): Promise<Reply<'checkpoint'>> {
    text('status', 'Writing the checkpoint…');
    const reply = await this.client.request({ type: 'checkpoint' }, 'checkpoint');
    text('status', `Checkpoint ready: ${reply.fileName} (${(reply.bytes.length / 2 ** 20).toFixed(1)} MiB).`);
    return reply;
  }

  async download(): Promise<void> {
    const { bytes, fileName } = await this.checkpoint();
    const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = fileName;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    text('checkpoint-command', `vhssl eval knn --run ${this.site.run} --checkpoint ${fileName}`);
  }

  async params(): Promise<ParamTensors> {
    const reply = await this.client.request({ type: 'params' }, 'params');
    return Object.fromEntries(Object.entries(reply.tensors).map(([name, t]) => [name, { dims: [...t.dims], data: Array.from(t.data) }]));
  }
}

function showSite(site: SiteInfo, store: SampleStore): void {
  const name = site.run.replace(/[/\\]+$/, '').split(/[/\\]/).pop() || site.run;
  text('run-name', name);
  $('run-name').title = site.run;
  document.title = `${name} · vhssl web`;
  text('checkpoint', `step ${site.checkpoint.step} (${site.checkpoint.file})`);
  text('task', site.task);
  text('groups', site.groups.join(', ') || '–');
  text('sample', `${site.store.train} train / ${site.store.test} test videos, ${store.classes.length} classes`);
  text('clip', `${site.clip.frames} frames ${site.clip.stride} apart at ${site.clip.width}×${site.clip.height}`);
  text('checkpoint-command', `vhssl eval knn --run ${site.run} --checkpoint FILE`);
}

async function fetchSite(url: URL): Promise<SiteInfo> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status} ${res.statusText}`);
  const site = (await res.json()) as SiteInfo;
  if (site.format !== 'vhssl-web/1') throw new Error(`${url.href}: format "${String(site.format)}", expected "vhssl-web/1" (rebuild the site with this vhssl)`);
  return site;
}

/** Loads the site, starts the worker and shows the k-NN at the checkpoint. */
async function boot(): Promise<App> {
  if (location.protocol === 'file:') throw new UserError(location.href, 'opened as a file; browsers run no module workers from file://', 'serve the folder, e.g. python3 -m http.server -d DIR, and open http://localhost:8000/');
  const root = new URL('./', location.href);
  text('status', 'Loading site.json…');
  const site = await fetchSite(new URL('site.json', root));
  const store = await SampleStore.open(new URL(site.store.dir.replace(/\/*$/, '/'), root));
  showSite(site, store);
  const backend = chooseBackend(location.search, await webGpuAdapter());
  const threads = crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  text('backend', `${backend} (starting)`);
  text('threads', String(threads));
  text('status', `Starting ONNX Runtime (${backend}, ${threads} thread${threads === 1 ? '' : 's'}) and loading the model…`);
  const client = new WorkerClient(new URL('worker.js', root), (e) => report(e));
  const ready = await client.request({ type: 'init', base: root.href, ortBase: new URL('ort/', root).href, backend, threads }, 'ready');
  const app = new App(site, client, store, ready);
  await app.knn();
  app.setState();
  return app;
}

function wire(app: Promise<App>): void {
  const use = (f: (a: App) => Promise<unknown>) => () => void app.then(f).catch(() => undefined);
  $('train-form').addEventListener('submit', (e) => {
    e.preventDefault();
    use((a) => a.act(() => a.train(Number($<HTMLInputElement>('steps').value), Number($<HTMLInputElement>('lr').value))))();
  });
  $('pause').addEventListener('click', use((a) => a.act(() => a.pauseOrResume())));
  $('knn-button').addEventListener('click', use((a) => a.act(() => a.knn())));
  $('download').addEventListener('click', use((a) => a.act(() => a.download())));
  $('reembed').addEventListener('click', use((a) => a.act(() => a.reembed())));
  const embed = (file: File | undefined) => file && use((a) => a.act(() => a.embedFile(file), 'embed-error'))();
  const input = $<HTMLInputElement>('video-file');
  input.addEventListener('change', () => {
    embed(input.files?.[0]);
    input.value = '';
  });
  const zone = $('drop-zone');
  // A file dropped anywhere else must not navigate away from the page.
  for (const type of ['dragover', 'drop'] as const) window.addEventListener(type, (e) => e.preventDefault());
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (!input.disabled) zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (!input.disabled) embed(e.dataTransfer?.files[0]);
  });
  let resizeQueued = false;
  window.addEventListener('resize', () => {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(() => {
      resizeQueued = false;
      void app.then((a) => {
        a.drawLoss();
        a.drawMap();
      });
    });
  });
}

window.addEventListener('error', (e) => report(e.error ?? e.message, { fatal: true }));
window.addEventListener('unhandledrejection', (e) => report(e.reason, { fatal: true }));

const app = boot().catch((e: unknown) => {
  report(e, { fatal: true });
  text('status', 'The page could not start; see the message above.');
  throw e;
});
const ready = app.then(() => undefined);
ready.catch(() => undefined);
app.catch(() => undefined);
void app.then(() => text('status', 'Ready: train the model, or drop a video to embed it.'), () => undefined);

const hooks: VhsslHooks = {
  ready,
  train: async (steps, lr) => {
    const a = await app;
    return a.act(() => a.train(steps, lr));
  },
  pause: () => void app.then((a) => a.pause(), () => undefined),
  knn: async () => {
    const a = await app;
    return a.act(() => a.knn());
  },
  params: async () => {
    const a = await app;
    return a.act(() => a.params());
  },
  embedFile: async (file) => {
    const a = await app;
    return a.act(() => a.embedFile(file), 'embed-error');
  },
  checkpointBytes: async () => {
    const a = await app;
    return a.act(async () => Array.from((await a.checkpoint()).bytes));
  },
};
window.vhssl = hooks;
wire(app);
