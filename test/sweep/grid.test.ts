// The grid of a sweep: values split at top-level commas, axes and their errors, the order of the combinations, run
// names (safe, unique, stable), `--shard i/n` and the combinations a shard takes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { combinations, inShard, parseAxis, parseGrid, parseShard, runName, safePart, splitValues } from '../../src/sweep/grid.ts';

const throwsMessage = (fn: () => unknown, message: string) => assert.throws(fn, (e: Error) => {
  assert.equal(e.message, message);
  return true;
});

describe('sweep grid', () => {
  test('values split at the commas outside brackets, braces and quotes', () => {
    assert.deepEqual(splitValues('0.05, 0.1 ,1e-3'), ['0.05', '0.1', '1e-3']);
    assert.deepEqual(splitValues('[space,time],[patch,space,time]'), ['[space,time]', '[patch,space,time]']);
    assert.deepEqual(splitValues('{name: adamw, lr: 0.001},{name: sgd}'), ['{name: adamw, lr: 0.001}', '{name: sgd}']);
    assert.deepEqual(splitValues(`"a,b",'c,d',e`), ['"a,b"', "'c,d'", 'e']);
    assert.deepEqual(splitValues('{a: [1,2]},[[1,2],[3]]'), ['{a: [1,2]}', '[[1,2],[3]]']);
  });

  test('an axis: key and values; each bad one names the --grid option and what to do', () => {
    assert.deepEqual(parseAxis('arch.groups=[space,time],[patch,space,time]'), {
      key: 'arch.groups', values: ['[space,time]', '[patch,space,time]'], option: '--grid arch.groups=[space,time],[patch,space,time]',
    });
    throwsMessage(() => parseAxis('lr'), '--grid lr: expected key.path=value1,value2,... (e.g. --grid train.optimizer.lr=0.05,0.1)');
    throwsMessage(() => parseAxis('=1,2'), '--grid =1,2: expected key.path=value1,value2,... (e.g. --grid train.optimizer.lr=0.05,0.1)');
    throwsMessage(() => parseAxis('train.seed='), '--grid train.seed=: no values for train.seed (give one or more values separated by commas, e.g. --grid train.seed=a,b)');
    throwsMessage(() => parseAxis('train.seed=1,,2'), '--grid train.seed=1,,2: value 2 of 3 is empty (remove the extra comma)');
    throwsMessage(() => parseAxis('train.seed=1,2,1'), '--grid train.seed=1,2,1: the value "1" is given twice (each value once)');
    throwsMessage(() => parseAxis('train..seed=1'), '--grid train..seed=1: "train..seed" is not a key path (keys are separated by single dots)');
    assert.throws(() => parseAxis('train.seed=[1'), /^UserError: --grid train\.seed=\[1: the value is not valid YAML: /);
  });

  test('the grid: at least one axis, each key in one --grid', () => {
    throwsMessage(() => parseGrid([]), '--grid: at least one --grid key=value1,value2,... is required (e.g. --grid train.optimizer.lr=0.05,0.1)');
    throwsMessage(() => parseGrid(['train.seed=1', 'train.seed=2']), '--grid train.seed=2: sets train.seed, which --grid train.seed=1 also sets (give each key in one --grid, its values separated by commas)');
    throwsMessage(() => parseGrid(['train.optimizer={name: adamw}', 'train.optimizer.lr=0.1']),
      '--grid train.optimizer.lr=0.1: sets train.optimizer.lr, which --grid train.optimizer={name: adamw} overlaps (give each key in one --grid, its values separated by commas)');
  });

  test('combinations: the cartesian product, the first --grid varying slowest, with stable names', () => {
    const c = combinations(parseGrid(['train.optimizer.lr=0.01,0.1', 'arch.patch=4,8,16']));
    assert.deepEqual(c.map((x) => x.set), [
      ['train.optimizer.lr=0.01', 'arch.patch=4'], ['train.optimizer.lr=0.01', 'arch.patch=8'], ['train.optimizer.lr=0.01', 'arch.patch=16'],
      ['train.optimizer.lr=0.1', 'arch.patch=4'], ['train.optimizer.lr=0.1', 'arch.patch=8'], ['train.optimizer.lr=0.1', 'arch.patch=16'],
    ]);
    assert.deepEqual(c.map((x) => x.index), [0, 1, 2, 3, 4, 5]);
    assert.equal(c[0]!.name, 'train.optimizer.lr-0.01__arch.patch-4');
    assert.equal(c[5]!.name, 'train.optimizer.lr-0.1__arch.patch-16');
    // A name depends on its own keys and values only: the same in a larger grid.
    const wider = combinations(parseGrid(['train.optimizer.lr=0.001,0.01,0.1', 'arch.patch=4,8,16,32']));
    assert.ok(wider.some((x) => x.name === c[4]!.name));
  });

  test('names are file-system safe; a value changed to be safe gets a hash of the original, so names stay unique', () => {
    for (const v of ['0.05', '1e-3', '-2', 'adamw', 'a_b', 'x+y']) assert.equal(safePart(v), v);
    const list = safePart('[space,time]');
    assert.match(list, /^space_time_[0-9a-f]{6}$/);
    assert.equal(safePart('[space,time]'), list, 'stable');
    assert.notEqual(safePart('[space_time]'), list);
    assert.match(safePart('{name: adamw}'), /^name_adamw_[0-9a-f]{6}$/);
    assert.match(safePart('/'), /^[0-9a-f]{6}$/);
    assert.match(safePart('../x'), /^\.\._x_[0-9a-f]{6}$/);
    for (const v of ['[a,b]', 'a b', 'ü', '"q"', 'a/b', '*', '..']) assert.match(safePart(v), /^[A-Za-z0-9._+-]+$/, v);
    const names = combinations(parseGrid(['arch.groups=[space,time],[space_time],space time'])).map((x) => x.name);
    assert.equal(new Set(names).size, 3);
  });

  test('a long name keeps its start and a hash of the whole', () => {
    const long = (v: string) => runName([['train.loss_weights', '{space_up: 1, time_down: 0.5, time_summary: 0.25}'], ['arch.predictor.hidden', '[256,256,256,256,256,256]'], ['data.augment.color_jitter.brightness', v]]);
    const [a, b] = [long('0.4'), long('0.5')];
    assert.ok(a.length <= 160, `${a.length}`);
    assert.notEqual(a, b);
    assert.equal(a.slice(0, 150), b.slice(0, 150));
    assert.match(a, /_[0-9a-f]{8}$/);
  });

  test('--shard i/n: 0-based, i below n; each problem says which part is wrong', () => {
    assert.deepEqual(parseShard('1/2'), { index: 1, count: 2 });
    assert.deepEqual(parseShard(' 0 / 1 '), { index: 0, count: 1 });
    const hint = 'e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT, or --shard $JOB_COMPLETION_INDEX/<completions>';
    throwsMessage(() => parseShard('2/2'), '--shard: the shard index 2 is not below the count 2 in "2/2": shards are numbered 0 to 1 (SLURM arrays: --array=0-<n-1>; Kubernetes: JOB_COMPLETION_INDEX runs from 0)');
    throwsMessage(() => parseShard('1/0'), `--shard: the shard count n of i/n must be an integer ≥ 1, got "0" in "1/0" (${hint})`);
    throwsMessage(() => parseShard('1/'), `--shard: the shard count n of i/n must be an integer ≥ 1, got "" in "1/" (${hint})`);
    throwsMessage(() => parseShard('x/2'), `--shard: the shard index i of i/n must be an integer from 0 to 1, got "x" in "x/2" (${hint})`);
    throwsMessage(() => parseShard('1.5/4'), `--shard: the shard index i of i/n must be an integer from 0 to 3, got "1.5" in "1.5/4" (${hint})`);
    throwsMessage(() => parseShard('3'), `--shard: expected i/n (shard i of n, 0-based), got "3" (${hint})`);
  });

  test('a shard takes the combinations k with k mod n = i; the shards of n cover every one once', () => {
    const all = Array.from({ length: 7 }, (_, index) => ({ index }));
    assert.deepEqual(inShard(all, { index: 1, count: 2 }).map((c) => c.index), [1, 3, 5]);
    assert.deepEqual(inShard(all, { index: 0, count: 3 }).map((c) => c.index), [0, 3, 6]);
    assert.deepEqual(inShard(all, { index: 9, count: 10 }), []);
    assert.deepEqual(inShard(all, undefined).length, 7);
    for (const n of [1, 2, 3, 7, 9]) {
      const taken = Array.from({ length: n }, (_, i) => inShard(all, { index: i, count: n }).map((c) => c.index)).flat().sort((a, b) => a - b);
      assert.deepEqual(taken, [0, 1, 2, 3, 4, 5, 6], `n = ${n}`);
    }
  });
});
