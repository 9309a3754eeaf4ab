// ffmpeg as the one video decoder: finding the binaries, probing a file, and streaming raw rgb24 frames from its
// stdout into a (T, H, W, 3) uint8 array. Every failure is a UserError that names the file; every child is reaped.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { UserError } from '../errors.ts';
import { runText, spawnChild, type Exit } from './spawn.ts';

const require = createRequire(import.meta.url);

export interface Binaries {
  ffmpeg: string;
  ffprobe: string;
}

function locate(env: string, pkg: string, name: string): string {
  const explicit = process.env[env];
  if (explicit) {
    if (!existsSync(explicit)) throw new UserError(env, `${explicit} does not exist`, `unset ${env} to use the bundled ${name}`);
    return explicit;
  }
  try {
    const path = (require(pkg) as { path: string }).path;
    if (existsSync(path)) return path;
  } catch {
    // Package absent or built for another platform: fall back to the system binary.
  }
  const which = spawnSync(name, ['-version'], { stdio: 'ignore' });
  if (which.error === undefined && which.status === 0) return name;
  throw new UserError(name, 'no binary found', `set ${env}, install ${pkg}, or put ${name} on PATH`);
}

let cached: Binaries | undefined;

/** FFMPEG_PATH / FFPROBE_PATH, else the npm-shipped static binaries, else `ffmpeg` / `ffprobe` on PATH. */
export function binaries(): Binaries {
  cached ??= {
    ffmpeg: locate('FFMPEG_PATH', '@ffmpeg-installer/ffmpeg', 'ffmpeg'),
    ffprobe: locate('FFPROBE_PATH', '@ffprobe-installer/ffprobe', 'ffprobe'),
  };
  return cached;
}

export interface ProbeResult {
  /** seconds; NaN when the container does not say (a still image). */
  duration: number;
  /** frames per second (average); NaN when unknown. */
  fps: number;
  /** frame count from the container, else round(duration·fps), else 1 for a still image. */
  frames: number;
  /** stored size, before rotation. */
  width: number;
  height: number;
  /** degrees clockwise to display upright; ffmpeg applies it when decoding, so displayed size swaps at ±90. */
  rotation: number;
  codec: string;
}

/** Missing, empty and non-file paths are caught before ffmpeg runs, each with its own message. */
function checkFile(file: string): void {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UserError(file, 'symbolic link loop');
    if (code === 'EACCES') throw new UserError(file, 'permission denied');
    if (code === 'ENOENT' && lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) {
      throw new UserError(file, `dangling symbolic link (to ${readlinkSync(file)})`);
    }
    throw new UserError(file, 'no such file');
  }
  if (st.isDirectory()) throw new UserError(file, 'is a directory, not a video');
  if (st.isFile() && st.size === 0) throw new UserError(file, 'file is empty (0 bytes)');
}

/** The first ffmpeg log line that says what went wrong, without the "[demuxer @ 0x…]" prefix noise. */
function firstError(stderr: string, file: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/, '').replace(`${file}: `, '').trim())
    .filter(Boolean);
  return lines[0] ?? 'no diagnostic from ffmpeg';
}

const ratio = (r: string | undefined): number => {
  if (!r) return NaN;
  const [n, d] = r.split('/').map(Number);
  return d === undefined ? n! : d === 0 ? NaN : n! / d;
};

interface FfprobeStream {
  codec_type?: string;
  codec_name?: string;
  codec_tag_string?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  tags?: Record<string, string>;
  side_data_list?: { rotation?: number }[];
}

