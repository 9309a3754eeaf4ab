// `vhssl export`: a run's encoder as a standalone ONNX model that needs nothing but an ONNX runtime. Parameters and
// buffers are initializers; input `video` (B, F, H, W, 3) float32 with B dynamic; outputs `embedding` (B, D) and,
// with `levels`, every `level.<group>` (B, S, D). Metadata props say how to feed it (layout, size, normalisation) and
// where it came from (config hash, checkpoint, vhssl version).
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { configYaml } from '../config/index.ts';
import { writeFileAtomic } from '../atomic.ts';
import { checkOutputFile } from '../out-path.ts';
import { VERSIONS } from '../graph/artifacts.ts';
import { encodeModel } from '../graph/onnx.ts';
import { BYTES_PER_ELEMENT } from '../graph/dtype.ts';
import { VIDEO } from '../graph/names.ts';
import { frozenEncoder } from './encoder.ts';
import type { Run } from './run.ts';

export const INPUT_LAYOUT = 'B,F,H,W,3 float32 normalised RGB';

export interface ExportOptions {
  /** every `level.<group>` output too */
  levels?: boolean;
  /** float16 initializers, each cast back to float32 in the graph (half the file; float32 arithmetic) */
  fp16?: boolean;
  /** parameter bytes above which the initializers go to `<out>.data` beside the model (default 1 GiB: protobuf's 2 GiB limit) */
  externalAbove?: number;
}

export interface Exported {
  path: string;
  bytes: number;
  external?: string;
  outputs: string[];
  metadata: Record<string, string>;
}

/** The metadata_props of an exported encoder. */
export function exportMetadata(run: Run, o: ExportOptions, outputs: readonly string[]): Record<string, string> {
  const d = run.config.data;
  return {
    'vhssl.version': VERSIONS.vhssl,
    'input.name': VIDEO,
    'input.layout': INPUT_LAYOUT,
    'input.frames': String(d.frames),
    'input.frame_stride': String(d.frame_stride),
    'input.height': String(d.height),
    'input.width': String(d.width),
    'normalization.mean': JSON.stringify(d.normalization.mean),
    'normalization.std': JSON.stringify(d.normalization.std),
    'normalization.formula': 'x = (rgb / 255 - mean) / std, per channel',
    outputs: outputs.join(','),
    weights: o.fp16 ? 'float16 initializers cast to float32 in the graph' : 'float32',
    'config.hash': run.hash,
    config: configYaml(run.config),
    checkpoint: basename(run.checkpoint.path),
    'checkpoint.sha256': run.checkpoint.sha,
    ...(run.checkpoint.step === null ? {} : { 'checkpoint.step': String(run.checkpoint.step) }),
    ...(run.checkpoint.epoch === null ? {} : { 'checkpoint.epoch': String(run.checkpoint.epoch) }),
  };
}

export function exportEncoder(run: Run, out: string, o: ExportOptions = {}): Exported {
  checkOutputFile(out, '--out');
  const graph = frozenEncoder(run.spec, run.config.train.seed, run.params, { levels: o.levels ?? false, fp16: o.fp16 });
  graph.name = 'vhssl.encoder';
  graph.doc = `vhssl encoder: input video (${INPUT_LAYOUT}), outputs ${graph.outputs.map((v) => v.name).join(', ')}`;
  const outputs = graph.outputs.map((v) => v.name);
  const metadata = exportMetadata(run, o, outputs);
  const weightBytes = graph.constants.reduce((a, c) => a + (c.data ? c.data.data.length * BYTES_PER_ELEMENT[c.data.dtype] : 0), 0);
  const external = weightBytes > (o.externalAbove ?? 2 ** 30) ? `${basename(out)}.data` : undefined;
  const enc = encodeModel(graph, { metadata, producerVersion: VERSIONS.vhssl, docString: graph.doc, ...(external ? { externalThreshold: 1024, externalFile: external } : {}) });
  mkdirSync(dirname(out), { recursive: true });
  if (enc.external) writeFileAtomic(join(dirname(out), external!), enc.external);
  writeFileAtomic(out, enc.model);
  return { path: out, bytes: enc.model.length + (enc.external?.length ?? 0), external: enc.external ? external : undefined, outputs, metadata };
}
