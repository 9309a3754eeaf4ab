// Training speed of the `vhssl web` page: the page's worker (onnxruntime-web, WebAssembly) in headless Chromium
// against the same SampleTrainer in node on onnxruntime-node and on onnxruntime-web's WebAssembly build, on the same
// site (graphs, checkpoint, sample, batch size). Without --run it prepares Moving MNIST and trains a 2-step run of
// --config into a temporary folder (the weights do not change a step's cost); with --run it uses that run's last
// checkpoint. The page is served over HTTP by node and opened with ?backend=wasm (one thread: the server sends no
// cross-origin isolation headers, so the page runs onnxruntime-web single-threaded, as it does on most hosts).
//
// Every engine holds one trainer for all rounds (warmed up by 2 steps); each round trains N steps on each engine in
// turn. A step's time is the StepReport.ms SampleTrainer.step returns (batch, feeds and session run) — in the page the
// worker's own step reports, read from its messages, so neither the k-NN the page runs after train() nor the
// messaging between steps counts; "page, wall" is the page's time from calling window.vhssl.train(N) to its Nth step
// report, those included (not the k-NN). Per engine: best and median steps/s over the rounds, and the page's ratio to
// it (best to best, median to median). The last line is exactly
//   web steps_per_s=<page median> node_steps_per_s=<onnxruntime-node median, --threads> ratio=<page/node median>
// Run: npx tsx bench/web.ts [--run RUN_DIR | --config tiny|moving-mnist [--store DIR]] [--steps N] [--rounds R] [--threads T]
//                         [--backend wasm|webgpu]   (webgpu: the page on Chromium's WebGPU adapter, --enable-unsafe-webgpu)
// $VHSSL_CHROMIUM names a browser other than /usr/bin/chromium.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { InferenceSession } from 'onnxruntime-common';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import puppeteer, { type Browser } from 'puppeteer-core';
import { SampleTrainer, type Ort, type SiteFiles } from '../src/web/core.ts';
import { serveStatic, type Served } from '../src/web/serve.ts';
import { readSiteFiles } from '../src/web/site.ts';
import type {} from '../src/web/page/hooks.ts';

const CONFIGS = ['tiny', 'moving-mnist'];
const WARMUP = 2;
const BIN = fileURLToPath(new URL('../bin/vhssl.js', import.meta.url));

const { values: args } = parseArgs({
  options: {
    run: { type: 'string' },
    store: { type: 'string' },
    config: { type: 'string' },
    steps: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
  },
});

