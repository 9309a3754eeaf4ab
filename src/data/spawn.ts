// Spawning ffmpeg and ffprobe without forking this process, and without a place where their output could be lost.
//
// Every fork() of this process write-protects all of its pages (copy-on-write), and each page this process writes
// afterwards takes a fault. Decoding spawns ffmpeg once per video and then writes the whole (T, H, W, 3) output, so
// spawning from here costs one fault per 4 KiB of frames plus the Node heap, per video. On the 2-core VM of
// bench/data.ts a fault costs ~16 µs (57 MB after a spawn: ~240 ms to write vs ~3 ms without), which made our decode
// 3× slower than ffmpeg itself. So children are spawned by a small helper process (spawn-child.cjs, started once,
// lazily), and this process never forks.
//
// A child's byte stream comes straight to this process: for each call this process listens on a Unix socket in a
// private (0700) directory, the helper connects to it and gives its end to the child as stdout, and this process reads
// the accepted connection until the end. No other process ever reads the stream. (An earlier design handed the
// child's stdout pipe from the helper to this process over IPC; Node queues such handles while one is in flight, and
// the helper's copy read and dropped the first bytes of the queued ones, losing frames under load.)
//
// Where the helper cannot be used (Windows, a socket path too long), children are spawned directly: the same
// behaviour, slower. VHSSL_FFMPEG_DIRECT=1 forces that.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

const require = createRequire(import.meta.url);
const CHILD_SCRIPT = require.resolve('./spawn-child.cjs');

/** ffmpeg's `-progress` report at the end of a run. */
export interface Progress {
  /** frames written to the output */
  frames: number;
  /** the output's end time in seconds (last frame's time plus its duration, from the first frame) */
  seconds: number;
  /** `progress=end` was reported: the whole input was processed */
  complete: boolean;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the child's stdout in text mode, else '' */
  stdout: string;
  /** the first 64 KiB of stderr */
  stderr: string;
  /** a spawn failure (binary missing, …) */
  error?: string;
  /** with `progress`: ffmpeg's last `-progress` values from fd 3 */
  progress?: Progress;
}

export interface SpawnOptions {
  /** 'text': stdout is collected into `Exit.stdout`; 'stream': stdout is a byte stream to read. */
  stdout: 'text' | 'stream';
  /** read ffmpeg's `-progress pipe:3` report (pass those arguments too). */
  progress?: boolean;
}

export interface Spawned {
  /** the child's stdout bytes ('stream' mode); undefined when the child never started or in 'text' mode */
  stdout: Promise<Readable | undefined>;
  /** resolves after the child exited and its stderr (and progress) closed; the stdout stream may still be draining */
  exited: Promise<Exit>;
  kill(): void;
}

type Launch = (bin: string, args: string[], o: { progress?: boolean }, stdout: 'text' | 'pipe', done: (e: Exit) => void) => ChildProcess | undefined;
const { launch } = require(CHILD_SCRIPT) as { launch: Launch };

type ExitMessage = { id: number; ev: 'exit'; connected: boolean } & Exit;

/** Longest Unix socket path: sun_path holds 108 bytes on Linux, 104 on macOS, with the terminating NUL. */
const MAX_SOCKET_PATH = 100;

class Helper {
  private proc: ChildProcess | undefined;
  private calls = new Map<number, (e: ExitMessage) => void>();
  private nextId = 0;
  private dir: string | undefined;

