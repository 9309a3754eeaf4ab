// Sine-cosine positional encodings: their values, their layout in a group's sequence, and what they are for: an
// encoder at initialisation that can tell the order of frames (a learned table at std 0.02 barely can).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encoderGraph } from '../../src/graph/model/graphs.ts';
import { sincos1d, sincos2d, sincosTable } from '../../src/graph/nn/sincos.ts';
import { tensor } from '../../src/graph/tensor.ts';
import { runGraph, sessionOf } from '../helpers.ts';
import { tiny } from './specs.ts';

const close = (a: ArrayLike<number>, b: number[]) => b.forEach((v, i) => assert.ok(Math.abs(a[i]! - v) < 1e-6, `[${i}] ${a[i]} vs ${v}`));

describe('sine-cosine positional encodings', () => {
  test('1-D: row p is sin(p·ω_i) then cos(p·ω_i), ω_i = 10000^(−i/(D/2))', () => {
    const t = sincos1d(3, 4);
    close(t.subarray(0, 4), [0, 0, 1, 1]);
    close(t.subarray(8, 12), [Math.sin(2), Math.sin(2 / 100), Math.cos(2), Math.cos(2 / 100)]);
    assert.throws(() => sincos1d(2, 3), /the width must be even, got 3/);
  });

  test('2-D: the first half of the channels encodes the row, the second half the column (row-major grid)', () => {
    const t = sincos2d(2, 3, 8);
    const row1 = Array.from(sincos1d(2, 4).subarray(4, 8));
    const col2 = Array.from(sincos1d(3, 4).subarray(8, 12));
    close(t.subarray((1 * 3 + 2) * 8, (1 * 3 + 2) * 8 + 8), [...row1, ...col2]);
  });

  test("a group's table has a zero row for its summary token: first for a CLS, last for a causal query", () => {
    const first = sincosTable(2, 4, true).data as Float32Array;
    close(first, [0, 0, 0, 0, ...sincos1d(2, 4)]);
    const last = sincosTable(2, 4, false).data as Float32Array;
    close(last, [...sincos1d(2, 4), 0, 0, 0, 0]);
    assert.deepEqual(sincosTable(6, 8, true, { h: 2, w: 3 }).shape, [1, 7, 8]);
  });

  test('a frame token at initialisation tells where a digit is, even a whole patch away (a learned table at std 0.02 barely can)', async () => {
    // A bright 3×3 square at (5, 1) and at (5, 5) on a dark 16×16 frame, patch 4: the same patch contents, one patch
    // apart. Only the positional encoding can tell them apart, and motion is read from such differences.
    const S = 16;
    const frame = (x0: number, value = 1) => {
      const f = new Float32Array(S * S * 3).fill(-1);
      for (let y = 5; y < 8; y++) for (let x = x0; x < x0 + 3; x++) f.fill(value, (y * S + x) * 3, (y * S + x) * 3 + 3);
      return f;
    };
    const change: Record<string, number> = {};
    for (const kind of ['learned', 'sincos'] as const) {
      const g = encoderGraph(tiny({ groups: ['space'], posEmbed: kind, batch: 1, frames: 1, height: S, width: S }), 3);
      assert.equal(g.params.some((p) => p.value.name.endsWith('pos_embed')), kind === 'learned');
      const session = await sessionOf(g.builder);
      const params = Object.fromEntries([...g.params, ...g.buffers].map((p) => [p.value.name, p.init]));
      const embed = async (x: Float32Array) => (await runGraph(session, { ...params, video: tensor('float32', [1, 1, S, S, 3], x) })).embedding!.data as Float32Array;
      const [a, moved, dimmer] = [await embed(frame(1)), await embed(frame(5)), await embed(frame(1, 0.5))];
      const dist = (u: Float32Array, v: Float32Array) => Math.sqrt(u.reduce((s, x, i) => s + (x - v[i]!) ** 2, 0));
      // measured against what a change of content (a dimmer square) does, as the embedding at init is mostly constant
      change[kind] = dist(a, moved) / dist(a, dimmer);
    }
    assert.ok(change.sincos! > 0.5, `sincos: moving / dimming ${change.sincos}`);
    assert.ok(change.sincos! > 5 * change.learned!, `sincos ${change.sincos} vs learned ${change.learned}`);
  });
});
