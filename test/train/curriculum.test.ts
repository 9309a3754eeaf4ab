// Curriculum (train.curriculum) and --init-from: stage configs, positional tables resized, images (patch, space) →
// videos (+ time) on small real stores, resume inside stage 2 after SIGKILL bitwise equal to an uninterrupted
// curriculum, and the same stage by hand with --init-from.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import YAML from 'yaml';
import { curriculumStages, loadConfig, validateConfig } from '../../src/config/index.ts';
import { readSafetensors } from '../../src/graph/safetensors.ts';
import { axis, PositionTables } from '../../src/train/init-from.ts';
import { modelSpec } from '../../src/graph/model/from-config.ts';
import { killWhenExists, vhssl } from '../cli/run.ts';
import { makeImage } from '../data/helpers.ts';
import { movingMnist } from '../fixtures.ts';
import { tempDir } from '../temp.ts';

const { dir: tmp, cleanup } = tempDir('curriculum');
after(cleanup);

const model = {
  groups: ['patch', 'space', 'time'],
  stem: 'linear',
  patch: 8,
  patch_dim: 32,
  space: { dim: 32, layers: 1, heads: 2, head_dim: 16, mlp_dim: 64, dropout: 0, causal: false },
  time: { dim: 32, layers: 1, heads: 2, head_dim: 16, mlp_dim: 64, dropout: 0, causal: true, clips: 1 },
  num_classes: 10,
};

/** A curriculum config: images at 16×16 (patch, space), then videos at 32×32 (+ time). */
function curriculumYaml(images: string, videos: string, extra: Record<string, unknown> = {}): string {
  return YAML.stringify({
    arch: model,
    data: { dataset: 'moving-mnist', root: videos, frames: 8, height: 32, width: 32, workers: 1 },
    train: {
      batch_size: 4, epochs: 1, steps_per_epoch: 8, log_every: 2,
      checkpoint: { every_steps: 2, keep_last: 2 },
      curriculum: {
        optimizer_state: 'keep',
        stages: [
          { name: 'images', arch: { groups: ['patch', 'space'] }, data: { dataset: 'imagenet', root: images, frames: 1, height: 16, width: 16 } },
          { name: 'videos', arch: { groups: ['patch', 'space', 'time'] }, data: { dataset: 'moving-mnist', root: videos, frames: 8, height: 32, width: 32 } },
        ],
      },
      ...extra,
    },
    eval: { knn: { every: 1 }, final: 'none' },
  });
}

const bytes = (t: { data: ArrayBufferView }) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
function assertSameCheckpoint(a: string, b: string): void {
  const [x, y] = [readSafetensors(a), readSafetensors(b)];
  assert.deepEqual([...x.tensors.keys()].sort(), [...y.tensors.keys()].sort());
  for (const [name, t] of x.tensors) assert.ok(bytes(t).equals(bytes(y.tensors.get(name)!)), `${name} differs`);
}

