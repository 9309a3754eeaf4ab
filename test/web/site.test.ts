// `vhssl web` end to end on a real short run (tiny config, Moving MNIST): the site it writes, the page's training core
// run in onnxruntime-node against `vhssl train --init-from` on the site's own sample (the same batches, positions and
// step graph: the same parameters, bitwise), the page's checkpoint accepted by `vhssl eval`, and each bad input's
// one-line message. The page itself in a browser: page-browser.test.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { StoreReader } from '../../src/data/store.ts';
import { readSafetensors } from '../../src/graph/safetensors.ts';
import { SampleTrainer } from '../../src/web/core.ts';
import { readSiteFiles } from '../../src/web/site.ts';
import { BIN, vhssl } from '../cli/run.ts';
import { movingMnist } from '../fixtures.ts';
import { tempDir } from '../temp.ts';

const TRAIN = ['--config', 'tiny', '--set', 'train.batch_size=8', '--set', 'train.epochs=2', '--set', 'train.steps_per_epoch=4'];

describe('vhssl web', () => {
  const tmp = tempDir('web-site');
  const run = join(tmp.dir, 'run');
  const site = join(tmp.dir, 'site');

  before(() => {
    const trained = vhssl(['train', ...TRAIN, '--set', `data.root=${movingMnist()}`, '--out', run]);
    assert.equal(trained.status, 0, trained.stderr);
    const r = vhssl(['web', '--run', run, '--out', site, '--checkpoint', 'last', '--train-videos', '24', '--test-videos', '16', '--steps', '5']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /sample 24 train \+ 16 test videos/);
  });

  after(() => tmp.cleanup());

  test('writes the page, the bundles, onnxruntime-web, the model and a sample store that vhssl reads', () => {
    for (const f of ['index.html', 'style.css', 'page.js', 'worker.js', 'site.json', 'ort/ort-wasm-simd-threaded.jsep.wasm', 'model/manifest.json', 'model/step.onnx', 'model/encoder.onnx', 'model/checkpoint.safetensors']) {
      assert.ok(existsSync(join(site, f)), `${f} is there`);
    }
    const info = JSON.parse(readFileSync(join(site, 'site.json'), 'utf8'));
    assert.equal(info.format, 'vhssl-web/1');
    assert.equal(info.checkpoint.step, 8);
    assert.deepEqual(info.groups, ['space', 'time']);
    assert.equal(info.train.steps, 5);
    assert.equal(info.knn.k, 3, 'k-NN on the sample: at most its train videos per class (24 over 8 classes)');
    const store = new StoreReader(join(site, 'data'));
    try {
      assert.equal(store.split('train').length, 24);
      assert.equal(store.split('test').length, 16);
      // Spread over the classes: 8 motion classes, 3 train videos each.
      assert.equal(new Set(store.split('train').map((r) => r.label)).size, 8);
    } finally {
      store.close();
    }
    // The page's code was bundled for browsers: no node built-in is imported.
    for (const f of ['page.js', 'worker.js']) assert.doesNotMatch(readFileSync(join(site, f), 'utf8'), /from\s*["']node:/);
  });

  test('the page\'s training equals vhssl train --init-from on the same sample, bitwise, and its checkpoint evaluates', async () => {
    const files = readSiteFiles(site);
    const steps = 7; // 24 train videos in batches of 8: into the second epoch
    const trainer = await SampleTrainer.open(ort, files, { sessionOptions: { intraOpNumThreads: 1 } });
    try {
      for (let k = 0; k < steps; k++) await trainer.step(files.info.train.lr);
      // The same continuation by vhssl: its sample as the store, the page's constant rate and EMA decay.
      const cont = join(tmp.dir, 'cont');
      const r = vhssl([
        'train', ...TRAIN, '--set', `data.root=${join(site, 'data')}`, '--set', 'train.schedule={name: constant, warmup_epochs: 0}',
        '--set', `train.optimizer.lr=${files.info.train.lr}`, '--set', `arch.ema.final_decay=${files.info.train.emaDecay}`,
        '--init-from', `${run}:${join(site, 'model', 'checkpoint.safetensors')}`, '--optimizer-state', 'keep', '--max-steps', String(steps), '--threads', '1', '--out', cont,
      ]);
      assert.equal(r.status, 0, r.stderr);
      const theirs = readSafetensors(join(cont, 'checkpoints', 'last.safetensors')).tensors;
      let compared = 0;
      for (const [name, t] of trainer.state) {
        const ref = theirs.get(name);
        assert.ok(ref, `vhssl's checkpoint has ${name}`);
        assert.deepEqual(Buffer.from((t.data as Float32Array).buffer), Buffer.from((ref.data as Float32Array).buffer), `${name} is bitwise equal after ${steps} steps`);
        compared++;
      }
      assert.ok(compared > 20);

      const file = join(tmp.dir, 'from-page.safetensors');
      writeFileSync(file, trainer.checkpoint());
      assert.equal(readSafetensors(file).metadata.step, String(8 + steps));
      const knn = vhssl(['eval', 'knn', '--run', run, '--checkpoint', file]);
      assert.equal(knn.status, 0, knn.stderr);
      assert.match(knn.stdout + knn.stderr, /top-1/);
    } finally {
      await trainer.release();
    }
  });

  test('--serve serves the site over HTTP until SIGTERM, and nothing outside it', async () => {
    const child = spawn(process.execPath, [BIN, 'web', '--run', run, '--out', join(tmp.dir, 'served'), '--checkpoint', 'last', '--train-videos', '24', '--serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /serving .* at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`exited with ${code} before serving: ${out}`)));
      });
      const page = await fetch(url);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await page.text(), /page\.js/);
      const wasm = await fetch(`${url}ort/ort-wasm-simd-threaded.jsep.wasm`);
      assert.equal(wasm.headers.get('content-type'), 'application/wasm');
      await wasm.arrayBuffer();
      assert.equal((await fetch(`${url}site.json`)).status, 200);
      assert.equal((await fetch(`${url}..%2f..%2frun%2fconfig.yaml`)).status, 404);
      assert.equal((await fetch(`${url}nope.js`)).status, 404);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });

  test('bad input: one line naming what is wrong', () => {
    const cases: [string[], RegExp][] = [
      [['web', '--out', site], /--run is required/],
      [['web', '--run', join(tmp.dir, 'nope'), '--out', join(tmp.dir, 's2')], /nope: no such run directory/],
      [['web', '--run', run, '--out', join(tmp.dir, 's3'), '--train-videos', '0'], /--train-videos: expected an integer ≥ 1, got "0"/],
      [['web', '--run', run, '--out', join(tmp.dir, 's4'), '--train-videos', '2'], /--train-videos: 2 train videos give 2 clips an epoch, fewer than the batch of 8/],
      [['web', '--run', run, '--out', join(tmp.dir, 's5'), '--lr', 'fast'], /--lr: expected a positive number, got "fast"/],
      [['web', '--run', run, '--out', join(tmp.dir, 's6'), '--port', '80'], /--port: only with --serve/],
    ];
    const busy = join(tmp.dir, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    cases.push([['web', '--run', run, '--out', busy], /busy: is a directory that holds something other than a vhssl web site/]);
    for (const [args, message] of cases) {
      const r = vhssl(args);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.equal(readFileSync(join(busy, 'notes.txt'), 'utf8'), 'mine');
  });
});
