// `vhssl eval` end to end on a run directory made here (tiny config, a small prepared store of moving squares):
// knn, probe and report through bin/vhssl.js; the pictures and the report open as valid files (SVG parses as XML with
// the expected elements, PNG signature and IHDR, HTML holds the plots); every bad input a one-line message, exit 1.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import { cli } from '../data/helpers.ts';
import { makeRun, makeStore, tempDir, tinyConfig } from '../eval/fixtures.ts';
import { vhssl } from './run.ts';

/** Parses XML, failing on any error or warning; returns the document. */
function parseXml(text: string, what: string) {
  const problems: string[] = [];
  const doc = new DOMParser({ onError: (level, msg) => void problems.push(`${level}: ${msg}`) }).parseFromString(text, 'image/svg+xml');
  assert.deepEqual(problems, [], `${what} is not well-formed XML`);
  return doc;
}

describe('vhssl eval', () => {
  const tmp = tempDir('eval-cli');
  const runDir = join(tmp.dir, 'run');
  before(() => {
    const store = makeStore(join(tmp.dir, 'store'), { perClass: 5, perClassTest: 2 });
    makeRun(runDir, tinyConfig(store));
  });
  after(() => tmp.cleanup());

  test('knn: every k, clip and video level, recorded in eval.jsonl', () => {
    const r = vhssl(['eval', 'knn', '--run', runDir, '--k', '1,5', '--temperature', '0.1']);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^k-NN on .*run, checkpoint best \(epoch 2, step 200\): level embedding \(dim 64\), T 0\.1$/);
    assert.equal(lines[1], '  train 20 clips (views 1x1), test 24 clips of 8 videos (views 3x1)');
    assert.match(lines[2]!, /^ {2}k=1 {4}clip {2}top-1 \d+\.\d\d% {2}top-5 \d+\.\d\d% {3}video {2}top-1 \d+\.\d\d% {2}top-5 100\.00%$/);
    assert.match(lines[3]!, /^ {2}k=5 /);
    const rec = JSON.parse(readFileSync(join(runDir, 'eval.jsonl'), 'utf8').trim().split('\n').at(-1)!);
    assert.equal(rec.kind, 'knn');
    assert.deepEqual(rec.knn.map((x: { k: number }) => x.k), [1, 5]);
    assert.equal(readdirSync(join(runDir, 'features')).length, 2, 'train and test features cached');
  });

  test('probe: clip and video accuracy from the cached features, recorded with the settings that produced it', () => {
    const r = vhssl(['eval', 'probe', '--run', runDir, '--epochs', '3', '--lr', '0.05', '--checkpoint', 'best']);
    assert.equal(r.status, 0, r.stderr);
    // 20 train clips: batch 2 (10 steps per epoch), 200 epochs for the probe's 2000 steps at least
    assert.match(r.stdout, /^linear probe on .*: level embedding \(dim 64\), train 20 clips, test 24 clips\n {2}2000 steps \(200 epochs of 10, batch 2\), loss [\d.]+ → [\d.]+\n {2}clip {2}top-1 [\d.]+% {2}top-5 [\d.]+% {3}video {2}top-1 [\d.]+% {2}top-5 [\d.]+%\n$/);
    assert.equal(readdirSync(join(runDir, 'features')).length, 2, 'no new extraction');
    const rec = JSON.parse(readFileSync(join(runDir, 'eval.jsonl'), 'utf8').trim().split('\n').at(-1)!);
    assert.equal(rec.kind, 'probe');
    assert.equal(rec.final, undefined);
    assert.equal(typeof rec.settings.final_loss, 'number');
    delete rec.settings.final_loss;
    assert.deepEqual(rec.settings, { epochs: 3, lr: 0.05, batch_size: 512, head: 'linear', steps: 2000, epochs_run: 200, batch_run: 2, whitened: true, train_views: '1x1', test_views: '3x1' });
  });

  test('report: pictures as SVG and PNG, and a self-contained HTML page with the curves and pictures', () => {
    const r = vhssl(['eval', 'report', '--run', runDir, '--max-points', '200']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${join(runDir, 'report.html')}\n`);
    const pics = join(runDir, 'pictures');
    for (const method of ['pca', 'tsne', 'umap']) {
      const svg = parseXml(readFileSync(join(pics, `${method}-embedding-test.svg`), 'utf8'), `${method} svg`);
      assert.equal(svg.documentElement!.tagName, 'svg');
      assert.equal(svg.getElementsByTagName('circle').length, 24, 'one point per test clip');
      const legend = Array.from(svg.getElementsByTagName('text')).map((t) => t.textContent);
      for (const c of ['right', 'left', 'down', 'up']) assert.ok(legend.includes(c), `legend names ${c}`);
      const png = readFileSync(join(pics, `${method}-embedding-test.png`));
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.equal(png.toString('latin1', 12, 16), 'IHDR');
      assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [960, 720]);
    }
    const html = readFileSync(join(runDir, 'report.html'), 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /<script|<link |src="http/, 'self-contained');
    for (const id of ['loss-space', 'loss-time', 'lr', 'grad-norm', 'monitor', 'knn', 'picture-pca-embedding-test', 'picture-tsne-embedding-test', 'picture-umap-embedding-test']) {
      assert.ok(html.includes(`id="${id}"`), `report has #${id}`);
    }
    // Every inline SVG is well-formed and the curves are drawn.
    const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    assert.equal(svgs.length, 9);
    for (const s of svgs) parseXml(s, 'an inline SVG');
    const loss = parseXml(svgs[0]!, 'loss chart');
    const names = Array.from(loss.getElementsByTagName('polyline')).map((p) => p.getElementsByTagName('title')[0]!.textContent);
    assert.deepEqual(names, ['loss.space', 'loss.space.side', 'loss.space.up']);
    assert.ok(html.includes('<td>k-NN k=1</td>') && html.includes('<td>probe</td>'), 'the evaluation table lists the results');
  });

  test('bad input: one line naming the problem, exit code 1', async () => {
    const corrupt = join(tmp.dir, 'corrupt');
    makeRun(corrupt, tinyConfig(join(tmp.dir, 'store')), { best: false });
    writeFileSync(join(corrupt, 'checkpoints', 'last.safetensors'), Buffer.from([1, 2, 3]));
    const cases: [string[], RegExp][] = [
      [['knn'], /^vhssl eval: arguments: --run is required \(see vhssl eval --help\)$/],
      [['nope', '--run', runDir], /^vhssl eval: arguments: unknown subcommand "nope" \(use one of knn, probe, finetune, pictures, report\)$/],
      [[], /^vhssl eval: arguments: missing subcommand/],
      [['knn', '--run', join(tmp.dir, 'missing')], /^vhssl eval: .*missing: no such run directory$/],
      [['knn', '--run', runDir, '--checkpoint', 'step-9'], /^vhssl eval: step-9: no such checkpoint \(looked in the working directory and in .*checkpoints\)$/],
      [['probe', '--run', corrupt], /^vhssl eval: .*last\.safetensors: truncated: 3 bytes, less than the 8-byte header length$/],
      [['knn', '--run', corrupt, '--checkpoint', 'best'], /^vhssl eval: .*best\.safetensors: no such checkpoint/],
      [['knn', '--run', runDir, '--level', 'clip'], /^vhssl eval: --level: unknown level "clip" \(this encoder has embedding, space, time\)$/],
      [['pictures', '--run', runDir, '--level', 'patch'], /^vhssl eval: --level: unknown level "patch"/],
      [['knn', '--run', runDir, '--k', '0,5'], /^vhssl eval: --k: expected positive integers separated by commas, got "0,5"$/],
      [['knn', '--run', runDir, '--views', '3y2'], /^vhssl eval: --views: expected TxS \(e\.g\. 3x1\), T, sliding or sliding:STEP, got "3y2"$/],
      [['knn', '--run', runDir, '--data', join(tmp.dir, 'nostore')], /^vhssl eval: .*nostore: no such store directory$/],
      [['report', '--run', runDir, '--methods', 'pca,mds'], /^vhssl eval: --methods: unknown method "mds"/],
      [['knn', '--run', runDir, '--frobnicate'], /^vhssl eval: arguments: Unknown option '--frobnicate'/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(['eval', ...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re, args.join(' '));
      assert.equal(r.err.split('\n').length, 1, r.err);
    }
    assert.ok(!existsSync(join(corrupt, 'eval.jsonl')));
  });
});
