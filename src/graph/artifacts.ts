// The artifacts directory of a config (`vhssl build-graph`): every graph of a run, the initial parameters and a
// manifest naming every graph, input, output, parameter and group boundary. Readable without vhssl.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempPath } from '../atomic.ts';
import { saveConfig, type Config } from '../config/index.ts';
import { GraphBuilder } from './builder.ts';
import { modelSpec } from './model/from-config.ts';
import { emaGraph, encoderGraph, groupOptimizerSpec, mineTrainGraph, stepGraph, trainGraph, type TrainGraph } from './model/graphs.ts';
import { stepLoopGraph } from './model/step-loop.ts';
import { EMA } from './names.ts';
import type { PositionInput } from './model/positions.ts';
import type { GroupName } from './model/spec.ts';
import { encodeModel } from './onnx.ts';
import { buildOptimizerGraph, optimizerState } from './optim/index.ts';
import type { Value } from './ir.ts';
import { IR_VERSION, OPSET } from './ops/index.ts';
import { writeSafetensors } from './safetensors.ts';
import type { Tensor } from './tensor.ts';

export const MANIFEST = 'manifest.json';
export const INIT_PARAMS = 'init.safetensors';
/** The graph (and file stem) of `train.steps_per_run` > 1: the fused step in an ONNX Loop. */
export const STEP_LOOP = 'step.loop';

const pkg = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { version: string };
export const VERSIONS = {
  vhssl: pkg('../../package.json').version,
  onnxruntime: pkg('../../node_modules/onnxruntime-node/package.json').version,
  opset: OPSET,
  ir: IR_VERSION,
};

interface IO { name: string; dtype: string; shape: (number | string)[] }
const io = (v: Value): IO => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] });

export interface GraphEntry {
  file: string;
  role: 'encoder' | 'train' | 'optim' | 'step';
  /** The optimizer groups it trains or updates. */
  groups: string[];
  inputs: IO[];
  outputs: IO[];
  /** Stop-gradient walls: the values a gradient never crosses (group inputs and targets from other groups). */
  boundaries: string[];
}

export interface GroupEntry {
  params: string[];
  buffers: string[];
  /** Optimizer state tensors (zeros at the start). */
  state: string[];
  train: string;
  optim: string;
}

export interface Manifest {
  format: 'vhssl-artifacts/1';
  versions: typeof VERSIONS;
  configHash: string;
  task: Config['arch']['task'];
  seed: number;
  batch: number;
  /** Input video layout of every graph. */
  video: { layout: 'B,F,H,W,3'; dtype: 'float32'; frames: number; height: number; width: number; normalization: Config['data']['normalization'] };
  groups: Record<string, GroupEntry>;
  graphs: Record<string, GraphEntry>;
  positions: PositionInput[];
  initial: string;
  /** `targets: ema`: the target encoder's parameters and buffers (state, never trained) and its update graph. */
  ema?: { params: string[]; buffers: string[]; update: string };
}

function entry(b: GraphBuilder, file: string, role: GraphEntry['role'], groups: string[]): GraphEntry {
  const live = new Set(b.graph.nodes.flatMap((n) => n.outputs));
  return {
    file, role, groups,
    inputs: b.graph.inputs.map(io),
    outputs: b.graph.outputs.map(io),
    boundaries: [...b.walls].filter((w) => live.has(w)).map((w) => w.name),
  };
}

/**
 * Writes the artifacts of `config` into `out`, atomically: everything goes to a temporary sibling directory that is
 * renamed into place at the end, so a failure leaves nothing partial. Returns the manifest.
 */
