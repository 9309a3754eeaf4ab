// The frozen encoder: `encoderGraph` with its parameters and buffers baked in as initializers. One input, `video`
// (B, F, H, W, 3) float32, normalised, channels last, B dynamic; outputs `embedding` (B, D) and, with `levels`,
// `level.<group>` (B, S, D) for every level.
import type { Graph } from '../graph/ir.ts';
import { encoderGraph } from '../graph/model/graphs.ts';
import type { ModelSpec } from '../graph/model/spec.ts';
import { EMBEDDING, VIDEO } from '../graph/names.ts';
import { encodeModel } from '../graph/onnx.ts';
import { prune } from '../graph/prune.ts';
import type { Tensor } from '../graph/tensor.ts';
import { EncoderSession } from '../runtime/encoder.ts';
import type { SessionOptions } from '../runtime/session.ts';
import { freezeGraph } from './freeze.ts';

export interface FrozenOptions {
  /** Output every `level.<group>` too (default true). */
  levels?: boolean;
  fp16?: boolean;
}

/** The levels an encoder of `spec` outputs: `embedding`, then each group's. */
export const encoderLevels = (spec: Pick<ModelSpec, 'groups'>): string[] => [EMBEDDING, ...spec.groups];

export function frozenEncoder(spec: ModelSpec, seed: number, params: ReadonlyMap<string, Tensor>, o: FrozenOptions = {}): Graph {
  const tg = encoderGraph(spec, seed);
  const b = tg.builder;
  if (o.levels === false) {
    b.graph.outputs = b.graph.outputs.filter((v) => v.name === EMBEDDING);
    prune(b, new Set([VIDEO]));
  }
  const used = new Set(b.graph.inputs.map((v) => v.name));
  const values = new Map([...params].filter(([k]) => used.has(k)));
  const missing = [...b.params, ...b.buffers].map((p) => p.value.name).filter((n) => !values.has(n));
  if (missing.length) throw new Error(`frozenEncoder: no value for ${missing.slice(0, 3).join(', ')}`);
  return freezeGraph(b.graph, values, { fp16: o.fp16 });
}

/** A session of the frozen encoder of `params`, every level out. */
export async function frozenEncoderSession(spec: ModelSpec, seed: number, params: ReadonlyMap<string, Tensor>, o: SessionOptions = {}): Promise<EncoderSession> {
  return EncoderSession.open(encodeModel(frozenEncoder(spec, seed, params)).model, encoderLevels(spec), o);
}