  /** Call `id`'s socket, in a private directory made on first use and removed when this process exits. */
  socketPath(id: number): string {
    if (!this.dir) {
      const dir = mkdtempSync(join(tmpdir(), 'vhssl-spawn-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      this.dir = dir;
    }
    return join(this.dir, `${id}.sock`);
  }

  private start(): ChildProcess {
    this.socketPath(0);
    // The helper removes the socket directory when this process is gone, also after a SIGKILL of this process.
    const proc = spawn(process.execPath, [CHILD_SCRIPT, this.dir!], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    proc.on('message', (m: ExitMessage) => {
      const done = this.calls.get(m.id);
      if (!done) return;
      this.forget(m.id);
      done(m);
    });
    const fail = () => {
      if (this.proc !== proc) return;
      this.proc = undefined;
      const calls = [...this.calls.values()];
      this.calls.clear();
      for (const done of calls) done({ id: -1, ev: 'exit', connected: false, code: null, signal: null, stdout: '', stderr: '', error: 'the spawn helper process died' });
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

  /** Call `id` is over: with no call left, the helper no longer keeps the event loop alive. */
  private forget(id: number): void {
    this.calls.delete(id);
    if (this.calls.size === 0) this.idle();
  }

  private request(message: object, done: (e: ExitMessage) => void): { id: number; send: (extra?: object) => void } {
    const proc = this.proc ?? this.start();
    if (this.calls.size === 0) {
      proc.ref();
      (proc.channel as { ref?: () => void } | undefined)?.ref?.();
    }
    const id = this.nextId++;
    this.calls.set(id, done);
    return { id, send: (extra) => proc.send({ ...message, ...extra, id }) };
  }

  private kill(id: number): void {
    if (this.calls.has(id) && this.proc?.connected) this.proc.send({ op: 'kill', id });
  }

  spawn(bin: string, args: string[], o: SpawnOptions): Spawned {
    if (o.stdout === 'text') {
      let id = -1;
      const exited = new Promise<Exit>((resolve) => {
        const r = this.request({ op: 'spawn', bin, args, progress: o.progress }, resolve);
        id = r.id;
        r.send({ stdout: 'text' });
      });
      return { stdout: Promise.resolve(undefined), exited, kill: () => this.kill(id) };
    }
    // One listening socket per call: its only connection is this call's child, so nothing needs pairing.
    const server = createServer();
    let onStdout!: (s: Socket | undefined) => void;
    const stdout = new Promise<Socket | undefined>((resolve) => (onStdout = resolve));
    server.once('connection', (socket) => {
      server.close();
      onStdout(socket);
    });
    let id = -1;
    const exited = new Promise<Exit>((resolve) => {
      const r = this.request({ op: 'spawn', bin, args, progress: o.progress }, (e) => {
        // A child that connected is in the listen queue even when its exit is read first: wait for the connection.
        if (!e.connected) {
          server.close();
          onStdout(undefined);
        }
        resolve(e);
      });
      id = r.id;
      const path = this.socketPath(id);
      server.on('error', (err) => {
        this.forget(id);
        onStdout(undefined);
        resolve({ code: null, signal: null, stdout: '', stderr: '', error: `cannot listen on ${path}: ${err.message}` });
      });
      server.listen(path, () => r.send({ stdout: path }));
    });
    return { stdout, exited, kill: () => this.kill(id) };
  }
}

let helper: Helper | null | undefined;

/** Direct spawn from this process: the fallback, and VHSSL_FFMPEG_DIRECT=1. */
function spawnDirect(bin: string, args: string[], o: SpawnOptions): Spawned {
  let child: ChildProcess | undefined;
  const exited = new Promise<Exit>((resolve) => (child = launch(bin, args, o, o.stdout === 'text' ? 'text' : 'pipe', resolve)));
  const stdout = o.stdout === 'stream' ? child?.stdout ?? undefined : undefined;
  return { stdout: Promise.resolve(stdout), exited, kill: () => child?.kill('SIGKILL') };
}

/** The helper, or undefined where children are spawned directly. */
function chooseHelper(): Helper | undefined {
  if (process.env.VHSSL_FFMPEG_DIRECT === '1' || process.platform === 'win32') return undefined;
  const h = new Helper();
  return h.socketPath(Number.MAX_SAFE_INTEGER).length <= MAX_SOCKET_PATH ? h : undefined;
}

/** Starts `bin args` without forking this process (see above). */
export function spawnChild(bin: string, args: string[], o: SpawnOptions): Spawned {
  helper ??= chooseHelper() ?? null;
  return helper ? helper.spawn(bin, args, o) : spawnDirect(bin, args, o);
}

/** Runs `bin args` to completion with stdout as text; the child is killed after `timeoutMs` (then `code` is null). */
export async function runText(bin: string, args: string[], timeoutMs: number): Promise<Exit> {
  const child = spawnChild(bin, args, { stdout: 'text' });
  const timer = setTimeout(() => child.kill(), timeoutMs);
  try {
    const e = await child.exited;
    if (e.error !== undefined) throw new Error(`${bin}: ${e.error}`);
    return e;
  } finally {
    clearTimeout(timer);
  }
}