/** ffprobe's JSON for the first video stream. */
export async function probe(file: string, timeoutMs = 30_000): Promise<ProbeResult> {
  checkFile(file);
  const args = ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', '-select_streams', 'v:0', file];
  const { code, stdout, stderr } = await runText(binaries().ffprobe, args, timeoutMs);
  if (code === null) throw new UserError(file, `probing stalled for ${timeoutMs / 1000} s (ffprobe killed)`);
  if (code !== 0) throw new UserError(file, `not a readable video (corrupt or truncated): ${firstError(stderr, file)}`);
  const json = JSON.parse(stdout) as { streams?: FfprobeStream[]; format?: { duration?: string; format_name?: string } };
  const s = json.streams?.[0];
  if (!s || s.codec_type !== 'video') throw new UserError(file, 'has no video stream');
  if (!(s.width! > 0 && s.height! > 0)) throw new UserError(file, `not a readable video: ffprobe found a ${s.width ?? '?'}x${s.height ?? '?'} picture`);
  if (!s.codec_name || s.codec_name === 'none') {
    throw new UserError(file, `unsupported codec (tag "${s.codec_tag_string ?? '?'}"): ffmpeg has no decoder for it`);
  }
  const duration = Number(s.duration ?? json.format?.duration ?? NaN);
  const fps = ratio(s.avg_frame_rate) || ratio(s.r_frame_rate);
  const still = /_pipe$|^image2$/.test(json.format?.format_name ?? '');
  const nb = Number(s.nb_frames ?? NaN);
  const frames = nb > 0 ? nb : still ? 1 : Number.isFinite(duration * fps) ? Math.round(duration * fps) : NaN;
  const rot = s.side_data_list?.find((d) => d.rotation !== undefined)?.rotation ?? Number(s.tags?.rotate ?? 0);
  // ffprobe's display-matrix rotation is counter-clockwise; the legacy `rotate` tag is clockwise.
  const rotation = (((s.side_data_list?.some((d) => d.rotation !== undefined) ? -rot : rot) % 360) + 360) % 360;
  return { duration, fps, frames, width: s.width ?? 0, height: s.height ?? 0, rotation, codec: s.codec_name };
}

/** Displayed (width, height) after ffmpeg's automatic rotation. */
export function displaySize(p: ProbeResult): { width: number; height: number } {
  return p.rotation === 90 || p.rotation === 270 ? { width: p.height, height: p.width } : { width: p.width, height: p.height };
}

export interface DecodeOptions {
  /** output size; ffmpeg scales (bicubic) to exactly this. */
  width: number;
  height: number;
  /** resample to this frame rate (ffmpeg's fps filter: drops/duplicates frames); default: the decoded frames as they are. */
  fps?: number;
  /** seek to this many seconds before decoding. */
  start?: number;
  maxFrames?: number;
  /** kill ffmpeg when no bytes arrive for this long. */
  timeoutMs?: number;
  /** seconds the container promises; decoded frames covering less than 90 % of it (less one frame) are a truncation. */
  expectSeconds?: number;
  threads?: number;
  /**
   * Decode into this buffer when it is large enough: `data` is then a view of it, valid until the buffer is reused.
   * Reusing one buffer across videos saves a page fault per 4 KiB of frames (see spawn.ts).
   */
  buffer?: Uint8Array;
}

export interface Frames {
  /** (T, H, W, 3) rgb24 */
  data: Uint8Array;
  frames: number;
  height: number;
  width: number;
  /** the time the frames cover: the last frame's time plus its duration, from the first frame (NaN for a still) */
  seconds: number;
}

/** Memory reserved before any frame arrives; beyond it the buffer grows with what ffmpeg actually writes. */
const FIRST_RESERVE = 64 << 20;
/** Largest decoded video held in memory. */
const MAX_BYTES = 2 ** 32;

let fpsModeFlag: string | undefined;

/**
 * The option that keeps every decoded frame as it is (no duplicates to fill a constant rate, no drops): `-fps_mode
 * passthrough` since ffmpeg 5.1, `-vsync passthrough` before (the npm-shipped build is a 4.x).
 */
function passthrough(): string[] {
  fpsModeFlag ??= /-fps_mode\b/.test(spawnSync(binaries().ffmpeg, ['-hide_banner', '-h', 'long'], { encoding: 'utf8' }).stdout ?? '') ? '-fps_mode' : '-vsync';
  return [fpsModeFlag, 'passthrough'];
}

/**
 * Streams ffmpeg's rgb24 output into one (T, H, W, 3) buffer (`o.buffer` when it is large enough, else grown as
 * frames arrive); no temporary files. Only a complete decode is returned: ffmpeg must report the end of the stream,
 * and exactly the frames it reports writing must have arrived.
 */
