// Turns a parsed dataset layout into a store: bounded parallel decode, serialised fsynced appends, a report line per
// unreadable video, resumable (done ids are skipped), and `--shard i/n` selecting every n-th video from the i-th.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { UserError } from '../errors.ts';
import { decodeFrames, displaySize, probe } from './ffmpeg.ts';
import type { Entry, Layout } from './layouts/types.ts';
import { StoreWriter, writeJsonAtomic, type VideoRecord } from './store.ts';

export type SizeSpec = { kind: 'native' } | { kind: 'short'; side: number } | { kind: 'exact'; width: number; height: number };

export interface PrepareOptions {
  out: string;
  size: SizeSpec;
  fps?: number;
  jobs: number;
  shard?: { index: number; count: number };
  shardBytes: number;
  verify: boolean;
  timeoutMs: number;
  progress: boolean;
}

export interface Failure {
  id: string;
  src: string;
  error: string;
}

export interface Summary {
  dataset: string;
  shard: string | null;
  classes: number;
  selected: number;
  done: number;
  alreadyDone: number;
  preparedNow: number;
  failed: number;
  droppedOnResume: number;
  splits: Record<string, { videos: number; frames: number; bytes: number }>;
  options: { size: SizeSpec; fps: number | null };
}

/** (width, height) of the stored frames for a displayed size (w, h). */
export function outputSize(size: SizeSpec, w: number, h: number): { width: number; height: number } {
  if (size.kind === 'exact') return { width: size.width, height: size.height };
  if (size.kind === 'native') return { width: w, height: h };
  const s = size.side;
  return w <= h ? { width: s, height: Math.max(1, Math.round((h * s) / w)) } : { width: Math.max(1, Math.round((w * s) / h)), height: s };
}

export const shardTag = (shard?: { index: number; count: number }): string => (shard ? `-${shard.index}of${shard.count}` : '');

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

/** One decode buffer per parallel job, reused across its videos: fresh memory costs a page fault per 4 KiB written. */
type Scratch = { buf: Uint8Array };

async function prepareOne(e: Entry, o: PrepareOptions, scratch: Scratch): Promise<{ meta: Omit<VideoRecord, 'shard' | 'offset' | 'bytes' | 'crc'>; data: Uint8Array }> {
  const p = await probe(e.src, o.timeoutMs);
  const { width, height } = outputSize(o.size, displaySize(p).width, displaySize(p).height);
  const still = p.frames === 1 && !Number.isFinite(p.duration);
  const fps = still ? undefined : o.fps;
  const f = await decodeFrames(e.src, { width, height, fps, timeoutMs: o.timeoutMs, expectSeconds: p.duration, threads: 1, buffer: scratch.buf });
  if (f.data.buffer.byteLength > scratch.buf.length) scratch.buf = new Uint8Array(f.data.buffer);
  // The effective rate of the stored frames: the container's rate for a constant-rate video, lower where frames are missing.
  const stored = still || !(f.seconds > 0) ? { fps: null, seconds: null } : { fps: round6(f.frames / f.seconds), seconds: round6(f.seconds) };
  return { meta: { id: e.id, label: e.label, split: e.split, frames: f.frames, height, width, ...stored, src: e.src }, data: f.data };
}

/** Prepares `layout` into `o.out`; returns the summary (also written as summary<tag>.json). */
export async function prepare(dataset: string, layout: Layout, o: PrepareOptions, log: (line: string) => void = () => {}): Promise<Summary> {
  mkdirSync(o.out, { recursive: true });
  const classesFile = join(o.out, 'classes.json');
  if (existsSync(classesFile)) {
    const old = readFileSync(classesFile, 'utf8');
    if (JSON.stringify(JSON.parse(old)) !== JSON.stringify(layout.classes)) {
      throw new UserError(classesFile, 'the store in --out was prepared with another class list', 'use a new --out for another dataset');
    }
  } else writeJsonAtomic(classesFile, layout.classes);

  const tag = shardTag(o.shard);
  const ids = new Set<string>();
  for (const e of layout.entries) {
    if (ids.has(e.id)) throw new UserError(e.src, `duplicate video id "${e.id}"`, 'every video of a dataset needs a unique id');
    ids.add(e.id);
  }
  const selected = o.shard ? layout.entries.filter((_, k) => k % o.shard!.count === o.shard!.index) : layout.entries;
  // What the layout could not read (dangling links, loops, ...) is reported once, by the shard k mod n = i.
  const skipped = o.shard ? layout.skipped.filter((_, k) => k % o.shard!.count === o.shard!.index) : layout.skipped;
  const writer = new StoreWriter({ dir: o.out, tag, shardBytes: o.shardBytes }, o.verify);
  const alreadyDone = selected.filter((e) => writer.done.has(e.id)).length;
  const todo = selected.filter((e) => !writer.done.has(e.id));
  if (writer.droppedOnResume > 0) log(`${writer.droppedOnResume} indexed videos failed verification and will be prepared again`);

  const reportFd = openSync(join(o.out, `report${tag}.jsonl`), 'w');
  for (const s of skipped) {
    const failure: Failure = { id: s.id, src: s.src, error: s.error };
    writeSync(reportFd, `${JSON.stringify(failure)}\n`);
    log(`skipped ${s.error}`);
  }
  const bar = o.progress
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: 'prepare {bar} {percentage}% | {value}/{total} videos | {failed} failed | ETA {eta_formatted}', etaBuffer: 50 },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(todo.length, 0, { failed: skipped.length });
  const failures: Failure[] = [];
  let next = 0;
  const worker = async () => {
    const scratch: Scratch = { buf: new Uint8Array(0) };
    while (next < todo.length) {
      const e = todo[next++]!;
      try {
        const { meta, data } = await prepareOne(e, o, scratch);
        writer.add(meta, data);
      } catch (err) {
        const error = err instanceof UserError ? err.message : `${e.src}: unexpected error: ${(err as Error).message}`;
        const failure: Failure = { id: e.id, src: e.src, error };
        failures.push(failure);
        writeSync(reportFd, `${JSON.stringify(failure)}\n`);
        if (!bar) log(`skipped ${error}`);
      }
      bar?.increment(1, { failed: skipped.length + failures.length });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.jobs, todo.length) }, worker));
  } finally {
    bar?.stop();
    if (bar) for (const f of failures) log(`skipped ${f.error}`);
    closeSync(reportFd);
    writer.close();
  }

  const splits: Summary['splits'] = {};
  for (const r of writer.done.values()) {
    const s = (splits[r.split] ??= { videos: 0, frames: 0, bytes: 0 });
    s.videos++;
    s.frames += r.frames;
    s.bytes += r.bytes;
  }
  const failed = skipped.length + failures.length;
  const summary: Summary = {
    dataset,
    shard: o.shard ? `${o.shard.index}/${o.shard.count}` : null,
    classes: layout.classes.length,
    selected: selected.length + skipped.length,
    done: writer.done.size,
    alreadyDone,
    preparedNow: todo.length - failures.length,
    failed,
    droppedOnResume: writer.droppedOnResume,
    splits,
    options: { size: o.size, fps: o.fps ?? null },
  };
  writeJsonAtomic(join(o.out, `summary${tag}.json`), summary);
  return summary;
}
