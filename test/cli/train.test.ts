// `vhssl train` end to end on real videos (Moving MNIST made with ffmpeg): losses go down, metrics, checkpoints and
// the merged config are written, a SIGKILLed run resumes to bitwise the same parameters, SIGINT checkpoints, a
// diverging run stops naming the group and term, and bad input fails in one line with nothing half-written.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { loaderFromConfig } from '../../src/data/from-config.ts';
import { directionSensitivity } from '../../src/eval/direction.ts';
import { buildReport } from '../../src/eval/report.ts';
import { readSafetensors } from '../../src/graph/safetensors.ts';
import { movingMnist } from '../fixtures.ts';
import { tempDir } from '../temp.ts';
import { BIN, killWhenExists, vhssl } from './run.ts';

const { dir: tmp, cleanup } = tempDir('train');
after(cleanup);
let data = '';
// Skip the malloc re-exec so the test signals the training process itself.
const env = { MALLOC_MMAP_MAX_: '0' };
const base = (out: string, ...extra: string[]) => ['train', '--config', 'tiny', '--set', `data.root=${data}`, '--set', 'train.batch_size=8', '--set', 'eval.knn.every=0', '--out', out, ...extra];

const rows = (run: string) => readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
/** The step rows (the others have a `kind`: knn, final). */
const metrics = (run: string) => rows(run).filter((r) => !('kind' in r)) as Record<string, number>[];
const lastCheckpoint = (run: string) => readSafetensors(join(run, 'checkpoints', 'last.safetensors'));