describe('curriculum configs', () => {
  const base = { arch: { groups: ['patch', 'space', 'time'] }, data: { frames: 8 } };
  const load = (curriculum: unknown) => {
    const file = join(tmp, `c-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, YAML.stringify({ ...base, train: { curriculum } }));
    return loadConfig({ file });
  };

  test('each stage is the previous stage\'s config with its own keys merged in', () => {
    const { config } = load({ stages: [{ name: 'a', arch: { groups: ['patch', 'space'] }, data: { frames: 1 } }, { name: 'b', arch: { groups: ['patch', 'space', 'time'] } }] });
    const stages = curriculumStages(config, (t) => validateConfig(t));
    assert.deepEqual(stages.map((s) => [s.index, s.name, s.dir, s.config.arch.groups, s.config.data.frames]), [
      [1, 'a', 'stage-1', ['patch', 'space'], 1],
      [2, 'b', 'stage-2', ['patch', 'space', 'time'], 1],
    ]);
    assert.equal(config.train.curriculum!.optimizer_state, 'reset', 'default');
    for (const s of stages) assert.equal(s.config.train.curriculum, undefined);
    assert.notEqual(stages[0]!.hash, stages[1]!.hash);
  });

  test('a config without a curriculum keeps its hash (the key is absent, not null)', () => {
    const { config } = loadConfig({ file: 'tiny' });
    assert.equal('curriculum' in config.train, false);
    assert.deepEqual(curriculumStages(config, (t) => validateConfig(t)), []);
  });

  const bad: [string, unknown, RegExp][] = [
    ['a bad key in stage 2', { stages: [{ name: 'a' }, { name: 'b', data: { frames: 0 } }] }, /config\.train\.curriculum\.stages\[1\] \(b\): data\.frames: expected a positive integer, got 0/],
    ['a stage breaking a cross-field rule', { stages: [{ name: 'a', data: { frames: 6 }, arch: { time: { clips: 4 } } }] }, /config\.train\.curriculum\.stages\[0\] \(a\): arch\.time\.clips: expected a divisor of data\.frames \(6\)/],
    ['two stages of one name', { stages: [{ name: 'a' }, { name: 'a' }] }, /stages\[1\] \(a\): the name "a" is used by an earlier stage/],
    ['a stage with a curriculum', { stages: [{ name: 'a', train: { curriculum: { stages: [] } } }] }, /stages\[0\] \(a\)\.train\.curriculum: a stage cannot hold a curriculum of its own/],
    ['an unknown stage key', { stages: [{ name: 'a', model: {} }] }, /config\.train\.curriculum\.stages\[0\]\.model: unknown key \(known keys: name, arch, data, train, eval/],
    ['no stage', { stages: [] }, /config\.train\.curriculum\.stages: expected at least one stage/],
    ['a bad optimizer_state', { optimizer_state: 'maybe', stages: [{ name: 'a' }] }, /config\.train\.curriculum\.optimizer_state: expected one of "keep", "reset", got "maybe"/],
    ['a stage name with a slash', { stages: [{ name: 'a/b' }] }, /stages\[0\]\.name: expected a stage name of letters, digits/],
  ];
  for (const [what, curriculum, message] of bad) test(`refused at load: ${what}`, () => assert.throws(() => load(curriculum), message));
});

describe('positional tables', () => {
  test('linear interpolation at pixel centres, edges clamped', () => {
    assert.deepEqual(axis(2, 4).map((a) => a.i0 + a.f), [0, 0.25, 0.75, 1]);
    assert.deepEqual(axis(3, 3).map((a) => a.i0 + a.f), [0, 1, 2], 'same size: the identity');
  });

  test('space: the summary row kept, the patch grid resized bilinearly; time: the causal summary stays last', () => {
    const specOf = (size: number, frames: number) => modelSpec(loadConfig({ file: 'tiny', set: [`data.height=${size}`, `data.width=${size}`, `data.frames=${frames}`, 'arch.time.clips=1'] }).config, 1);
    const tables = new PositionTables(specOf(16, 4), specOf(32, 8));
    const D = 64;
    // space: grid 2×2 → 4×4; row-major token (y, x) holds y·10 + x in every channel, the summary 99.
    const space = new Float32Array(5 * D);
    space.fill(99, 0, D);
    for (let t = 0; t < 4; t++) space.fill(Math.floor(t / 2) * 10 + (t % 2), (t + 1) * D, (t + 2) * D);
    const s = tables.resize('space.pos_embed', { dtype: 'float32', shape: [1, 5, D], data: space }, [1, 17, D])!;
    const at = (tok: number) => (s.data as Float32Array)[tok * D + 5]!;
    assert.equal(at(0), 99);
    const expected = [0, 0.25, 0.75, 1];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) assert.ok(Math.abs(at(1 + y * 4 + x) - (expected[y]! * 10 + expected[x]!)) < 1e-5, `(${y}, ${x}): ${at(1 + y * 4 + x)}`);
    // time (causal): 4 positions then the summary → 8 positions then the summary.
    const time = Float32Array.from({ length: 5 * D }, (_, i) => (i < 4 * D ? Math.floor(i / D) : 99));
    const r = tables.resize('ema.time.pos_embed', { dtype: 'float32', shape: [1, 5, D], data: time }, [1, 9, D])!;
    assert.deepEqual(Array.from({ length: 9 }, (_, t) => (r.data as Float32Array)[t * D]), [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3, 99]);
    assert.equal(tables.resize('space.pred_down.pos_embed', { dtype: 'float32', shape: [4, D], data: new Float32Array(4 * D) }, [16, D]), null, 'predictor tables are not resized');
  });
});

describe('vhssl train with a curriculum', () => {
  let images = '';
  let videos = '';
  let config = '';
  const straight = join(tmp, 'straight');

  before(() => {
    videos = movingMnist();
    // An imagenet-layout store: split/class/image, two classes of test patterns in four hues.
    const src = join(tmp, 'images-src');
    for (const [split, ids] of [['train', [1, 2, 3, 4]], ['val', [5, 6]]] as const) {
      for (const c of ['a', 'b']) for (const i of ids) makeImage(join(src, split, c, `${c}${i}.png`), 40, 32);
    }
    images = join(tmp, 'images');
    const r = vhssl(['prepare', '--dataset', 'imagenet', '--src', src, '--out', images, '--size', '16']);
    assert.equal(r.status, 0, r.stderr);
    config = join(tmp, 'curriculum.yaml');
    writeFileSync(config, curriculumYaml(images, videos));
  });

  test('images (patch, space) then videos (+ time): two runs, the second started from the first', () => {
    const r = vhssl(['train', '--config', config, '--out', straight]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /stage 2\/2 \(videos\): finished at step 8/);
    const rec = JSON.parse(readFileSync(join(straight, 'curriculum.json'), 'utf8'));
    assert.deepEqual(rec.stages.map((s: { status: string; steps: number }) => [s.status, s.steps]), [['finished', 8], ['finished', 8]]);
    assert.equal(rec.stages[0].parent, null);
    assert.equal(rec.stages[1].parent.file, 'stage-1/checkpoints/step-00000008.safetensors');
    assert.equal(rec.stages[1].parent.step, 8);
    const init = JSON.parse(readFileSync(join(straight, 'stage-2', 'init.json'), 'utf8'));
    assert.deepEqual(init.resized, ['space.pos_embed: [1,5,32] → [1,17,32]']);
    assert.ok(init.carried > 10 && init.initialised.includes('time.pos_embed'), JSON.stringify(init));
    // Carried: the patch embedding trained in stage 1 is where stage 2 started.
    const s1 = readSafetensors(join(straight, 'stage-1', 'checkpoints', 'step-00000008.safetensors'));
    const s2 = readSafetensors(join(straight, 'stage-2', 'artifacts', 'init.safetensors'));
    assert.ok(!bytes(s1.tensors.get('patch.embed.weight')!).equals(bytes(s2.tensors.get('patch.embed.weight')!)), 'stage 1 trained the embedding');
    for (const stage of ['stage-1', 'stage-2']) assert.ok(existsSync(join(straight, stage, 'metrics.jsonl')));
    // eval on the curriculum evaluates its newest stage.
    const e = vhssl(['eval', 'knn', '--run', straight, '--views', '1x1']);
    assert.equal(e.status, 0, e.stderr);
    assert.match(e.stdout, new RegExp(`k-NN on ${join(straight, 'stage-2').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, checkpoint best`));
  });

  test('SIGKILL inside stage 2, then --resume: bitwise the same parameters as the uninterrupted curriculum', async () => {
    const killed = join(tmp, 'killed');
    const link = join(killed, 'stage-2', 'checkpoints', 'last.safetensors');
    await killWhenExists(['train', '--config', config, '--out', killed], link, { MALLOC_MMAP_MAX_: '0' });
    const at = Number(readSafetensors(link).metadata.step);
    assert.ok(at < 8, `killed inside stage 2 (its checkpoint at step ${at})`);
    const r = vhssl(['train', '--resume', '--out', killed]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /curriculum stage 2\/2 \(videos\): resuming/);
    assert.doesNotMatch(r.stderr, /stage 1\/2/, 'the finished stage is not trained again');
    assertSameCheckpoint(join(straight, 'stage-2', 'checkpoints', 'last.safetensors'), link);
  });

  test('--init-from by hand: stage 2 started from stage 1 equals the curriculum\'s stage 2', () => {
    const hand = join(tmp, 'hand');
    const r = vhssl(['train', '--config', join(straight, 'stage-2', 'config.yaml'), '--out', hand, '--init-from', `${join(straight, 'stage-1')}:last`, '--optimizer-state', 'keep']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /starting from .*stage-1\/checkpoints\/step-00000008\.safetensors \(step 8\): \d+ tensors carried, 1 positional tables resized/);
    assertSameCheckpoint(join(straight, 'stage-2', 'checkpoints', 'last.safetensors'), join(hand, 'checkpoints', 'last.safetensors'));
    const reset = join(tmp, 'reset');
    assert.equal(vhssl(['train', '--config', join(straight, 'stage-2', 'config.yaml'), '--out', reset, '--init-from', straight, '--max-steps', '1']).status, 0);
    assert.equal(JSON.parse(readFileSync(join(reset, 'init.json'), 'utf8')).optimizer_state, 'reset');
  });

  const refused: [string, () => string[], RegExp][] = [
    ['--init-from with --resume', () => ['train', '--resume', '--out', straight, '--init-from', straight], /^vhssl train: --init-from: starts a new run; --resume continues one/],
    ['--optimizer-state without --init-from', () => ['train', '--config', 'tiny', '--set', `data.root=${videos}`, '--out', join(tmp, 'x1'), '--optimizer-state', 'keep'], /--optimizer-state: only applies with --init-from/],
    ['a bad --optimizer-state', () => ['train', '--config', 'tiny', '--set', `data.root=${videos}`, '--out', join(tmp, 'x2'), '--init-from', straight, '--optimizer-state', 'both'], /--optimizer-state: expected keep or reset, got "both"/],
    ['a missing --init-from run', () => ['train', '--config', 'tiny', '--set', `data.root=${videos}`, '--out', join(tmp, 'x3'), '--init-from', join(tmp, 'nope')], /--init-from: no such run directory ".*nope"/],
    ['a parent whose tensors have other shapes', () => ['train', '--config', join(straight, 'stage-2', 'config.yaml'), '--set', 'arch.patch_dim=48', '--out', join(tmp, 'x4'), '--init-from', straight],
      /stage-2\/checkpoints\/step-00000008\.safetensors: tensor "patch\.embed\.weight" is \[192,32\] there and \[192,48\] in this run \(only positional tables can change shape/],
    ['a later stage\'s store missing', () => {
      const file = join(tmp, 'missing-store.yaml');
      writeFileSync(file, curriculumYaml(images, join(tmp, 'no-store')));
      return ['train', '--config', file, '--out', join(tmp, 'x5')];
    }, /no-store/],
    ['a second curriculum into the same directory', () => ['train', '--config', config, '--out', straight], /already holds a curriculum \(continue it with --resume, or choose another --out\)/],
  ];
  for (const [what, args, message] of refused) {
    test(`refused: ${what}`, () => {
      const r = vhssl(args());
      assert.equal(r.status, 1, r.stderr);
      // One line of error (a parent is checked against the graphs, so after they are built and logged).
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('building the graphs'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, message);
    });
  }

  test('refused: resuming a curriculum with another config', () => {
    const other = join(tmp, 'other.yaml');
    writeFileSync(other, curriculumYaml(images, videos, { seed: 7 }));
    const r = vhssl(['train', '--resume', '--out', straight, '--config', other]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /curriculum\.json: made for config [0-9a-f]{16}, this config is [0-9a-f]{16} \(resume with the config the curriculum was started with/);
  });
});
