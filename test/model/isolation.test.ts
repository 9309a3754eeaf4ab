// Stop-gradient isolation between groups (DESIGN.md): a group's loss yields gradients only for its own parameters,
// the backward pass of a group never reads another group's parameters except through the declared walls, and the
// fused step's gradients equal the per-group graphs' gradients whatever the other groups' losses weigh.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gradients } from '../../src/graph/autodiff/index.ts';
import type { Value } from '../../src/graph/ir.ts';
import { mineTrainGraph } from '../../src/graph/model/graphs.ts';
import { gradName, newName } from '../../src/graph/names.ts';
import type { ModelSpec } from '../../src/graph/model/spec.ts';
import { runGraph, sessionOf, values } from '../helpers.ts';
import { feedsFor } from './feeds.ts';
import { tiny } from './specs.ts';

const spec: ModelSpec = tiny({ loss: { ...tiny().loss, side: { enabled: true, stdDivisor: 3 } } });
// The objective's variants: EMA targets, some from another view, anchored down targets.
const variants: ModelSpec = tiny({ targets: 'ema', otherViewTerms: ['up', 'summary'], loss: { ...spec.loss, downTarget: 'anchored', summaryTarget: 'anchored', view: { enabled: true, fn: 'mse' } } });

describe('group isolation', () => {
  for (const a of spec.groups) {
    for (const [what, sp] of [['', spec], [' (EMA targets from two views, anchored down targets, view term)', variants]] as const) {
      test(`the loss of ${a} has no gradient path to any other group's parameters${what}`, () => {
        const tg = mineTrainGraph(sp, [a], 5);
        const b = tg.builder;
        const loss = b.graph.outputs.find((v) => v.name === `loss.${a}`)!;
        const others = b.params.filter((p) => p.group !== a);
        assert.ok(others.length > 0, `the ${a} graph reads other groups' parameters (targets), so the check is not empty`);
        if (sp.targets === 'ema') assert.ok(others.some((p) => p.group === 'ema'), 'the graph reads the EMA encoder');
        const grads = gradients(b, loss, others.map((p) => p.value), { scope: 'probe' });
        assert.deepEqual(grads.map((g, i) => (g ? others[i]!.value.name : null)).filter(Boolean), []);
      });
    }

    test(`the backward nodes of ${a} read other groups' parameters only through walls`, () => {
      const tg = mineTrainGraph(spec, [a], 5);
      const b = tg.builder;
      // Taint flows forward from every foreign parameter and stops at stop-gradient walls.
      const tainted = new Set<Value>(b.params.filter((p) => p.group !== a).map((p) => p.value));
      const offenders: string[] = [];
      for (const n of b.graph.nodes) {
        if (!n.inputs.some((v) => v && tainted.has(v))) continue;
        for (const y of n.outputs) if (!b.walls.has(y)) tainted.add(y);
        if (n.name.startsWith('grad/')) offenders.push(n.name);
      }
      assert.deepEqual(offenders, []);
      assert.ok(b.graph.nodes.some((n) => n.name.startsWith('grad/')), 'the graph has a backward pass');
    });
  }

  test('a graph takes only the buffers it updates, and leaves any other as it was fed (ORT writes unused BatchNorm statistics into their inputs)', async () => {
    const ema: ModelSpec = { ...spec, targets: 'ema' };
    const graphs = [spec, ema].flatMap((s) => [...s.groups.map((g) => mineTrainGraph(s, [g], 5)), mineTrainGraph(s, s.groups, 5)].map((tg) => ({ s, tg })));
    let checked = 0;
    for (const { s, tg } of graphs) {
      const b = tg.builder;
      const feeds = feedsFor(s, tg);
      const updated = new Set(b.graph.outputs.map((v) => v.name));
      const kept = b.buffers.map((p) => p.value.name).filter((n) => !updated.has(newName(n)));
      const before = new Map(kept.map((n) => [n, values(feeds[n]!)]));
      await runGraph(await sessionOf(b), feeds);
      const changed = kept.filter((n) => values(feeds[n]!).some((x, i) => x !== before.get(n)![i]));
      assert.deepEqual(changed, [], `${b.graph.name} (targets ${s.targets}) changed buffers it does not update`);
      checked += kept.length;
    }
    // Training-mode batch norm is built from primitives that read running statistics only to update them, and pruning
    // drops the rest: no graph takes a buffer it leaves as it was (the ORT hazard above cannot arise).
    assert.equal(checked, 0, 'a graph takes only the buffers it updates');
  });

  test('fused gradients equal per-group gradients, and do not change when another group\'s loss is re-weighted', async () => {
    const heavy: ModelSpec = { ...spec, loss: { ...spec.loss, weights: { time_up: 7, clip_down: 0.25 } } };
    const fused = mineTrainGraph(spec, spec.groups, 5);
    const reweighted = mineTrainGraph(heavy, spec.groups, 5);
    const feeds = feedsFor(spec, fused);
    const a = await runGraph(await sessionOf(fused.builder), feeds);
    const w = await runGraph(await sessionOf(reweighted.builder), feeds);
    for (const g of ['patch', 'space'] as const) {
      const single = mineTrainGraph(spec, [g], 5);
      const own = await runGraph(await sessionOf(single.builder), Object.fromEntries(single.builder.graph.inputs.map((v) => [v.name, feeds[v.name]!])));
      for (const p of single.params) {
        const name = gradName(p.value.name);
        const ref = values(own[name]!);
        for (const other of [a, w]) {
          const got = values(other[name]!);
          const worst = Math.max(...ref.map((r, i) => Math.abs(r - got[i]!) / (1e-6 + Math.abs(r))));
          assert.ok(worst < 1e-4, `${name}: fused vs per-group relative difference ${worst}`);
        }
      }
    }
    // The re-weighted groups' own gradients do change (the check above is not vacuous).
    const t = gradName('time.pred_up.out.weight');
    assert.notDeepEqual(values(a[t]!), values(w[t]!));
  });
});