function usage(flag: string, message: string): never {
  console.error(`bench/web.ts: --${flag}: ${message}`);
  process.exit(2);
}
function positiveInt(flag: 'steps' | 'rounds' | 'threads'): number {
  const n = Number(args[flag]);
  if (!Number.isInteger(n) || n < 1) usage(flag, `expected a whole number ≥ 1, got "${args[flag]}"`);
  return n;
}
const STEPS = positiveInt('steps');
const ROUNDS = positiveInt('rounds');
const THREADS = positiveInt('threads');
if (args.config !== undefined && !CONFIGS.includes(args.config)) usage('config', `expected ${CONFIGS.join(' or ')}, got "${args.config}"`);
if (args.run !== undefined && (args.config !== undefined || args.store !== undefined)) usage(args.config !== undefined ? 'config' : 'store', 'only without --run (the run has its own config and data)');
if (args.run !== undefined && !existsSync(args.run)) usage('run', `no run directory at ${args.run}`);
if (args.store !== undefined && !existsSync(join(args.store, 'index.jsonl'))) usage('store', `no prepared store at ${args.store} (no index.jsonl; vhssl prepare --out DIR makes one)`);
const CHROMIUM = (process.env.VHSSL_CHROMIUM ? [process.env.VHSSL_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser']).find((p) => existsSync(p));
if (!CHROMIUM) {
  console.error('bench/web.ts: no Chromium at /usr/bin/chromium (apt-get install chromium), and $VHSSL_CHROMIUM names none');
  process.exit(2);
}
if (args.backend !== 'wasm' && args.backend !== 'webgpu') usage('backend', `expected wasm or webgpu, got "${args.backend}"`);
const CONFIG = args.config ?? 'tiny';
/** onnxruntime-node's thread counts: --threads, and 2 beside it where the machine has them. */
const NODE_THREADS = [...new Set([THREADS, ...(os.availableParallelism() >= 2 ? [2] : [])])];

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const best = (xs: readonly number[]) => Math.max(...xs);
const version = (pkg: string) => (JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

/** `vhssl ARGS` in a child process; its output is shown only when it fails. */
function vhssl(argv: string[]): void {
  console.error(`$ vhssl ${argv.join(' ')}`);
  const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw new Error(`vhssl ${argv[0]} exited with ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
}

/** What the page script below keeps: per step report of the worker, its own ms and when it arrived (performance.now()). */
interface BenchWindow { vhsslBenchSteps: { ms: number; at: number }[] }

/**
 * Runs in the page before its own scripts: every Worker it makes also reports its `step` messages (protocol.ts,
 * StepReport) to window.vhsslBenchSteps. A string, so that no helper of the TypeScript compiler leaks into it.
 */
const RECORD_STEP_REPORTS = `(() => {
  const log = (window.vhsslBenchSteps = []);
  const Base = window.Worker;
  window.Worker = class extends Base {
    constructor(url, options) {
      super(url, options);
      this.addEventListener('message', (e) => {
        if (e.data && e.data.type === 'step') log.push({ ms: e.data.report.ms, at: performance.now() });
      });
    }
  };
})();`;

interface Engine {
  name: string;
  /** N steps; their summed StepReport.ms, and the wall time where it means more (the page) */
  round(n: number): Promise<{ ms: number[]; wall?: number }>;
  release(): Promise<void>;
}

/** A SampleTrainer in node on `ort`, warmed up. */
async function nodeEngine(name: string, ort: Ort, files: SiteFiles, sessionOptions: InferenceSession.SessionOptions): Promise<Engine> {
  const trainer = await SampleTrainer.open(ort, files, { sessionOptions });
  const lr = files.info.train.lr;
  for (let k = 0; k < WARMUP; k++) await trainer.step(lr);
  return {
    name,
    round: async (n) => {
      const ms: number[] = [];
      for (let k = 0; k < n; k++) ms.push((await trainer.step(lr)).ms);
      return { ms };
    },
    release: () => trainer.release(),
  };
}

/** The page in `browser`, served from `url`, ready and warmed up; its console errors go to `problems`. */
async function pageEngine(browser: Browser, url: string, problems: string[]): Promise<Engine> {
  const page = await browser.newPage();
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`console error: ${m.text()}`)));
  page.on('pageerror', (e) => void problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.setDefaultTimeout(600_000);
  await page.evaluateOnNewDocument(RECORD_STEP_REPORTS);
  await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
  await page.evaluate(() => window.vhssl.ready);
  await page.evaluate((n) => window.vhssl.train(n), WARMUP);
  const [backend, threads] = await page.evaluate(() => [document.getElementById('backend')?.textContent, document.getElementById('threads')?.textContent]);
  return {
    name: `page (Chromium worker: ${backend}, ${threads} thread${threads === '1' ? '' : 's'})`,
    round: async (n) => {
      const r = await page.evaluate(async (n) => {
        const log = (window as unknown as BenchWindow).vhsslBenchSteps;
        log.length = 0;
        const t0 = performance.now();
        const result = await window.vhssl.train(n);
        return { steps: result.steps, reason: result.reason, ms: log.map((s) => s.ms), wall: log.length ? log[log.length - 1]!.at - t0 : NaN };
      }, n);
      if (r.steps !== n || r.ms.length !== n) throw new Error(`the page trained ${r.steps} steps (${r.reason}) and reported ${r.ms.length}, asked ${n}${problems.length ? `: ${problems.join('; ')}` : ''}`);
      return r;
    },
    release: () => page.close(),
  };
}

const tmp = mkdtempSync(join(os.tmpdir(), 'vhssl-bench-web-'));
let server: Served | undefined;
let browser: Browser | undefined;
const engines: Engine[] = [];
const problems: string[] = [];
try {
  let run = args.run === undefined ? undefined : resolve(args.run);
  if (!run) {
    const store = args.store ?? join(tmp, 'store');
    if (!args.store) vhssl(['prepare', '--dataset', 'moving-mnist', '--out', store, '--videos', '80', '--frames', '8', '--size', '32', '--seed', '3']);
    run = join(tmp, 'run');
    const sets = [`data.root=${store}`, 'train.epochs=1', 'train.steps_per_epoch=2', 'eval.knn.every=0', 'eval.final=none'];
    vhssl(['train', '--config', CONFIG, ...sets.flatMap((s) => ['--set', s]), '--out', run]);
  }
  const site = join(tmp, 'site');
  vhssl(['web', '--run', run, '--out', site, '--checkpoint', 'last']);
  const files = readSiteFiles(site);

  server = await serveStatic(site);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // WebGPU: Chromium's adapter (a GPU, else its SwiftShader software device) behind --enable-unsafe-webgpu on Linux.
    args: ['--no-sandbox', '--disable-dev-shm-usage', ...(args.backend === 'webgpu' ? ['--enable-unsafe-webgpu'] : ['--disable-gpu'])],
    userDataDir: join(tmp, 'profile'),
    timeout: 180_000,
    protocolTimeout: 600_000,
  });
  const page = await pageEngine(browser, `${server.url}?backend=${args.backend}`, problems);
  engines.push(page);
  for (const t of NODE_THREADS) engines.push(await nodeEngine(`onnxruntime-node, ${t} thread${t === 1 ? '' : 's'}`, ortNode, files, { intraOpNumThreads: t, graphOptimizationLevel: 'all' }));
  ortWeb.env.wasm.numThreads = 1;
  engines.push(await nodeEngine('onnxruntime-web in node (wasm, 1 thread)', ortWeb, files, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }));

  // steps/s per engine and round, and the page's wall-time steps/s
  const rates: number[][] = engines.map(() => []);
  const wall: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, e] of engines.entries()) {
      const out = await e.round(STEPS);
      rates[i]!.push((1000 * STEPS) / out.ms.reduce((a, b) => a + b, 0));
      if (out.wall !== undefined) wall.push((1000 * STEPS) / out.wall);
    }
  }

  const { info } = files;
  console.log(`vhssl web training speed: ${args.run ? `run ${run}` : `config ${CONFIG} (2-step run)`}, checkpoint step ${info.checkpoint.step}, batch ${info.train.batchSize}, ${info.task}, groups ${info.groups.join(', ')}`);
  console.log(`  ${await browser.version()}, onnxruntime-web ${version('onnxruntime-web')}, onnxruntime-node ${version('onnxruntime-node')}, ${os.cpus()[0]?.model}, ${os.availableParallelism()} cores`);
  console.log(`  ${ROUNDS} rounds of ${STEPS} steps per engine, interleaved; steps/s from each step's own time (StepReport.ms: batch and session run)`);
  const [pageBest, pageMed] = [best(rates[0]!), median(rates[0]!)];
  const row = (name: string, xs: readonly number[]) => `  ${name.padEnd(54)} best ${best(xs).toFixed(2).padStart(7)}  median ${median(xs).toFixed(2).padStart(7)} steps/s`;
  console.log(row(engines[0]!.name, rates[0]!));
  console.log(row('page, wall (train(N) call to its Nth step report)', wall));
  for (const [i, e] of engines.entries()) {
    if (i === 0) continue;
    const [b, m] = [best(rates[i]!), median(rates[i]!)];
    console.log(`${row(e.name, rates[i]!)}   page/this: best ${(pageBest / b).toFixed(3)}×  median ${(pageMed / m).toFixed(3)}×`);
  }
  if (problems.length) console.log(`  the page logged: ${problems.join('; ')}`);
  const node = median(rates[1]!);
  console.log(`web steps_per_s=${pageMed.toFixed(2)} node_steps_per_s=${node.toFixed(2)} ratio=${(pageMed / node).toFixed(3)}`);
} finally {
  for (const e of engines) await e.release().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
}
