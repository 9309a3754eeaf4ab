// Shapes of every level and every loss pair for the spec's worked example (§3.4), with the S3D stem and with a
// linear patch embedding; our alignments roll within each clip (fix of B2), so causal pairs are (B, C, f-1, D).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { encode } from '../../src/graph/model/encoder.ts';
import { twoViews } from '../../src/config/schema.ts';
import { loadConfig } from '../../src/config/index.ts';
import { modelSpec } from '../../src/graph/model/from-config.ts';
import { mineTrainGraph, trainGraph } from '../../src/graph/model/graphs.ts';
import { mineTerms } from '../../src/graph/model/mine.ts';
import type { PositionInput } from '../../src/graph/model/positions.ts';
import { patchesPerFrame, type ModelSpec } from '../../src/graph/model/spec.ts';
import type { Ctx } from '../../src/graph/nn/layers.ts';
import { Rng } from '../../src/rng.ts';
import { WE } from './specs.ts';

function build(spec: ModelSpec) {
  const b = new GraphBuilder('shapes');
  const c: Ctx = { b, rng: Rng.fromSeed(1), mode: 'train', updates: [] };
  const video = b.input('video', 'float32', [spec.batch, spec.frames, spec.height, spec.width, 3]);
  const enc = encode(c, spec, video, { walls: true });
  const positions: PositionInput[] = [];
  const terms = mineTerms(c, spec, enc.levels, { targetLevels: () => enc.levels, positions });
  const pairs = Object.fromEntries(terms.map((t) => [`${t.group}.${t.term}`, [t.pred.shape, t.target.shape]]));
  return { b, enc, pairs, positions };
}

const B = WE.batch;

