// ffmpeg as the one video decoder: finding the binaries, probing a file, and streaming raw rgb24 frames from its
// stdout into a (T, H, W, 3) uint8 array. Every failure is a UserError that names the file; every child is reaped.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { UserError } from '../errors.ts';

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

/** Missing and empty files are caught before ffmpeg runs, with their own messages. */
function checkFile(file: string): void {
  let size: number;
  let regular: boolean;
  try {
    const st = statSync(file);
    size = st.size;
    regular = st.isFile();
  } catch {
    throw new UserError(file, 'no such file');
  }
  if (regular && size === 0) throw new UserError(file, 'file is empty (0 bytes)');
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

// ---- Spawning through a helper process ----------------------------------------------------------------------------
//
// Every fork() of this process write-protects all of its pages (copy-on-write), and each page this process writes
// afterwards takes a fault. Decoding spawns ffmpeg once per video and then writes the whole (T, H, W, 3) output, so
// spawning from here costs one fault per 4 KiB of frames plus the Node heap, per video. On the 2-core VM of bench/data.ts
// a fault costs ~16 µs (57 MB after a spawn: ~240 ms to write vs ~3 ms without), which made our decode 3× slower than
// ffmpeg itself; the pipe's 64 KiB reads were not the bottleneck. So ffmpeg and ffprobe are spawned by a small helper
// process (started once, lazily) that hands the child's stdout socket back over IPC; this process then never forks.
// Where the helper cannot start, children are spawned directly (same behaviour, slower).

const HELPER = `
const { spawn } = require('node:child_process');
const kids = new Map();
process.on('message', (m) => {
  if (m.op === 'kill') { kids.get(m.id)?.kill('SIGKILL'); return; }
  let c;
  try { c = spawn(m.bin, m.args, { stdio: ['ignore', 'pipe', 'pipe'] }); }
  catch (e) { process.send({ id: m.id, ev: 'exit', code: null, signal: null, stdout: '', stderr: '', error: String(e && e.message || e) }); return; }
  kids.set(m.id, c);
  let out = '', err = '', failed;
  c.stderr.setEncoding('utf8').on('data', (s) => { if (err.length < 65536) err += s; });
  if (m.text) c.stdout.setEncoding('utf8').on('data', (s) => { out += s; });
  else if (c.pid) process.send({ id: m.id, ev: 'stdout' }, c.stdout);
  // 'close' never comes once stdout was handed over, so wait for the exit and the end of the text streams.
  let left = m.text ? 3 : 2, code = null, signal = null, sent = false;
  const done = () => { if (--left <= 0 && !sent) { sent = true; kids.delete(m.id); process.send({ id: m.id, ev: 'exit', code, signal, stdout: out, stderr: err, error: failed }); } };
  c.stderr.on('close', done);
  if (m.text) c.stdout.on('close', done);
  c.on('error', (e) => { failed = String(e && e.message || e); if (!c.pid) { left = 1; done(); } });
  c.on('exit', (k, s) => { code = k; signal = s; done(); });
});
process.on('disconnect', () => { for (const c of kids.values()) c.kill('SIGKILL'); process.exit(0); });
`;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** spawn failure (binary missing, …) */
  error?: string;
}

interface Spawned {
  /** ffmpeg's stdout as bytes (absent in text mode) */
  stdout: Promise<Readable | undefined>;
  exited: Promise<Exit>;
  kill(): void;
}

class Helper {
  private proc: ChildProcess | undefined;
  private calls = new Map<number, { onStdout: (s: Readable) => void; onExit: (e: Exit) => void }>();
  private nextId = 0;

  private start(): ChildProcess {
    const proc = spawn(process.execPath, ['-e', HELPER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    proc.on('message', (m: { id: number; ev: 'stdout' | 'exit' } & Exit, handle?: unknown) => {
      const call = this.calls.get(m.id);
      if (!call) return;
      if (m.ev === 'stdout') call.onStdout(handle as Readable);
      else {
        this.calls.delete(m.id);
        if (this.calls.size === 0) this.idle();
        call.onExit(m);
      }
    });
    const fail = () => {
      if (this.proc !== proc) return;
      this.proc = undefined;
      const calls = [...this.calls.values()];
      this.calls.clear();
      for (const c of calls) c.onExit({ code: null, signal: null, stdout: '', stderr: '', error: 'the spawn helper process died' });
    };
    proc.on('exit', fail);
    proc.on('error', fail);
    this.proc = proc;
    this.idle();
    return proc;
  }

  /** Neither the helper nor its channel keeps the event loop alive between calls. */
  private idle(): void {
    this.proc?.unref();
    (this.proc?.channel as { unref?: () => void } | undefined)?.unref?.();
  }

  spawn(bin: string, args: string[], text: boolean): Spawned {
    const proc = this.proc ?? this.start();
    if (this.calls.size === 0) {
      proc.ref();
      (proc.channel as { ref?: () => void } | undefined)?.ref?.();
    }
    const id = this.nextId++;
    let onStdout!: (s: Readable | undefined) => void;
    const stdout = new Promise<Readable | undefined>((r) => (onStdout = r));
    const exited = new Promise<Exit>((resolve) => {
      this.calls.set(id, {
        onStdout,
        onExit: (e) => {
          onStdout(undefined);
          resolve(e);
        },
      });
    });
    proc.send({ op: 'spawn', id, bin, args, text });
    return { stdout, exited, kill: () => this.proc?.connected && this.proc.send({ op: 'kill', id }) };
  }
}

let helper: Helper | undefined;

/** Direct spawn from this process (the fallback; also used with VHSSL_FFMPEG_DIRECT=1). */
function spawnDirect(bin: string, args: string[], text: boolean): Spawned {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let error: string | undefined;
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    if (err.length < 65536) err += s;
  });
  if (text) child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<Exit>((resolve) => {
    child.on('error', (e) => (error = e.message));
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err, error }));
  });
  return { stdout: Promise.resolve(text ? undefined : child.stdout!), exited, kill: () => child.kill('SIGKILL') };
}

