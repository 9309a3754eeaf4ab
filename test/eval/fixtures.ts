// Fixtures for evaluation tests, made in milliseconds without ffmpeg: a prepared store of moving squares (class =
// direction of motion, train and test splits) written with the store's own writer, and a run directory (the tiny
// config pointing at it, checkpoints with every encoder tensor plus optimizer state, metrics.jsonl).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, saveConfig, type Config } from '../../src/config/index.ts';
import { encoderInits } from '../../src/eval/run.ts';
import { modelSpec } from '../../src/graph/model/from-config.ts';
import type { Tensor } from '../../src/graph/tensor.ts';
import { StoreWriter } from '../../src/data/store.ts';
import { writeSafetensors } from '../../src/graph/safetensors.ts';
import { Rng } from '../../src/rng.ts';

export { tempDir } from '../temp.ts';

const DIRS = [[1, 0], [-1, 0], [0, 1], [0, -1]] as const;
export const CLASSES = ['right', 'left', 'down', 'up'];

/**
 * `perClass` train and `perClassTest` test videos per class: a bright 8×8 square moving `speed` (default 2) px/frame on
 * a torus (speed 0: every frame the same).
 */
export function makeStore(dir: string, o: { perClass?: number; perClassTest?: number; frames?: number; size?: number; seed?: number; speed?: number } = {}): string {
  const [S, F, speed] = [o.size ?? 32, o.frames ?? 10, o.speed ?? 2];
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'classes.json'), JSON.stringify(CLASSES));
  const w = new StoreWriter({ dir, tag: '', shardBytes: 1 << 26 });
  const rng = Rng.fromSeed(o.seed ?? 0, 'fixture');
  let k = 0;
  for (const [split, n] of [['train', o.perClass ?? 6], ['test', o.perClassTest ?? 2]] as const) {
    for (let c = 0; c < CLASSES.length; c++) {
      for (let i = 0; i < n; i++) {
        const [dx, dy] = DIRS[c]!;
        const [x0, y0] = [rng.int(S), rng.int(S)];
        const tint = [rng.range(0.5, 1), rng.range(0.5, 1), rng.range(0.5, 1)];
        const data = new Uint8Array(F * S * S * 3);
        for (let t = 0; t < F; t++) {
          for (let y = 0; y < 8; y++) {
            for (let x = 0; x < 8; x++) {
              const px = (((x0 + x + speed * dx * t) % S) + S) % S;
              const py = (((y0 + y + speed * dy * t) % S) + S) % S;
              for (let ch = 0; ch < 3; ch++) data[((t * S + py) * S + px) * 3 + ch] = Math.round(255 * tint[ch]!);
            }
          }
        }
        w.add({ id: `${split}/${CLASSES[c]}/v${k++}`, label: c, split, frames: F, height: S, width: S, fps: 10, src: 'fixture' }, data);
      }
    }
  }
  w.close();
  return dir;
}

/** The tiny config reading `store`, with extra `--set` overrides. */
export function tinyConfig(store: string, set: string[] = []): Config {
  return loadConfig({ file: 'tiny', set: [`data.root=${store}`, 'data.workers=0', 'arch.num_classes=4', ...set] }).config;
}

/** The encoder's initial tensors, each scaled by (1 + noise·N(0,1)) so that a checkpoint differs from the init. */
export function checkpointTensors(config: Config, noise = 0, seed = 1): Map<string, Tensor> {
  const rng = Rng.fromSeed(seed, 'perturb');
  const out = new Map<string, Tensor>();
  for (const [name, t] of encoderInits(modelSpec(config, 1), config.train.seed)) {
    const data = Float32Array.from(t.data as Float32Array, (v) => v * (1 + noise * rng.normal()) + (name.endsWith('running_var') ? 0 : noise * 0.01 * rng.normal()));
    out.set(name, { ...t, data });
  }
  return out;
}

/** RUN_DIR with config.yaml, checkpoints/{last,best}.safetensors (+ optimizer state) and a short metrics.jsonl. */
export function makeRun(dir: string, config: Config, o: { noise?: number; best?: boolean } = {}): string {
  mkdirSync(join(dir, 'checkpoints'), { recursive: true });
  saveConfig(config, join(dir, 'config.yaml'));
  const tensors = checkpointTensors(config, o.noise ?? 0.3);
  const withState = new Map(tensors);
  for (const [name, t] of tensors) if (name.endsWith('.weight')) withState.set(`${name}.momentum`, { ...t, data: new Float32Array(t.data.length) });
  writeSafetensors(join(dir, 'checkpoints', 'last.safetensors'), withState, { step: '300', epoch: '3' });
  if (o.best !== false) writeSafetensors(join(dir, 'checkpoints', 'best.safetensors'), withState, { step: '200', epoch: '2' });
  const lines: string[] = [];
  for (let step = 1; step <= 30; step++) {
    for (const group of ['space', 'time']) {
      lines.push(JSON.stringify({ step, epoch: Math.ceil(step / 10), group, [`loss.${group}`]: 2 / step, [`loss.${group}.up`]: 1 / step, [`loss.${group}.side`]: 1 / step, [`lr.${group}`]: 0.1 * (1 - step / 30), [`grad_norm.${group}`]: 1 + 1 / step, [`monitor.${group}.std`]: 0.5 }));
    }
    if (step % 10 === 0) lines.push(JSON.stringify({ kind: 'knn', epoch: step / 10, step, top1: 20 + step, top5: 60 + step }));
  }
  writeFileSync(join(dir, 'metrics.jsonl'), `${lines.join('\n')}\n`);
  return dir;
}