describe('worked example (spec §3.4)', () => {
  test('S3D stem: 112×112 → 28×28, patch 7 → 16 patches per frame', () => {
    assert.equal(patchesPerFrame(WE), 16);
    const { enc, pairs, positions } = build(WE);
    assert.deepEqual(enc.levels.map((l) => [l.group, l.tokens.shape]), [
      ['patch', [B, 8 * 16, 256]],
      ['space', [B, 8, 128]],
      ['time', [B, 2, 256]],
      ['clip', [B, 1, 512]],
    ]);
    assert.deepEqual(enc.levels[2]!.full!.shape, [B, 2, 4, 256]);
    assert.deepEqual(enc.levels[3]!.full!.shape, [B, 1, 2, 512]);
    assert.deepEqual(enc.embedding.shape, [B, 512]);
    assert.deepEqual(pairs, {
      // patch → its frame's token (repeat-interleave by 16 patches)
      'patch.up': [[B, 128, 128], [B, 128, 128]],
      // frame t → the causal clip state at t-1, within each of the 2 clips of 4 frames
      'space.up': [[B, 2, 3, 256], [B, 2, 3, 256]],
      // frame summary + PE(p) → patch p of its own frame
      'space.down': [[B, 8, 256], [B, 8, 256]],
      // clip c → the causal video state at c-1 (1 sequence of 2 clips)
      'time.up': [[B, 1, 1, 512], [B, 1, 1, 512]],
      // position t → frame t+1 of the same clip
      'time.down': [[B, 2, 3, 128], [B, 2, 3, 128]],
      'time.summary': [[B, 2, 128], [B, 2, 128]],
      'clip.down': [[B, 1, 1, 256], [B, 1, 1, 256]],
      'clip.summary': [[B, 1, 256], [B, 1, 256]],
    });
    assert.deepEqual(positions.map((p) => [p.name, p.count, p.range]), [
      ['pos.space.down', 8, 16],
      ['pos.time.summary', 2, 4],
      ['pos.clip.summary', 1, 2],
    ]);
  });

  test('the S3D stem has the original parameter count (153,152)', () => {
    const { b } = build(WE);
    const stem = b.params.filter((p) => p.value.name.startsWith('patch.stem.'));
    const count = stem.reduce((n, p) => n + p.init.data.length, 0);
    assert.equal(count, 153_152);
    const embed = b.params.filter((p) => p.value.name.startsWith('patch.embed.')).reduce((n, p) => n + p.init.data.length, 0);
    assert.equal(embed, 6272 * 256 + 256);
  });

  test('linear patch embedding: 112/16 = 7 → 49 patches of 768 values', () => {
    const spec: ModelSpec = { ...WE, stem: 'linear', patch: 16 };
    assert.equal(patchesPerFrame(spec), 49);
    const { b, enc, pairs } = build(spec);
    assert.deepEqual(enc.levels[0]!.tokens.shape, [B, 8 * 49, 256]);
    assert.deepEqual(b.params.find((p) => p.value.name === 'patch.embed.weight')!.value.shape, [768, 256]);
    assert.deepEqual(pairs['patch.up'], [[B, 392, 128], [B, 392, 128]]);
  });

  test('side prediction adds a side term per non-last group with relative PEs of 2N-1 rows', () => {
    const spec: ModelSpec = { ...WE, loss: { ...WE.loss, side: { enabled: true, stdDivisor: 3 } } };
    const { b, pairs } = build(spec);
    assert.deepEqual(pairs['patch.side'], [[B, 8, 16, 256], [B, 8, 16, 256]]);
    assert.deepEqual(pairs['space.side'], [[B, 8, 128], [B, 8, 128]]);
    assert.deepEqual(pairs['time.side'], [[B, 2, 256], [B, 2, 256]]);
    assert.equal(pairs['clip.side'], undefined);
    const pe = (n: string) => b.params.find((p) => p.value.name === n)!.value.shape;
    assert.deepEqual(pe('patch.pred_side.pos_embed'), [15, 256]);
    assert.deepEqual(pe('space.pred_side.pos_embed'), [15, 128]);
    assert.deepEqual(pe('time.pred_side.pos_embed'), [3, 256]);
  });

  test('non-causal time with any_frame down targets uses a 2-D positional encoding', () => {
    const spec: ModelSpec = { ...WE, time: { ...WE.time, causal: false }, loss: { ...WE.loss, downTarget: 'any_frame' } };
    const { b, pairs, positions } = build(spec);
    assert.deepEqual(pairs['time.down'], [[B, 2, 128], [B, 2, 128]]);
    assert.deepEqual(positions.find((p) => p.name === 'pos.time.down'), { name: 'pos.time.down', kind: 'down', batch: B, count: 2, range: 8 });
    const pe = (n: string) => b.params.find((p) => p.value.name === n)!.value.shape;
    assert.deepEqual(pe('time.pred_down.pos_embed_token'), [4, 170]);
    assert.deepEqual(pe('time.pred_down.pos_embed_seq'), [2, 86]);
  });

  test('anchored down targets: every token of a sequence predicts another one, given the offset', () => {
    const spec: ModelSpec = { ...WE, loss: { ...WE.loss, downTarget: 'anchored', summaryTarget: 'anchored' } };
    const { b, pairs, positions } = build(spec);
    // space: 16 patches of each of 8 frames; time: 4 frames of each of 2 clips; clip: 2 clips of the video.
    assert.deepEqual(pairs['space.down'], [[B * 8, 16, 256], [B * 8, 16, 256]]);
    assert.deepEqual(pairs['time.summary'], [[B * 2, 4, 128], [B * 2, 4, 128]]);
    assert.deepEqual(pairs['clip.summary'], [[B, 2, 256], [B, 2, 256]]);
    assert.deepEqual(positions.find((p) => p.name === 'pos.time.summary'), { name: 'pos.time.summary', kind: 'side', batch: B * 2, count: 4, range: 4, stdDivisor: 3 });
    const shape = (n: string) => b.params.find((p) => p.value.name === n)!.value.shape;
    assert.deepEqual(shape('time.pred_summary.rel_embed'), [7, 256]);
    assert.deepEqual(shape('time.pred_summary.anchor_in.weight'), [128, 256]);
  });

  test('EMA targets from another view: one EMA pass over both views, video2 declared only when a term reads it', () => {
    const spec = (otherViewTerms: ModelSpec['otherViewTerms']): ModelSpec => ({ ...WE, groups: ['space', 'time'], time: { ...WE.time, clips: 1 }, targets: 'ema', otherViewTerms });
    const inputs = (s: ModelSpec) => mineTrainGraph(s, ['space', 'time'], 1).builder.graph.inputs.map((v) => v.name);
    assert.ok(!inputs(spec([])).includes('video2'));
    const b = mineTrainGraph(spec(['summary']), ['space', 'time'], 1).builder;
    assert.ok(b.graph.inputs.some((v) => v.name === 'video2'));
    const concat = b.graph.nodes.find((n) => n.opType === 'Concat' && n.inputs.some((v) => v?.name === 'video2'))!;
    assert.deepEqual(concat.outputs[0]!.shape, [2 * B, 8, 112, 112, 3]);
  });

  test('the loader reads a second view (twoViews, from the config) exactly when the graph declares video2', () => {
    const sets = [[], ['arch.targets=ema'], ['arch.targets=ema', 'arch.ema.other_view_terms=[up]'], ['arch.targets=ema', 'train.view.enabled=true'], ['arch.task=vicreg'], ['arch.task=cls']];
    for (const set of sets) {
      const { config } = loadConfig({ file: 'tiny', set });
      const declared = trainGraph(modelSpec(config), 1).builder.graph.inputs.some((v) => v.name === 'video2');
      assert.equal(twoViews(config), declared, set.join(' '));
    }
  });
});