function spawnChild(bin: string, args: string[], text: boolean): Spawned {
  if (process.env.VHSSL_FFMPEG_DIRECT === '1' || process.platform === 'win32') return spawnDirect(bin, args, text);
  helper ??= new Helper();
  return helper.spawn(bin, args, text);
}

async function run(bin: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnChild(bin, args, true);
  const timer = setTimeout(() => child.kill(), timeoutMs);
  try {
    const e = await child.exited;
    if (e.error !== undefined) throw new Error(`${bin}: ${e.error}`);
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** ffprobe's JSON for the first video stream. */
export async function probe(file: string, timeoutMs = 30_000): Promise<ProbeResult> {
  checkFile(file);
  const args = ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', '-select_streams', 'v:0', file];
  const { code, stdout, stderr } = await run(binaries().ffprobe, args, timeoutMs);
  if (code === null) throw new UserError(file, `probing stalled for ${timeoutMs / 1000} s (ffprobe killed)`);
  if (code !== 0) throw new UserError(file, `not a readable video (corrupt or truncated): ${firstError(stderr, file)}`);
  const json = JSON.parse(stdout) as { streams?: FfprobeStream[]; format?: { duration?: string; format_name?: string } };
  const s = json.streams?.[0];
  if (!s || s.codec_type !== 'video') throw new UserError(file, 'has no video stream');
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
  /** resample to this frame rate (ffmpeg's fps filter: drops/duplicates frames); default native. */
  fps?: number;
  /** seek to this many seconds before decoding. */
  start?: number;
  maxFrames?: number;
  /** kill ffmpeg when no bytes arrive for this long. */
  timeoutMs?: number;
  /** frames the container promises; decoding fewer than 90 % of them is reported as truncation. */
  expectFrames?: number;
  threads?: number;
  /**
   * Decode into this buffer when it is large enough: `data` is then a view of it, valid until the buffer is reused.
   * Reusing one buffer across videos saves a page fault per 4 KiB of frames (see the helper note above).
   */
  buffer?: Uint8Array;
}

export interface Frames {
  /** (T, H, W, 3) rgb24 */
  data: Uint8Array;
  frames: number;
  height: number;
  width: number;
}

/** Streams ffmpeg's rgb24 output into one (T, H, W, 3) buffer (`o.buffer` when it is large enough, else grown by doubling); no temporary files. */
export async function decodeFrames(file: string, o: DecodeOptions): Promise<Frames> {
  checkFile(file);
  const { width: W, height: H } = o;
  if (!(Number.isInteger(W) && Number.isInteger(H) && W > 0 && H > 0)) {
    throw new RangeError(`decodeFrames: size must be positive integers, got ${W}x${H}`);
  }
  const timeoutMs = o.timeoutMs ?? 60_000;
  const filters = [...(o.fps ? [`fps=${o.fps}`] : []), `scale=${W}:${H}:flags=bicubic`];
  const args = ['-nostdin', '-v', 'error', '-threads', String(o.threads ?? 0)];
  if (o.start) args.push('-ss', String(o.start));
  args.push('-i', file, '-map', '0:v:0', '-an', '-sn', '-vf', filters.join(','), '-pix_fmt', 'rgb24', '-f', 'rawvideo');
  if (o.maxFrames !== undefined) args.push('-frames:v', String(o.maxFrames));
  args.push('pipe:1');

  const frameBytes = W * H * 3;
  const want = frameBytes * Math.max(1, Math.min(o.maxFrames ?? o.expectFrames ?? 16, 4096));
  let buf = o.buffer && o.buffer.length >= want ? o.buffer : new Uint8Array(want);
  let used = 0;
  const child = spawnChild(binaries().ffmpeg, args, false);
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
      if (used + chunk.length > buf.length) {
        const grown = new Uint8Array(Math.max(buf.length * 2, used + chunk.length));
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
  if (stalled) throw new UserError(file, `decoding stalled: no output for ${timeoutMs / 1000} s (ffmpeg killed)`);
  if (exit.code !== 0) {
    const msg = firstError(stderr, file);
    if (/Decoder \(codec .*\) not found/.test(msg)) throw new UserError(file, `unsupported codec: ${msg}`);
    throw new UserError(file, `decoding failed (corrupt or truncated): ${msg}`);
  }
  const frames = Math.floor(used / frameBytes);
  if (frames === 0) throw new UserError(file, `no frames decoded: ${firstError(stderr, file)}`);
  const e = o.expectFrames;
  if (e !== undefined && Number.isFinite(e) && frames < 0.9 * e - 1) {
    throw new UserError(file, `truncated: decoded ${frames} of ${e} frames`, firstError(stderr, file));
  }
  const n = frames * frameBytes;
  const data = buf === o.buffer || buf.length === n ? buf.subarray(0, n) : buf.slice(0, n);
  return { data, frames, height: H, width: W };
}
