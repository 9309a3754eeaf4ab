// Starting a run from another run's checkpoint (`vhssl train --init-from`, and each curriculum stage after the first):
// every tensor of the new state is carried by name from the parent when the parent has it with the same shape; the
// encoder's learned positional tables are resized when frames or size grew (sine-cosine tables are constants of the
// graphs and so recomputed); what the parent lacks (new groups, their predictors) keeps the seed's initialisation of a
// fresh run; optimizer state is carried or reset. RUN_DIR/init.json records what came from where.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TRANSFORMER_GROUPS, type Config, type OptimizerState } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { matchEncoder, runCheckpoint } from '../eval/run.ts';
import type { Manifest } from '../graph/artifacts.ts';
import { grouping } from '../graph/model/encoder.ts';
import { modelSpec } from '../graph/model/from-config.ts';
import { patchGrid, type ModelSpec } from '../graph/model/spec.ts';
import { EMA } from '../graph/names.ts';
import { decodeSafetensors } from '../graph/safetensors.ts';
import { sameShape } from '../graph/shape.ts';
import type { Tensor } from '../graph/tensor.ts';
import { toOrt } from '../runtime/session.ts';
import { stateShapes, type State } from '../runtime/state.ts';
import { CHECKPOINT_FORMAT, type TrainProgress } from './checkpoint.ts';

/** Where a run started from another records what it took: RUN_DIR/init.json. */
export const INIT_FILE = 'init.json';

/** A checkpoint to start from, read and checked, and the config it was trained with. */
export interface Parent {
  file: string;
  config: Config;
  tensors: Map<string, Tensor>;
  progress: Partial<TrainProgress>;
  /** sha256 of the file's bytes. */
  sha256: string;
}