export async function decodeFrames(file: string, o: DecodeOptions): Promise<Frames> {
  checkFile(file);
  const { width: W, height: H } = o;
  if (!(Number.isInteger(W) && Number.isInteger(H) && W > 0 && H > 0)) {
    throw new RangeError(`decodeFrames: size must be positive integers, got ${W}x${H}`);
  }
  const frameBytes = W * H * 3;
  if (frameBytes > MAX_BYTES) throw new UserError(file, `a ${W}x${H} frame does not fit in memory`, 'give a smaller --size');
  const timeoutMs = o.timeoutMs ?? 60_000;
  const filters = [...(o.fps ? [`fps=${o.fps}`] : []), `scale=${W}:${H}:flags=bicubic`];
  const args = ['-nostdin', '-v', 'error', '-nostats', '-progress', 'pipe:3', '-threads', String(o.threads ?? 0)];
  if (o.start) args.push('-ss', String(o.start));
  args.push('-i', file, '-map', '0:v:0', '-an', '-sn', '-vf', filters.join(','), ...passthrough(), '-pix_fmt', 'rgb24', '-f', 'rawvideo');
  if (o.maxFrames !== undefined) args.push('-frames:v', String(o.maxFrames));
  args.push('pipe:1');

  const reserve = frameBytes * Math.max(1, Math.min(o.maxFrames ?? 16, Math.floor(FIRST_RESERVE / frameBytes)));
  let buf = o.buffer && o.buffer.length >= reserve ? o.buffer : new Uint8Array(reserve);
  let used = 0;
  let tooLarge = false;
  const child = spawnChild(binaries().ffmpeg, args, { stdout: 'stream', progress: true });
  let stalled = false;
  let timer = setTimeout(() => ((stalled = true), child.kill()), timeoutMs);
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ((stalled = true), child.kill()), timeoutMs);
  };
  const stdout = await child.stdout;
  const drained = new Promise<void>((resolve) => {
    if (!stdout) return resolve();
    stdout.on('data', (chunk: Buffer) => {
      touch();
      if (tooLarge) return;
      if (used + chunk.length > buf.length) {
        if (used + chunk.length > MAX_BYTES) {
          tooLarge = true;
          child.kill();
          return;
        }
        const grown = new Uint8Array(Math.min(MAX_BYTES, Math.max(buf.length * 2, used + chunk.length)));
        grown.set(buf.subarray(0, used));
        buf = grown;
      }
      buf.set(chunk, used);
      used += chunk.length;
    });
    stdout.on('error', () => resolve());
    stdout.on('close', () => resolve());
  });
  let exit: Exit;
  try {
    exit = await child.exited;
    await drained;
  } finally {
    clearTimeout(timer);
    stdout?.destroy();
  }
  const stderr = exit.stderr;
  if (exit.error !== undefined) throw new Error(`${binaries().ffmpeg}: ${exit.error}`);
  if (tooLarge) throw new UserError(file, `decoded video exceeds ${MAX_BYTES / 2 ** 30} GiB at ${W}x${H}`, 'give a smaller --size or --fps');
  if (stalled) throw new UserError(file, `decoding stalled: no output for ${timeoutMs / 1000} s (ffmpeg killed)`);
  if (exit.code !== 0) {
    const msg = firstError(stderr, file);
    if (/Decoder \(codec .*\) not found/.test(msg)) throw new UserError(file, `unsupported codec: ${msg}`);
    throw new UserError(file, `decoding failed (corrupt or truncated): ${msg}`);
  }
  const progress = exit.progress!;
  if (!progress.complete) throw new UserError(file, 'decoding ended without ffmpeg reporting the end of the stream', firstError(stderr, file));
  if (used !== progress.frames * frameBytes) {
    throw new UserError(file, `ffmpeg wrote ${progress.frames} frames but ${used / frameBytes} arrived`, 'please report this: the video was not stored');
  }
  const frames = progress.frames;
  if (frames === 0) throw new UserError(file, `no frames decoded: ${firstError(stderr, file)}`);
  const e = o.expectSeconds;
  if (e !== undefined && Number.isFinite(e) && progress.seconds + progress.seconds / frames < 0.9 * e) {
    throw new UserError(file, `truncated: decoded ${frames} frames covering ${round3(progress.seconds)} of ${round3(e)} s`, firstError(stderr, file));
  }
  const n = frames * frameBytes;
  const data = buf === o.buffer || buf.length === n ? buf.subarray(0, n) : buf.slice(0, n);
  return { data, frames, height: H, width: W, seconds: progress.seconds };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
