// Test fixtures made on the fly by the real ffmpeg: tiny lavfi test patterns in several codecs and containers.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { binaries } from '../../src/data/ffmpeg.ts';
import { main } from '../../src/cli/main.ts';

export const CODECS = {
  mp4: ['-c:v', 'libx264', '-pix_fmt', 'yuv420p'],
  webm: ['-c:v', 'libvpx-vp9', '-pix_fmt', 'yuv420p'],
  avi: ['-c:v', 'mjpeg', '-q:v', '3'],
} as const;

export function ffmpeg(args: string[]): Buffer {
  const r = spawnSync(binaries().ffmpeg, ['-nostdin', '-v', 'error', '-y', ...args], { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

/** A `frames`-frame w×h test pattern at 25 fps in `file` (codec from the extension); returns the path. */
export function makeVideo(file: string, frames = 12, w = 32, h = 24, source = 'testsrc2'): string {
  mkdirSync(dirname(file), { recursive: true });
  const ext = file.slice(file.lastIndexOf('.') + 1) as keyof typeof CODECS;
  const codec = CODECS[ext] ?? CODECS.mp4;
  ffmpeg(['-f', 'lavfi', '-i', `${source}=size=${w}x${h}:rate=25`, '-frames:v', String(frames), ...codec, file]);
  return file;
}

export function makeImage(file: string, w = 20, h = 16): string {
  mkdirSync(dirname(file), { recursive: true });
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${w}x${h}`, '-frames:v', '1', file]);
  return file;
}

/** ffmpeg's own rgb24 decode of `file` (the reference our decoder must match). */
export const reference = (file: string, extra: string[] = []): Buffer => ffmpeg(['-i', file, ...extra, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);

export { tempDir } from '../temp.ts';

/** Runs the CLI in-process; returns its exit code and what it printed. */
export async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const [log, error] = [console.log, console.error];
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' '));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}
