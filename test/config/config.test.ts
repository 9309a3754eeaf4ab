// The config system: defaults, layering (file, --set), the messages for each kind of bad input, hashing and saving.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { canonicalJson, CONFIG_DIR, configHash, defaultTree, loadConfig, parseSet, saveConfig, validateConfig } from '../../src/config/index.ts';
import { isUserError, UserError } from '../../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'vhssl-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function custom(name: string, yaml: string): string {
  const p = join(dir, name);
  writeFileSync(p, yaml);
  return p;
}

/** The UserError message of loading with these `--set`s (or this file). */
function failure(o: { set?: string[]; file?: string }): string {
  try {
    loadConfig(o);
  } catch (e) {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(o)} to be rejected`);
}

describe('defaults', () => {
  test('validate, with the documented values', () => {
    const { config, hash } = loadConfig();
    assert.equal(config.arch.task, 'mine');
    assert.deepEqual(config.arch.groups, ['space', 'time']);
    assert.equal(config.arch.time!.clips, 1);
    assert.deepEqual(config.train.optimizer, { name: 'sgd', lr: 0.1, momentum: 0.8, nesterov: true, weight_decay: 0 });
    assert.equal(config.train.clip_grad_norm, null);
    assert.equal(config.data.root, null);
    assert.match(hash, /^[0-9a-f]{16}$/);
  });

  test('every example config validates', () => {
    const shipped = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.yaml') && !['arch', 'data', 'train', 'eval'].includes(f.slice(0, -5)));
    assert.ok(shipped.includes('moving-mnist.yaml') && shipped.length >= 7, shipped.join(', '));
    for (const f of shipped) {
      const { config } = loadConfig({ file: f });
      assert.ok(config.arch.groups.length > 0, f);
    }
    const we = loadConfig({ file: 'we' }).config;
    assert.deepEqual(we.arch.groups, ['patch', 'space', 'time', 'clip']);
    assert.equal(we.data.height / 4 / we.arch.patch, 4);
  });
});

describe('layering', () => {
  test('a custom file overrides only what it names; lists replace whole', () => {
    const base = loadConfig().config;
    const file = custom('c1.yaml', 'arch:\n  space: {layers: 3}\n  groups: [patch, space, time]\ndata:\n  normalization: {mean: [0.5]}\n  height: 32\n');
    const { config } = loadConfig({ file, set: ['data.normalization.std=[0.5]'] });
    assert.equal(config.arch.space!.layers, 3);
    assert.equal(config.arch.space!.dim, base.arch.space!.dim);
    assert.equal(config.arch.space!.heads, base.arch.space!.heads);
    assert.deepEqual(config.arch.groups, ['patch', 'space', 'time']);
    assert.deepEqual(config.data.normalization.mean, [0.5]);
    assert.equal(config.data.height, 32);
    assert.equal(config.data.width, base.data.width);
    assert.deepEqual({ ...config.train }, { ...base.train });
  });

  test('naming another optimizer replaces the section and fills its own defaults', () => {
    const { config } = loadConfig({ set: ['train.optimizer.name=adamw', 'train.optimizer.lr=0.002'] });
    assert.deepEqual(config.train.optimizer, { name: 'adamw', lr: 0.002, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.05 });
    const same = loadConfig({ set: ['train.optimizer={name: sgd, momentum: 0.5}'] }).config;
    assert.deepEqual(same.train.optimizer, { name: 'sgd', lr: 0.1, momentum: 0.5, nesterov: true, weight_decay: 0 });
  });

  test('--set values are YAML scalars and flow collections, applied in order after the file', () => {
    const file = custom('c2.yaml', 'train:\n  optimizer: {lr: 0.5}\n  epochs: 3\n');
    const { config } = loadConfig({
      file,
      set: ['arch.groups=[space,time,clip]', 'arch.time.clips=2', 'train.optimizer.lr=0.05', 'data.root=/data/x', 'train.clip_grad_norm=1.5', 'train.steps_per_epoch=null', 'arch.space.causal=true'],
    });
    assert.deepEqual(config.arch.groups, ['space', 'time', 'clip']);
    assert.equal(config.arch.time!.clips, 2);
    assert.equal(config.train.optimizer.lr, 0.05);
    assert.equal(config.train.epochs, 3);
    assert.equal(config.data.root, '/data/x');
    assert.equal(config.train.clip_grad_norm, 1.5);
    assert.equal(config.arch.space!.causal, true);
    assert.deepEqual(parseSet('a.b=[1, 2]').tree, { a: { b: [1, 2] } });
    assert.deepEqual(parseSet('a=').tree, { a: null });
    assert.deepEqual(parseSet('a.b=x=y').tree, { a: { b: 'x=y' } });
  });

  test('a config file is found by name in config/', () => {
    assert.match(loadConfig({ file: 'tiny' }).file!, /config\/tiny\.yaml$/);
    assert.match(failure({ file: join(dir, 'nope.yaml') }), /nope\.yaml: no such config file/);
  });
});

describe('bad input names the key path, what was expected and what was found', () => {
  const cases: [string, string[], RegExp][] = [
    ['wrong type', ['train.optimizer.lr=fast'], /^config\.train\.optimizer\.lr: expected a positive number, got "fast" \(from --set train\.optimizer\.lr=fast\)$/],
    ['out of range', ['train.optimizer.lr=-1'], /^config\.train\.optimizer\.lr: expected a positive number, got -1/],
    ['not an integer', ['arch.space.layers=2.5'], /^config\.arch\.space\.layers: expected a positive integer, got 2\.5/],
    ['bad enum', ['arch.stem=s4d'], /^config\.arch\.stem: expected one of "linear", "conv2d", "s3d", got "s4d"/],
    ['list element', ['eval.knn.k=[20, x]'], /^config\.eval\.knn\.k\[1\]: expected a positive integer, got "x"/],
    ['unknown key', ['arch.space.layer=3'], /^config\.arch\.space\.layer: unknown key \(did you mean "layers"\?; from --set arch\.space\.layer=3\)$/],
    ['unknown section', ['archh.groups=[space]'], /^config\.archh: unknown key \(did you mean "arch"\?/],
    ['unknown optimizer', ['train.optimizer.name=lion'], /^config\.train\.optimizer\.name: expected one of "sgd", "adamw", got "lion"/],
    ['key of another optimizer', ['train.optimizer.betas=[0.9, 0.99]'], /^config\.train\.optimizer\.betas: unknown key for optimizer "sgd" \("betas" belongs to optimizer "adamw"; "sgd" takes lr, momentum, nesterov, weight_decay/],
    ['sgd key on adamw', ['train.optimizer={name: adamw, momentum: 0.9}'], /^config\.train\.optimizer\.momentum: unknown key for optimizer "adamw" \("momentum" belongs to optimizer "sgd"/],
    ['clips do not divide frames', ['arch.groups=[space,time,clip]', 'arch.time.clips=3'], /^config\.arch\.time\.clips: expected a divisor of data\.frames \(8\) so that clips × frames per clip = data\.frames, got 3/],
    ['last temporal group has several clips', ['arch.time.clips=2'], /^config\.arch\.time\.clips: expected 1 when time is the last group/],
    ['space last with several frames', ['arch.groups=[space]'], /^config\.data\.frames: expected 1 when space is the last group/],
    ['a mine group without loss terms', ['arch.groups=[space]', 'data.frames=1'], /^config\.arch\.groups: expected at least two groups for the mine objective \(a group's loss terms predict the level above or below it\), got \[space\] \(add a group, e\.g\. \[patch, space\] or \[space, time\], or choose another arch\.task; from --set arch\.groups=\[space\]\)/],
    ['size not divisible by the patch', ['data.height=60'], /^config\.data\.height: expected a multiple of the patch size 16, got 60/],
    ['size not divisible after the s3d stem', ['arch.stem=s3d', 'arch.patch=5'], /^config\.data\.height: expected a multiple of the patch size 5 \(64\/4 = 16 after the s3d stem\), got 64/],
    ['conv2d stem downsamples too', ['arch.stem=conv2d', 'arch.patch=5'], /^config\.data\.height: expected a multiple of the patch size 5 \(64\/4 = 16 after the conv2d stem\), got 64/],
    ['sincos space width not a multiple of 4', ['arch.pos_embed=sincos', 'arch.space.dim=126'], /^config\.arch\.space\.dim: expected a multiple of 4 for a 2-D sine-cosine encoding, got 126 \(change the width, or set arch\.pos_embed=learned; from --set arch\.space\.dim=126\)/],
    ['sincos time width odd', ['arch.pos_embed=sincos', 'arch.time.dim=255'], /^config\.arch\.time\.dim: expected an even width for a sine-cosine encoding, got 255/],
    ['size not divisible by the stem', ['arch.stem=s3d', 'arch.patch=3', 'data.height=66'], /^config\.data\.height: expected a multiple of 4 \(the s3d stem downsamples by 4\), got 66/],
    ['groups out of order', ['arch.groups=[time, space]'], /^config\.arch\.groups: expected groups in the order patch → space → time → clip, got \[time, space\]/],
    ['a gap in the groups', ['arch.groups=[space, clip]'], /^config\.arch\.groups: expected the transformer groups to be space/],
    ['a group without its section', ['arch.time=null'], /^config\.arch\.time: expected a section for group "time" \(listed in arch\.groups\), got null/],
    ['predictor hidden size', ['arch.predictor.hidden=[256, 0]'], /^config\.arch\.predictor\.hidden\[1\]: expected a positive hidden size, got 0/],
    ['head_dim', ['arch.time.head_dim=0'], /^config\.arch\.time\.head_dim: expected a positive integer, got 0/],
    ['unknown loss term', ['train.loss_weights={space_upp: 1}'], /^config\.train\.loss_weights\.space_upp: .*did you mean "space_up"\?/],
    ['unknown schedule key', ['train.schedule.gamma=0.5'], /^config\.train\.schedule\.gamma: unknown key for schedule "cosine" \("gamma" belongs to schedule "step"/],
    ['targets from another view without the EMA encoder', ['arch.ema.other_view_terms=[summary]'], /^config\.arch\.ema\.other_view_terms: expected \[\] unless arch\.targets is ema .*set arch\.targets=ema/],
    ['the view term without the EMA encoder', ['train.view.enabled=true'], /^config\.train\.view\.enabled: expected false unless arch\.targets is ema/],
    ['anchored summary targets on one-token sequences', ['train.summary_target=anchored', 'arch.groups=[space, time, clip]', 'arch.time.clips=8'], /^config\.train\.summary_target: expected own_frame or any_frame: anchored predicts one token of a sequence from another, and group time reads sequences of 1 token/],
    ['nesterov without momentum', ['train.optimizer.momentum=0'], /^config\.train\.optimizer\.momentum: expected a momentum > 0 with nesterov: true, got 0/],
    ['bad --set syntax', ['train.optimizer.lr'], /^--set train\.optimizer\.lr: expected key\.path=value/],
    ['bad --set value', ['arch.groups=[space'], /^--set arch\.groups=\[space: the value is not valid YAML/],
  ];
  for (const [name, set, re] of cases) test(name, () => assert.match(failure({ set }), re));

  test('a problem in a custom file names the file', () => {
    const file = custom('bad.yaml', 'arch:\n  space:\n    dim: wide\n');
    assert.equal(failure({ file }), `config.arch.space.dim: expected a positive integer, got "wide" (from ${file})`);
    const yaml = custom('broken.yaml', 'arch: [1,\n');
    assert.match(failure({ file: yaml }), /broken\.yaml: invalid YAML/);
    const list = custom('list.yaml', '- 1\n');
    assert.match(failure({ file: list }), /list\.yaml: expected a mapping with sections arch, data, train, eval, got a list/);
  });
});

describe('hashing and saving', () => {
  test('the hash is stable across key order and changes with any value', () => {
    const a = loadConfig({ set: ['train.optimizer={weight_decay: 0.0, lr: 0.1, name: sgd}'] });
    const b = loadConfig();
    assert.equal(a.hash, b.hash);
    assert.equal(canonicalJson({ b: 1, a: [{ d: null, c: 'x' }] }), '{"a":[{"c":"x","d":null}],"b":1}');
    const reordered = JSON.parse(JSON.stringify(b.config, (_, v) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v)));
    assert.notDeepEqual(Object.keys(reordered), Object.keys(b.config));
    assert.equal(configHash(reordered), b.hash);
    assert.notEqual(loadConfig({ set: ['train.seed=43'] }).hash, b.hash);
  });

  test('saveConfig writes YAML that loads back to the same config, atomically', () => {
    const { config, hash } = loadConfig({ file: 'we', set: ['train.optimizer.name=adamw'] });
    const path = join(dir, 'saved.yaml');
    saveConfig(config, path);
    const text = readFileSync(path, 'utf8');
    assert.ok(text.startsWith(`# vhssl config ${hash}\narch:\n`));
    const back = loadConfig({ file: path });
    assert.equal(back.hash, hash);
    assert.deepEqual(back.config, config);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  test('validateConfig rejects a tree without the sections; defaultTree is complete', () => {
    assert.throws(() => validateConfig({}), (e: unknown) => e instanceof UserError && /^config\.arch: expected/.test(e.message));
    assert.ok(validateConfig(defaultTree()));
  });
});
