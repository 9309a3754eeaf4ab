// The frozen encoder: `encoderGraph` with its parameters and buffers baked in as initializers. One input, `video`
// (B, F, H, W, 3) float32, normalised, channels last, B dynamic; outputs `embedding` (B, D) and, with `levels`,
// `level.<group>` (B, S, D) for every level.
import type * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/ir.ts';
import { encoderGraph } from '../graph/model/graphs.ts';
import type { ModelSpec } from '../graph/model/spec.ts';
import { encodeModel } from '../graph/onnx.ts';
import { prune } from '../graph/prune.ts';
import type { Tensor } from '../graph/tensor.ts';
import { createSession, type ExecutionProvider } from '../train/session.ts';
import { freezeGraph } from './freeze.ts';

export interface FrozenOptions {
  /** Output every `level.<group>` too (default true). */
  levels?: boolean;
  fp16?: boolean;
}

export function frozenEncoder(spec: ModelSpec, seed: number, params: ReadonlyMap<string, Tensor>, o: FrozenOptions = {}): Graph {
  const tg = encoderGraph(spec, seed);
  const b = tg.builder;
  if (o.levels === false) {
    b.graph.outputs = b.graph.outputs.filter((v) => v.name === 'embedding');
    prune(b, new Set(['video']));
  }
  const used = new Set(b.graph.inputs.map((v) => v.name));
  const values = new Map([...params].filter(([k]) => used.has(k)));
  const missing = [...b.params, ...b.buffers].map((p) => p.value.name).filter((n) => !values.has(n));
  if (missing.length) throw new Error(`frozenEncoder: no value for ${missing.slice(0, 3).join(', ')}`);
  return freezeGraph(b.graph, values, { fp16: o.fp16 });
}

/** Level names an encoder outputs: `embedding` and the groups of its `level.<group>` outputs. */
export const levelNames = (g: Graph): string[] => g.outputs.map((v) => (v.name === 'embedding' ? v.name : v.name.replace(/^level\./, '')));

export async function encoderSession(g: Graph, o: { ep?: ExecutionProvider; threads?: number } = {}): Promise<ort.InferenceSession> {
  return createSession(encodeModel(g).model, o);
}