export function buildArtifacts(config: Config, hash: string, out: string, log: (line: string) => void = () => {}): Manifest {
  const spec = modelSpec(config);
  const seed = config.train.seed;
  const tmp = tempPath(out);
  mkdirSync(tmp, { recursive: true });
  try {
    const graphs: Record<string, GraphEntry> = {};
    const write = (name: string, tg: { builder: GraphBuilder }, role: GraphEntry['role'], groups: string[]) => {
      const file = `${name}.onnx`;
      const t0 = performance.now();
      writeFileSync(join(tmp, file), encodeModel(tg.builder.graph, { producerVersion: VERSIONS.vhssl, metadata: { config_hash: hash, role } }).model);
      graphs[name] = entry(tg.builder, file, role, groups);
      log(`  ${file.padEnd(24)} ${String(tg.builder.graph.nodes.length).padStart(6)} nodes  ${(performance.now() - t0).toFixed(0)} ms`);
    };

    const encoder = encoderGraph(spec, seed);
    write('encoder', encoder, 'encoder', []);
    const fused = spec.task === 'mine' ? null : trainGraph(spec, seed);
    const perGroup: Record<string, TrainGraph> = {};
    for (const g of spec.task === 'mine' ? spec.groups : [spec.task]) {
      perGroup[g] = fused ?? mineTrainGraph(spec, [g as GroupName], seed, g);
    }
    const groups: Record<string, GroupEntry> = {};
    for (const [g, tg] of Object.entries(perGroup)) {
      write(`${g}.train`, tg, 'train', [g]);
      const ospec = groupOptimizerSpec(config.train, tg.params);
      const ob = new GraphBuilder(`${g}.optim`);
      buildOptimizerGraph(ob, ospec);
      write(`${g}.optim`, { builder: ob }, 'optim', [g]);
      groups[g] = {
        params: tg.params.map((p) => p.value.name),
        buffers: tg.buffers.map((p) => p.value.name),
        state: optimizerState(ospec).map((s) => s.name),
        train: `${g}.train.onnx`,
        optim: `${g}.optim.onnx`,
      };
    }
    const step = stepGraph(spec, config.train, seed);
    write('step', step, 'step', step.groups);
    // train.steps_per_run > 1: the same step, K times per run (`step.loop.onnx`, per-step inputs and outputs stacked).
    if ((config.train.steps_per_run ?? 1) > 1) write(STEP_LOOP, { builder: stepLoopGraph(step) }, 'step', step.groups);
    const ema = emaGraph(spec, seed);
    if (ema) write('ema.update', { builder: ema }, 'optim', [EMA]);

    // Initial values of every parameter and buffer: the step graph trains them all.
    const initial: Record<string, Tensor> = {};
    for (const p of [...step.builder.params, ...step.builder.buffers, ...encoder.params, ...encoder.buffers]) initial[p.value.name] = p.init;
    writeSafetensors(join(tmp, INIT_PARAMS), initial, { config_hash: hash, seed: String(seed) });
    saveConfig(config, join(tmp, 'config.yaml'));

    const manifest: Manifest = {
      format: 'vhssl-artifacts/1',
      versions: VERSIONS,
      configHash: hash,
      task: spec.task,
      seed,
      batch: spec.batch,
      video: { layout: 'B,F,H,W,3', dtype: 'float32', frames: spec.frames, height: spec.height, width: spec.width, normalization: config.data.normalization },
      groups,
      graphs,
      positions: step.positions,
      initial: INIT_PARAMS,
      ...(ema
        ? {
            ema: {
              params: step.builder.params.filter((p) => p.group === EMA).map((p) => p.value.name),
              buffers: step.builder.buffers.filter((p) => p.group === EMA).map((p) => p.value.name),
              update: 'ema.update.onnx',
            },
          }
        : {}),
    };
    writeFileSync(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    const old = `${tmp}.old`;
    if (existsSync(out)) renameSync(out, old);
    renameSync(tmp, out);
    rmSync(old, { recursive: true, force: true });
    return manifest;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The manifest in `dir` when it exists and matches `hash`; null otherwise (then the artifacts must be rebuilt). */
export function readManifest(dir: string, hash?: string): Manifest | null {
  const path = join(dir, MANIFEST);
  if (!existsSync(path)) return null;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    if (m.format !== 'vhssl-artifacts/1') return null;
    if (hash !== undefined && (m.configHash !== hash || m.versions.vhssl !== VERSIONS.vhssl || m.versions.opset !== OPSET)) return null;
    return m;
  } catch {
    return null;
  }
}
