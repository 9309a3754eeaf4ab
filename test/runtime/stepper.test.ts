// The two ways a training step runs give the same step: the fused step graph (every group's forward, backward and
// update in one run) and the per-group graphs (each group's training graph, then its optimizer graph, then the EMA
// update) reach the same parameters, optimizer state, running statistics and EMA copies after one step from the same
// state and batch.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { buildArtifacts } from '../../src/graph/artifacts.ts';
import { EMA_DECAY, lossName } from '../../src/graph/names.ts';
import { Rng } from '../../src/rng.ts';
import { batchFeeds, f32 } from '../../src/runtime/feeds.ts';
import { initialState, type State } from '../../src/runtime/state.ts';
import { FusedStepper, GroupStepper, type StepResult, type Stepper } from '../../src/runtime/stepper.ts';
import { tempDir } from '../temp.ts';

const { dir: tmp, cleanup } = tempDir('stepper');
after(cleanup);

/** max |a − b| / (1 + max |a|) over the entries `names` of two states. */
function maxRelDiff(a: State, b: State, names: Iterable<string>): { name: string; diff: number } {
  let worst = { name: '', diff: 0 };
  for (const name of names) {
    const t = a.get(name)!;
    const [x, y] = [t.data as Float32Array, b.get(name)!.data as Float32Array];
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(x[i]!));
      diff = Math.max(diff, Math.abs(x[i]! - y[i]!));
    }
    if (diff / (1 + scale) > worst.diff) worst = { name, diff: diff / (1 + scale) };
  }
  return worst;
}

describe('fused and per-group steppers', () => {
  for (const [what, set] of [['detached targets', []], ['EMA targets', ['arch.targets=ema', 'arch.ema.decay=0.9']]] as const) {
    test(`one step from the same state and batch reaches the same parameters (${what})`, async () => {
      const { config, hash } = loadConfig({ file: 'tiny', set: ['train.batch_size=4', 'train.optimizer.lr=0.5', ...set] });
      const dir = join(tmp, what.replace(/\W+/g, '-'));
      const m = buildArtifacts(config, hash, dir);
      const groups = Object.keys(m.groups);
      assert.deepEqual(groups, ['space', 'time']);
      const { frames, height, width } = m.video;
      const rng = Rng.fromSeed(5, 'batch');
      const x = Float32Array.from({ length: 4 * frames * height * width * 3 }, () => rng.normal());
      const feeds = batchFeeds(m, rng, { x, labels: new Int32Array(4) }, null);
      const lr = Object.fromEntries(groups.map((g) => [g, 0.5]));
      const steps = Object.fromEntries(groups.map((g) => [g, 0]));
      const run = async (open: (state: State) => Promise<Stepper>): Promise<{ state: State; r: StepResult }> => {
        const state = initialState(dir, m);
        await using stepper = await open(state);
        return { state, r: await stepper.step([feeds], lr, steps, { [EMA_DECAY]: f32(0.9) }) };
      };
      const fused = await run((state) => FusedStepper.open(dir, m, state, { threads: 1 }));
      const perGroup = await run((state) => GroupStepper.fromArtifacts(dir, m, state, { threads: 1 }));

      assert.deepEqual([...perGroup.state.keys()].sort(), [...fused.state.keys()].sort());
      const trained = Object.values(m.groups).flatMap((e) => [...e.params, ...e.state, ...e.buffers]);
      const initial = initialState(dir, m);
      const moved = maxRelDiff(fused.state, initial, trained);
      assert.ok(moved.diff > 1e-2, `the step moves the parameters (largest change ${moved.diff} in ${moved.name})`);
      const { name, diff } = maxRelDiff(fused.state, perGroup.state, [...trained, ...(m.ema?.params ?? []), ...(m.ema?.buffers ?? [])]);
      assert.ok(diff < 1e-5, `${name} differs by ${diff} (relative)`);
      if (m.ema) assert.ok(maxRelDiff(fused.state, initial, m.ema.params).diff > 0, 'the EMA copies follow the step');

      const keys = (r: StepResult) => r.losses.map((l) => lossName(l)).sort();
      assert.deepEqual(keys(perGroup.r), keys(fused.r));
      for (const l of fused.r.losses) {
        const other = perGroup.r.losses.find((p) => p.group === l.group && p.term === l.term)!;
        assert.ok(Math.abs(l.value - other.value) <= 1e-5 * (1 + Math.abs(l.value)), `${l.group} ${l.term}: ${l.value} vs ${other.value}`);
      }
      for (const g of groups) assert.ok(Math.abs(fused.r.gradNorms[g]! - perGroup.r.gradNorms[g]!) <= 1e-4 * (1 + fused.r.gradNorms[g]!), `grad norm of ${g}`);
      assert.deepEqual(Object.keys(perGroup.r.monitors).sort(), Object.keys(fused.r.monitors).sort());
    });
  }
});
