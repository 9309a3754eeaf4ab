// The name contract: the graphs use its names, and loss outputs resolve to their group and term against the groups.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.ts';
import { modelSpec } from '../../src/graph/model/from-config.ts';
import { encoderGraph, stepGraph } from '../../src/graph/model/graphs.ts';
import {
  DROPOUT_SEED, EMA_DECAY, EMBEDDING, gradNormName, levelOutput, lossName, lossOutputs, lrName, monitorName, newName, positionName, relativeName, stateName, VIDEO,
} from '../../src/graph/names.ts';

describe('names', () => {
  test('loss names and their resolution: totals, terms, and a name of no group is an error', () => {
    assert.equal(lossName({ group: 'time', term: null }), 'loss.time');
    assert.equal(lossName({ group: 'time', term: 'down' }), 'loss.time.down');
    const found = lossOutputs(['loss.space', 'loss.space.up', 'grad_norm.space', 'loss.time.summary', 'monitor.time.std'], ['space', 'time']);
    assert.deepEqual([...found], [['loss.space', { group: 'space', term: null }], ['loss.space.up', { group: 'space', term: 'up' }], ['loss.time.summary', { group: 'time', term: 'summary' }]]);
    for (const [name, key] of found) assert.equal(lossName(key), name);
    assert.throws(() => lossOutputs(['loss.clip.up'], ['space', 'time']), /artifacts: loss output loss\.clip\.up names none of the groups space, time/);
  });

  test('the step and encoder graphs take and give exactly the names the contract builds', () => {
    const { config } = loadConfig({ file: 'tiny', set: ['arch.targets=ema', 'arch.time.dropout=0.1'] });
    const spec = modelSpec(config);
    const step = stepGraph(spec, config.train, 0);
    const inputs = new Set(step.builder.graph.inputs.map((v) => v.name));
    const outputs = new Set(step.builder.graph.outputs.map((v) => v.name));
    for (const n of [VIDEO, DROPOUT_SEED, EMA_DECAY, lrName('space'), stateName('space.embed.weight', 'momentum'), positionName('time', 'summary')]) assert.ok(inputs.has(n), `input ${n}`);
    for (const n of [lossName({ group: 'space', term: 'up' }), lossName({ group: 'time', term: null }), gradNormName('space'), monitorName('time'), newName('space.embed.weight'), newName('ema.space.embed.weight')]) {
      assert.ok(outputs.has(n), `output ${n}`);
    }
    const encoder = encoderGraph(spec, 0).builder.graph;
    assert.deepEqual(encoder.outputs.map((v) => v.name), [EMBEDDING, 'space', 'time'].map(levelOutput));
    assert.equal(relativeName(positionName('time', 'side')), 'pos.time.side_rel');
  });
});
