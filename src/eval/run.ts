// A training run directory as evaluation reads it: RUN_DIR/config.yaml (the merged config) and
// RUN_DIR/checkpoints/{best,last,*}.safetensors (every parameter and buffer by name; optimizer state is ignored).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { loadConfig, type Config } from '../config/index.ts';
import { curriculumCheckpointDir, readCurriculum } from '../curriculum-record.ts';
import { UserError } from '../errors.ts';
import type { Param } from '../graph/builder.ts';
import { modelSpec } from '../graph/model/from-config.ts';
import { encoderGraph } from '../graph/model/graphs.ts';
import type { ModelSpec } from '../graph/model/spec.ts';
import { sameShape } from '../graph/shape.ts';
import type { Tensor } from '../graph/tensor.ts';
import { decodeSafetensors } from '../graph/safetensors.ts';

export interface Checkpoint {
  path: string;
  /** `best`, `last` or the file given. */
  name: string;
  step: number | null;
  epoch: number | null;
  /** sha256 of the file's bytes, first 16 hex digits (feature caches are keyed by it). */
  sha: string;
}

export interface Run {
  dir: string;
  config: Config;
  /** The config's canonical hash. */
  hash: string;
  /** The encoder's spec (batch 1; the encoder graph's batch is symbolic anyway). */
  spec: ModelSpec;
  /** Every encoder parameter and buffer, by name. */
  params: Map<string, Tensor>;
  checkpoint: Checkpoint;
}

/** `best` | `last` | a path (absolute, or relative to the working directory, or to RUN_DIR/checkpoints). */
export type CheckpointChoice = string;

export function checkpointPath(runDir: string, choice?: CheckpointChoice): { path: string; name: string } {
  const dir = join(runDir, 'checkpoints');
  if (choice === undefined) {
    for (const name of ['best', 'last']) {
      const path = join(dir, `${name}.safetensors`);
      if (existsSync(path)) return { path, name };
    }
    throw new UserError(dir, 'no best.safetensors or last.safetensors', 'has the run saved a checkpoint yet? pass --checkpoint PATH for another file');
  }
  if (choice === 'best' || choice === 'last') {
    const path = join(dir, `${choice}.safetensors`);
    if (!existsSync(path)) throw new UserError(path, 'no such checkpoint', choice === 'best' ? 'best is kept only when k-NN validation ran; try --checkpoint last' : undefined);
    return { path, name: choice };
  }
  for (const path of isAbsolute(choice) ? [choice] : [resolve(choice), join(dir, choice), join(dir, `${choice}.safetensors`)]) {
    if (existsSync(path) && statSync(path).isFile()) return { path, name: choice };
  }
  throw new UserError(choice, 'no such checkpoint', `looked in the working directory and in ${dir}`);
}

/** The encoder's parameters and buffers (name → initial tensor) for a spec. */
export function encoderInits(spec: ModelSpec, seed: number): Map<string, Tensor> {
  const tg = encoderGraph(spec, seed);
  return new Map([...tg.params, ...tg.buffers].map((p: Param) => [p.value.name, p.init]));
}

/**
 * Takes from `tensors` exactly the encoder's parameters and buffers, refusing a missing one or one of another shape or
 * dtype (a checkpoint of another config).
 */
export function matchEncoder(where: string, spec: ModelSpec, seed: number, tensors: ReadonlyMap<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const missing: string[] = [];
  for (const [name, init] of encoderInits(spec, seed)) {
    const t = tensors.get(name);
    if (!t) {
      missing.push(name);
      continue;
    }
    if (t.dtype !== init.dtype || !sameShape(t.shape, init.shape)) {
      throw new UserError(where, `tensor "${name}" is ${t.dtype}[${t.shape.join(',')}], the run's config expects ${init.dtype}[${init.shape.join(',')}]`, 'the checkpoint belongs to another config');
    }
    out.set(name, t);
  }
  if (missing.length) {
    const list = missing.slice(0, 3).map((m) => `"${m}"`).join(', ');
    throw new UserError(where, `missing ${missing.length} encoder tensor${missing.length > 1 ? 's' : ''} (${list}${missing.length > 3 ? ', …' : ''})`, 'the checkpoint belongs to another config');
  }
  return out;
}

const metaInt = (v: string | undefined): number | null => (v !== undefined && /^-?\d+$/.test(v) ? Number(v) : null);

/**
 * RUN_DIR's config and the file of its checkpoint `choice` (default: best, else last), the checkpoint not read; of a
 * curriculum, its newest stage with a checkpoint (`dir`).
 */
export function runCheckpoint(runDir: string, choice?: CheckpointChoice): { dir: string; config: Config; hash: string; path: string; name: string } {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) throw new UserError(runDir, 'no such run directory');
  // A curriculum's stages are its runs: the newest stage with a checkpoint stands for it.
  const cur = readCurriculum(runDir);
  if (cur) {
    const stage = curriculumCheckpointDir(runDir, cur);
    if (!stage) throw new UserError(runDir, 'a curriculum none of whose stages has a checkpoint yet');
    return runCheckpoint(stage, choice);
  }
  const configFile = join(runDir, 'config.yaml');
  if (!existsSync(configFile)) throw new UserError(runDir, 'not a run directory (no config.yaml)');
  const { config, hash } = loadConfig({ file: configFile });
  return { dir: runDir, config, hash, ...checkpointPath(runDir, choice) };
}

/** Reads RUN_DIR's config and a checkpoint (default: best, else last), checked against the config's encoder. */
export function loadRun(runDir: string, o: { checkpoint?: CheckpointChoice } = {}): Run {
  const { dir, config, hash, path, name } = runCheckpoint(runDir, o.checkpoint);
  const spec = modelSpec(config, 1);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new UserError(path, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const st = decodeSafetensors(bytes, path);
  const params = matchEncoder(path, spec, config.train.seed, st.tensors);
  const sha = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  return { dir, config, hash, spec, params, checkpoint: { path, name, step: metaInt(st.metadata.step), epoch: metaInt(st.metadata.epoch), sha } };
}