/** Reads the checkpoint `file` of a run trained with `config`, refusing what is not a vhssl checkpoint. */
export function readParent(file: string, config: Config): Parent {
  // `last` and `best` are links that move on: record the file they point at now.
  if (lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) file = join(dirname(file), readlinkSync(file));
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UserError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new UserError(file, `not a vhssl checkpoint (format "${metadata.format ?? 'missing'}")`, 'pass a run directory or one of its checkpoints');
  let progress: Partial<TrainProgress>;
  try {
    progress = JSON.parse(metadata.progress ?? '') as Partial<TrainProgress>;
  } catch {
    throw new UserError(file, 'its progress metadata is not valid JSON');
  }
  return { file, config, tensors, progress, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** RUN_DIR/init.json. */
export interface InitRecord {
  from: string;
  /** sha256 of the parent checkpoint's bytes. */
  sha256: string;
  step: number | null;
  optimizer_state: OptimizerState;
  /** Tensors taken as they were. */
  carried: number;
  /** Positional tables resized, `name: [old shape] → [new shape]`. */
  resized: string[];
  /** Tensors the parent lacks or has in another shape that is not an encoder positional table: initialised from the seed. */
  initialised: string[];
  /** EMA copies the parent lacks, started at the carried parameter (as a fresh run starts them at the initial one). */
  ema_from_online: string[];
  /** Parent tensors the new state does not use (groups or heads it dropped). */
  unused: number;
}

export interface Initialised {
  record: InitRecord;
  /** Per-group optimizer steps to continue from (AdamW's bias correction), for the groups whose state was carried. */
  groupSteps: Record<string, number>;
}

/**
 * Overwrites `state` (a fresh run's, from the seed) with what the parent carries. A tensor present in both with
 * another shape is refused unless it is a positional table, since silently starting it afresh would throw away what
 * the parent learned there.
 */
export function initFromParent(state: State, m: Manifest, config: Config, parent: Parent, optimizerState: OptimizerState): Initialised {
  const { tensors, progress } = parent;
  const tables = new PositionTables(modelSpec(parent.config, 1), modelSpec(config, 1));

  const optimizerNames = new Map<string, string>();
  for (const [g, e] of Object.entries(m.groups)) for (const n of e.state) optimizerNames.set(n, g);
  const record: InitRecord = {
    from: parent.file,
    sha256: parent.sha256,
    step: typeof progress.step === 'number' ? progress.step : null,
    optimizer_state: optimizerState,
    carried: 0, resized: [], initialised: [], ema_from_online: [], unused: 0,
  };
  const carriedGroups = new Set<string>();
  const shapes = stateShapes(m);
  const used = new Set<string>();
  for (const [name, shape] of shapes) {
    const group = optimizerNames.get(name);
    if (group !== undefined && optimizerState === 'reset') continue;
    const t = tensors.get(name);
    if (!t) continue;
    used.add(name);
    if (sameShape(t.shape, shape)) {
      state.set(name, toOrt(t));
      record.carried++;
      if (group !== undefined) carriedGroups.add(group);
      continue;
    }
    const resized = group === undefined ? tables.resize(name, t, shape) : null;
    if (resized) {
      state.set(name, toOrt(resized));
      record.resized.push(`${name}: [${t.shape.join(',')}] → [${shape.join(',')}]`);
    } else if (group !== undefined || isPredictorTable(name)) {
      // Optimizer state of a resized table, and a predictor's positional table: a predictor's positions index
      // the level below in ways a plain resize would scramble, and it is relearnt within steps.
      record.initialised.push(name);
    } else {
      throw new UserError(parent.file, `tensor "${name}" is [${t.shape.join(',')}] there and [${shape.join(',')}] in this run`,
        'only positional tables can change shape between a run and the run it starts from (frames, size); start the changed part fresh under another name or train without --init-from');
    }
  }
  for (const name of shapes.keys()) {
    if (used.has(name) || optimizerNames.has(name)) continue;
    // A new EMA copy starts where its online parameter starts: here, at the carried value.
    const online = name.startsWith(`${EMA}.`) ? name.slice(EMA.length + 1) : null;
    if (online !== null && used.has(online)) {
      state.set(name, state.get(online)!);
      record.ema_from_online.push(name);
    } else {
      record.initialised.push(name);
    }
  }
  for (const name of tensors.keys()) if (!used.has(name)) record.unused++;
  const parentSteps = progress.groupSteps ?? {};
  const groupSteps = Object.fromEntries([...carriedGroups].filter((g) => g in parentSteps).map((g) => [g, parentSteps[g]!]));
  return { record, groupSteps };
}

const isPredictorTable = (name: string): boolean => /\.pred_\w+\.(pos_embed\w*|rel_embed)$/.test(name);

/**
 * The encoder's learned tables `<group>.pos_embed` (1, T+1, D): the summary row kept, the T token rows resized with
 * linear interpolation at pixel centres (align_corners false): over the patch grid (bilinear) for space, over
 * positions for time and clip.
 */
export class PositionTables {
  constructor(private readonly from: ModelSpec, private readonly to: ModelSpec) {}

  resize(name: string, t: Tensor, shape: readonly number[]): Tensor | null {
    const base = name.startsWith(`${EMA}.`) ? name.slice(EMA.length + 1) : name;
    const g = TRANSFORMER_GROUPS.find((x) => base === `${x}.pos_embed`);
    if (!g || t.shape.length !== 3 || shape.length !== 3 || t.shape[2] !== shape[2]) return null;
    const D = shape[2]!;
    const [a, b] = [this.from, this.to];
    const [Ta, Tb] = [grouping(a, g).T, grouping(b, g).T];
    if (t.shape[1] !== Ta + 1 || shape[1] !== Tb + 1) return null;
    // (rows, cols) of the token body: the patch grid for space, one row of positions otherwise.
    const [ga, gb] = g === 'space' ? [patchGrid(a), patchGrid(b)] : [{ h: 1, w: Ta }, { h: 1, w: Tb }];
    const src = t.data as Float32Array;
    const out = new Float32Array((Tb + 1) * D);
    // The summary row: first for non-causal groups, last for causal ones (src/graph/model/encoder.ts).
    const [sa, sb] = [a[g].causal ? Ta : 0, b[g].causal ? Tb : 0];
    const [oa, ob] = [a[g].causal ? 0 : 1, b[g].causal ? 0 : 1];
    out.set(src.subarray(sa * D, (sa + 1) * D), sb * D);
    const rows = axis(ga.h, gb.h);
    const cols = axis(ga.w, gb.w);
    for (let y = 0; y < gb.h; y++) {
      const ry = rows[y]!;
      for (let x = 0; x < gb.w; x++) {
        const cx = cols[x]!;
        const o = (ob + y * gb.w + x) * D;
        for (const [iy, wy] of [[ry.i0, 1 - ry.f], [ry.i1, ry.f]] as const) {
          for (const [ix, wx] of [[cx.i0, 1 - cx.f], [cx.i1, cx.f]] as const) {
            const w = wy * wx;
            if (w === 0) continue;
            const s = (oa + iy * ga.w + ix) * D;
            for (let d = 0; d < D; d++) out[o + d]! += w * src[s + d]!;
          }
        }
      }
    }
    return { dtype: 'float32', shape: [...shape], data: out };
  }
}

/** For each of `m` output positions, the two source positions of `n` and the weight of the second (pixel centres). */
export function axis(n: number, m: number): { i0: number; i1: number; f: number }[] {
  return Array.from({ length: m }, (_, j) => {
    const x = Math.min(Math.max(((j + 0.5) * n) / m - 0.5, 0), n - 1);
    const i0 = Math.floor(x);
    return { i0, i1: Math.min(i0 + 1, n - 1), f: x - i0 };
  });
}

/**
 * `--init-from RUN[:CHECKPOINT]`: a run directory (of a curriculum: its newest stage) and one of its checkpoints
 * (`last` by default, `best`, or a file name or path as `vhssl eval --checkpoint` takes).
 */
export function parentOf(spec: string): Parent {
  const at = spec.lastIndexOf(':');
  const [run, choice] = existsSync(spec) || at <= 0 ? [spec, 'last'] : [spec.slice(0, at), spec.slice(at + 1) || 'last'];
  if (!existsSync(run) || !statSync(run).isDirectory()) throw new UserError('--init-from', `no such run directory "${run}"`, 'pass RUN_DIR or RUN_DIR:best|last|FILE');
  // The run's config (of a curriculum: its newest stage's) and checkpoint file, read once: a checkpoint that does not
  // hold its own config's encoder is refused, as `vhssl eval` refuses it.
  const r = runCheckpoint(run, choice);
  const parent = readParent(r.path, r.config);
  matchEncoder(r.path, modelSpec(r.config, 1), r.config.train.seed, parent.tensors);
  return parent;
}