describe('vhssl train', () => {
  before(() => {
    data = movingMnist();
  });

  test('a short run lowers every group\'s loss and writes metrics, checkpoints and the merged config', () => {
    const run = join(tmp, 'short');
    const r = vhssl(base(run, '--set', 'train.epochs=4', '--set', 'train.steps_per_epoch=10', '--set', 'train.log_every=5', '--set', 'train.checkpoint.every_steps=10', '--set', 'train.checkpoint.keep_last=2'), { env });
    assert.equal(r.status, 0, r.stderr);
    const m = metrics(run);
    assert.equal(m.length, 8);
    for (const key of ['loss.space', 'loss.time']) assert.ok(m[m.length - 1]![key]! < m[0]![key]!, `${key}: ${m[0]![key]} → ${m[m.length - 1]![key]}`);
    for (const key of ['lr.space', 'grad_norm.time', 'monitor.space.std', 'loss.time.down', 'clips_per_s']) assert.ok(key in m[0]!, key);
    assert.ok(existsSync(join(run, 'config.yaml')) && existsSync(join(run, 'artifacts', 'manifest.json')));
    const files = readdirSync(join(run, 'checkpoints')).filter((f) => f.startsWith('step-')).sort();
    assert.deepEqual(files, ['step-00000030.safetensors', 'step-00000040.safetensors'], 'keep-last-2');
    assert.equal(readlinkSync(join(run, 'checkpoints', 'last.safetensors')), 'step-00000040.safetensors');
    assert.match(readFileSync(join(run, 'config.yaml'), 'utf8'), new RegExp(`root: ${data.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  });

  test('SIGKILL then --resume reaches bitwise the same parameters as an uninterrupted run', async () => {
    const steps = ['--set', 'train.epochs=6', '--set', 'train.steps_per_epoch=40', '--set', 'train.checkpoint.every_steps=5', '--set', 'train.log_every=5'];
    const straight = join(tmp, 'straight');
    assert.equal(vhssl(base(straight, ...steps), { env }).status, 0);
    const killed = join(tmp, 'killed');
    const link = join(killed, 'checkpoints', 'last.safetensors');
    await killWhenExists(base(killed, ...steps), link, env);
    const at = Number(readSafetensors(link).metadata.step);
    assert.ok(at < 240, `the kill landed before the end (checkpoint at step ${at})`);
    const resumed = vhssl(['train', '--resume', '--out', killed], { env });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, new RegExp(`resuming from .* at step ${at}`));
    const a = lastCheckpoint(straight);
    const b = lastCheckpoint(killed);
    assert.equal(b.metadata.step, '240');
    assert.deepEqual([...a.tensors.keys()].sort(), [...b.tensors.keys()].sort());
    for (const [name, t] of a.tensors) assert.ok(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(b.tensors.get(name)!.data.buffer, b.tensors.get(name)!.data.byteOffset, b.tensors.get(name)!.data.byteLength)), `${name} differs`);
  });

  test('SIGINT saves a checkpoint and exits cleanly; the run can be resumed', async () => {
    const run = join(tmp, 'sigint');
    const child = spawn(process.execPath, [BIN, ...base(run, '--set', 'train.epochs=100', '--set', 'train.steps_per_epoch=100', '--set', 'train.checkpoint.every_steps=1000')], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/step \d+\//.test(stderr) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /checkpoint saved at step \d+: .*; continue with --resume/);
    assert.ok(existsSync(join(run, 'checkpoints', 'last.safetensors')));
  });

  test('accumulation and alternation run on the per-group graphs', () => {
    const run = join(tmp, 'groups');
    const r = vhssl(base(run, '--set', 'train.epochs=2', '--set', 'train.steps_per_epoch=8', '--set', 'train.grad_accum=2', '--set', 'train.alternation.interval_pct=25', '--set', 'train.log_every=1'), { env });
    assert.equal(r.status, 0, r.stderr);
    const m = metrics(run);
    // Alternation: steps 1-2 train space only, 3-4 time only, ...
    assert.ok('grad_norm.space' in m[0]! && !('grad_norm.time' in m[0]!));
    assert.ok('grad_norm.time' in m[2]! && !('grad_norm.space' in m[2]!));
    const ck = lastCheckpoint(run);
    assert.deepEqual(JSON.parse(ck.metadata.progress!).groupSteps, { space: 8, time: 8 });
  });

  test('k-NN validation on its schedule writes its metrics and the levels\' spread, and keeps the best checkpoint', async () => {
    const run = join(tmp, 'knn');
    const r = vhssl(base(run, '--set', 'eval.knn.every=2', '--set', 'eval.knn.schedule=exponential', '--set', 'train.epochs=3', '--set', 'train.steps_per_epoch=4'), { env });
    assert.equal(r.status, 0, r.stderr);
    const knn = rows(run).filter((m) => m.kind === 'knn') as Record<string, number>[];
    assert.deepEqual(knn.map((m) => m.epoch), [1, 2, 3], 'exponential base 2 over 3 epochs: 1, 2 and the last');
    for (const m of knn) assert.ok(m.top1! >= 0 && m.top1! <= 100 && m.top5! >= m.top1!);
    const best = Math.max(...knn.map((m) => m.top1!));
    const bestStep = knn.find((m) => m.top1 === best)!.step;
    assert.equal(readlinkSync(join(run, 'checkpoints', 'best.safetensors')), `step-${String(bestStep).padStart(8, '0')}.safetensors`);
    assert.match(r.stderr, /epoch 1: k-NN top-1 [\d.]+%, top-5 [\d.]+% \(best\)/);
    // Every level's spread over the test views, in each row, in the log and in the report.
    for (const m of knn) {
      const levels = (m as unknown as { levels: Record<string, { erank: number; std: number; dim: number }> }).levels;
      assert.deepEqual(Object.keys(levels), ['embedding', 'level.space', 'level.time']);
      for (const [name, l] of Object.entries(levels)) {
        assert.equal(l.dim, 64, name);
        assert.ok(l.erank >= 1 && l.erank <= 64, `${name} erank ${l.erank}`);
        assert.ok(l.std > 0 && Number.isFinite(l.std), `${name} std ${l.std}`);
      }
    }
    assert.match(r.stderr, /epoch 3: effective rank\/dim \(mean std\) embedding [\d.]+\/64 \([\d.e-]+\), level\.space [\d.]+\/64 \([\d.e-]+\), level\.time [\d.]+\/64 \([\d.e-]+\)/);
    const html = readFileSync(buildReport(run, loadConfig({ file: join(run, 'config.yaml') }).config), 'utf8');
    const last = (knn.at(-1) as unknown as { levels: Record<string, { erank: number }> }).levels;
    assert.ok(html.includes(`<tr><td>level.time</td><td>64</td><td>${last['level.time']!.erank.toFixed(2)}</td>`), 'the report\'s table shows the last validation');
    assert.ok(html.includes('id="erank"') && html.includes('id="level-std"'));
    // Direction sensitivity of the trained encoder: one clip per test video, level.space blind to time by construction.
    const d = await directionSensitivity(run, { checkpoint: 'last', threads: 1 });
    assert.equal(d.count, 16);
    for (const [name, c] of Object.entries(d.levels)) assert.ok(c >= -1 && c <= 1, `${name}: ${c}`);
    assert.ok(Math.abs(d.levels['level.space']! - 1) < 1e-6);
  });

  test('vicreg trains on two views of the same clips', async () => {
    const { config } = loadConfig({ file: 'tiny', set: [`data.root=${data}`, 'train.batch_size=8'] });
    const a = loaderFromConfig(config, { split: 'train', train: true, workers: 0 });
    const b = loaderFromConfig(config, { split: 'train', train: true, workers: 0, view: '/2' });
    const [x, y] = [await a.next(), await b.next()];
    await a.close();
    await b.close();
    assert.deepEqual(y.videos, x.videos, 'the same videos in the same order');
    assert.notDeepEqual(y.x, x.x, 'other crops and augmentations');
    const run = join(tmp, 'vicreg');
    const r = vhssl(['train', '--config', 'vicreg', '--set', `data.root=${data}`, '--set', 'train.batch_size=8', '--set', 'eval.knn.every=0', '--set', 'train.epochs=3', '--set', 'train.steps_per_epoch=10', '--set', 'train.log_every=10', '--out', run], { env });
    assert.equal(r.status, 0, r.stderr);
    const m = metrics(run);
    assert.ok(m[m.length - 1]!['loss.vicreg']! < m[0]!['loss.vicreg']!, `loss.vicreg ${m[0]!['loss.vicreg']} → ${m[m.length - 1]!['loss.vicreg']}`);
  });

  test('EMA targets: the target encoder starts at the online weights and trails them', () => {
    const run = join(tmp, 'ema');
    const r = vhssl(base(run, '--set', 'arch.targets=ema', '--set', 'arch.ema.decay=0.9', '--set', 'train.epochs=2', '--set', 'train.steps_per_epoch=10'), { env });
    assert.equal(r.status, 0, r.stderr);
    const init = readSafetensors(join(run, 'artifacts', 'init.safetensors')).tensors;
    const last = lastCheckpoint(run).tensors;
    const name = 'time.blocks.0.mlp.fc1.weight';
    const dist = (a: string, am: Map<string, { data: ArrayLike<number> }>, b: string, bm: Map<string, { data: ArrayLike<number> }>) =>
      Math.sqrt(Array.from(am.get(a)!.data).reduce((s, x, i) => s + (x - bm.get(b)!.data[i]!) ** 2, 0));
    assert.equal(dist(`ema.${name}`, init as never, name, init as never), 0, 'the EMA copy starts equal');
    const moved = dist(name, last as never, name, init as never);
    const emaMoved = dist(`ema.${name}`, last as never, name, init as never);
    assert.ok(emaMoved > 0 && emaMoved < moved, `EMA moved ${emaMoved}, online moved ${moved}`);
  });

  test('a diverging run stops naming the group and term and keeps the last good checkpoint', () => {
    const run = join(tmp, 'nan');
    const r = vhssl(base(run, '--set', 'train.optimizer.lr=1e30', '--set', 'train.schedule.name=constant', '--set', 'train.schedule.warmup_epochs=0', '--set', 'train.epochs=2', '--set', 'train.steps_per_epoch=20'), { env });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /vhssl train: step \d+: (loss( term \w+)?|gradient norm) of group (space|time) is (NaN|Infinity|-Infinity) \(/);
  });

  const bad: [string, (run: string) => string[], RegExp][] = [
    ['missing config', (run) => ['train', '--config', join(tmp, 'nope.yaml'), '--out', run], /nope\.yaml: no such config file/],
    ['unknown EP', (run) => [...base(run), '--ep', 'tpu'], /--ep: unknown execution provider "tpu" \(use one of cpu, cuda, webgpu\)/],
    ['CUDA not installed', (run) => [...base(run), '--ep', 'cuda'], /--ep cuda: the CUDA provider is not installed: .*ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/],
    ['missing dataset', (run) => ['train', '--config', 'tiny', '--set', `data.root=${join(tmp, 'no-data')}`, '--out', run], /config\.data\.root: the dataset path .*no-data does not exist/],
    ['resume without a run', (run) => ['train', '--resume', '--out', run], /no such run directory/],
  ];
  for (const [what, args, message] of bad) {
    test(`bad input (${what}): one line, exit 1, nothing written`, () => {
      const run = join(tmp, `bad-${what.replace(/\W+/g, '-')}`);
      const r = vhssl(args(run), { env });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(!existsSync(run), 'no run directory');
    });
  }

  test('an unreadable checkpoint is refused with a message, and the run is left as it was', () => {
    const run = join(tmp, 'corrupt');
    assert.equal(vhssl(base(run, '--set', 'train.epochs=1', '--set', 'train.steps_per_epoch=3'), { env }).status, 0);
    const file = join(run, 'checkpoints', readlinkSync(join(run, 'checkpoints', 'last.safetensors')));
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
    const before = readFileSync(join(run, 'config.yaml'), 'utf8');
    const r = vhssl(['train', '--resume', '--out', run], { env });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /step-00000003\.safetensors: /);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(readFileSync(join(run, 'config.yaml'), 'utf8'), before);
  });

  test('a run killed while writing its first checkpoint (only a temp file there) starts again instead of being refused', () => {
    const run = join(tmp, 'first-write');
    mkdirSync(join(run, 'checkpoints'), { recursive: true });
    const temp = join(run, 'checkpoints', '.step-00000002.safetensors.4242.abc.tmp');
    writeFileSync(temp, 'half a checkpoint');
    const r = vhssl(base(run, '--set', 'train.epochs=1', '--set', 'train.steps_per_epoch=2'), { env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /removed 1 temp file of an interrupted write/);
    assert.ok(!existsSync(temp));
    assert.equal(readlinkSync(join(run, 'checkpoints', 'last.safetensors')), 'step-00000002.safetensors');
  });

  test('a finished run ends with its final evaluation (eval.final), once: a --resume of the finished run does not repeat it', () => {
    const run = join(tmp, 'final');
    const r = vhssl(base(run, '--set', 'train.epochs=1', '--set', 'train.steps_per_epoch=4', '--set', 'eval.final=probe', '--set', 'eval.on=last'), { env });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /final probe on last \(epoch 1, step 4\): clip top-1 [\d.]+ %/);
    const records = () => readFileSync(join(run, 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { final?: boolean; kind: string });
    assert.deepEqual(records().map((e) => [e.kind, e.final]), [['probe', true]]);
    assert.equal(rows(run).filter((m) => m.kind === 'final').length, 1);
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as { status: string; step: number; final: { kind: string } };
    assert.deepEqual([summary.status, summary.step, summary.final.kind], ['finished', 4, 'probe']);
    const again = vhssl(['train', '--resume', '--out', run], { env });
    assert.equal(again.status, 0, again.stderr);
    assert.equal(records().length, 1, 'not evaluated twice');
  });

  test('a checkpoint of another config is refused', () => {
    const run = join(tmp, 'short');
    const r = vhssl(['train', '--resume', '--out', run, '--config', 'tiny', '--set', `data.root=${data}`, '--set', 'train.batch_size=4'], { env });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds no artifacts of this config|made for config/);
  });
});
