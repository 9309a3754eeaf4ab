// The prepared-video store: uint8 (T, H, W, 3) frames appended to ~256 MB shard files, one JSON line per video.
//
// <out>/shard<tag>-00000.bin   raw rgb24 bytes; each video contiguous at `offset`, frame t at offset + t·H·W·3
// <out>/index<tag>.jsonl       one VideoRecord per line, appended only after the video's bytes are fsynced
// <out>/classes.json           class names; label i is classes[i]
// <out>/summary<tag>.json      counts per split, sizes, options of the run
// <out>/report<tag>.jsonl      one line per unreadable video of the last run ({ id, src, error })
// <tag> is '' for a whole run and `-<i>of<n>` for `--shard i/n`, so array jobs can share one directory.
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readdirSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '../atomic.ts';
import { UserError } from '../errors.ts';

export interface VideoRecord {
  id: string;
  /** class index into classes.json; −1 when the split has no labels. */
  label: number;
  split: string;
  frames: number;
  height: number;
  width: number;
  /**
   * Frames per second of the stored frames: frames / seconds. Without `--fps` the decoded frames are stored as they
   * are, so a video with missing or variable-rate frames has a lower rate than its container claims. null for stills.
   */
  fps: number | null;
  /** seconds the stored frames cover (the last frame's time plus its duration); null for stills. Absent in old stores. */
  seconds?: number | null;
  shard: string;
  offset: number;
  bytes: number;
  /** CRC-32 of the bytes, checked by `prepare --verify`. */
  crc: number;
  src: string;
}

export const recordBytes = (r: Pick<VideoRecord, 'frames' | 'height' | 'width'>): number => r.frames * r.height * r.width * 3;

/** Parses JSON lines; a torn last line (a write cut by a kill) is ignored, a torn line elsewhere is an error. */
function readJsonLines<T>(file: string): T[] {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const out: T[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      if (i === lines.length - 1) break;
      throw new UserError(`${file}:${i + 1}`, 'unreadable index line', 'the store is damaged; re-run prepare into a new --out');
    }
  }
  return out;
}

export const writeJsonAtomic = (file: string, value: unknown): void => writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);

export interface WriterOptions {
  dir: string;
  tag: string;
  shardBytes: number;
}

/** Appends videos; `add` returns once the bytes and then the index line are on disk. Not re-entrant: serialise calls. */
export class StoreWriter {
  readonly done = new Map<string, VideoRecord>();
  private shardNo = 0;
  private shardFd = -1;
  private shardSize = 0;
  private indexFd: number;

  /**
   * Opens (or resumes) the store. Records whose bytes are missing are dropped; bytes past the last record of each
   * shard (a write cut by a kill) are truncated. With `verify`, every record's CRC is recomputed too.
   */
  constructor(private readonly o: WriterOptions, verify = false) {
    const indexFile = join(o.dir, `index${o.tag}.jsonl`);
    const ends = new Map<string, number>();
    const kept: VideoRecord[] = [];
    let dropped = 0;
    if (existsSync(indexFile)) {
      for (const r of readJsonLines<VideoRecord>(indexFile)) {
        const path = join(o.dir, r.shard);
        const ok = existsSync(path) && statSync(path).size >= r.offset + r.bytes && (!verify || readCrc(path, r) === r.crc);
        if (!ok) {
          dropped++;
          continue;
        }
        kept.push(r);
        this.done.set(r.id, r);
        ends.set(r.shard, Math.max(ends.get(r.shard) ?? 0, r.offset + r.bytes));
      }
    }
    const text = kept.map((r) => `${JSON.stringify(r)}\n`).join('');
    if (dropped > 0 || (existsSync(indexFile) && readFileSync(indexFile, 'utf8') !== text)) {
      writeFileAtomic(indexFile, text);
    }
    this.droppedOnResume = dropped;
    this.indexFd = openSync(indexFile, 'a');
    for (const name of shardFiles(o.dir, o.tag)) {
      const n = Number(/-(\d+)\.bin$/.exec(name)![1]);
      const end = ends.get(name) ?? 0;
      const fd = openSync(join(o.dir, name), 'r+');
      if (statSync(join(o.dir, name)).size > end) ftruncateSync(fd, end);
      closeSync(fd);
      this.shardNo = Math.max(this.shardNo, n);
    }
    this.openShard(this.shardNo);
  }

  readonly droppedOnResume: number;

  private shardName(n: number): string {
    return `shard${this.o.tag}-${String(n).padStart(5, '0')}.bin`;
  }

  private openShard(n: number): void {
    if (this.shardFd >= 0) closeSync(this.shardFd);
    this.shardNo = n;
    const path = join(this.o.dir, this.shardName(n));
    this.shardFd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    this.shardSize = statSync(path).size;
  }

  add(meta: Omit<VideoRecord, 'shard' | 'offset' | 'bytes' | 'crc'>, data: Uint8Array): VideoRecord {
    const bytes = recordBytes(meta);
    if (data.length !== bytes) throw new RangeError(`StoreWriter.add(${meta.id}): ${data.length} bytes, expected ${bytes}`);
    if (this.shardSize > 0 && this.shardSize + bytes > this.o.shardBytes) this.openShard(this.shardNo + 1);
    const offset = this.shardSize;
    let written = 0;
    while (written < bytes) written += writeSync(this.shardFd, data, written, bytes - written, offset + written);
    fsyncSync(this.shardFd);
    this.shardSize += bytes;
    const rec: VideoRecord = { ...meta, shard: this.shardName(this.shardNo), offset, bytes, crc: crc32(data) };
    writeSync(this.indexFd, `${JSON.stringify(rec)}\n`);
    fsyncSync(this.indexFd);
    this.done.set(rec.id, rec);
    return rec;
  }

  close(): void {
    if (this.shardFd >= 0) closeSync(this.shardFd);
    closeSync(this.indexFd);
    this.shardFd = -1;
  }
}

function readCrc(path: string, r: VideoRecord): number {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(r.bytes);
    readSync(fd, buf, 0, r.bytes, r.offset);
    return crc32(buf);
  } finally {
    closeSync(fd);
  }
}

function shardFiles(dir: string, tag: string): string[] {
  const re = new RegExp(`^shard${tag.replace(/[-]/g, '\\-')}-\\d{5}\\.bin$`);
  return readdirSync(dir).filter((f) => re.test(f)).sort();
}

/** A record and the store directory holding its shard. */
export type StoredVideo = VideoRecord & { dir: string };

/** Reads frames of stored videos by offset (pread on cached descriptors); no decoding. */
export class ShardFiles {
  private fds = new Map<string, number>();

  private fd(r: StoredVideo): number {
    const path = join(r.dir, r.shard);
    let fd = this.fds.get(path);
    if (fd === undefined) {
      fd = openSync(path, 'r');
      this.fds.set(path, fd);
    }
    return fd;
  }

  /** Reads frame `t` of a record into `dst` (H·W·3 bytes) by offset; no decoding. */
  readFrame(r: StoredVideo, t: number, dst: Uint8Array): void {
    const fb = r.height * r.width * 3;
    const n = readSync(this.fd(r), dst, 0, fb, r.offset + t * fb);
    if (n !== fb) throw new UserError(join(r.dir, r.shard), `short read of ${r.id} frame ${t}: ${n} of ${fb} bytes`);
  }

  /** All frames of a record, (T, H, W, 3). */
  readVideo(r: StoredVideo): Uint8Array {
    const buf = new Uint8Array(r.bytes);
    const n = readSync(this.fd(r), buf, 0, r.bytes, r.offset);
    if (n !== r.bytes) throw new UserError(join(r.dir, r.shard), `short read of ${r.id}: ${n} of ${r.bytes} bytes`);
    return buf;
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/** Every `index*.jsonl` of one or more store directories: the outputs of `--shard i/n` jobs read as one store. */
export class StoreReader extends ShardFiles {
  readonly records: StoredVideo[] = [];
  readonly classes: string[];

  constructor(dirs: string | string[]) {
    super();
    const list = typeof dirs === 'string' ? [dirs] : dirs;
    let classes: string[] | undefined;
    for (const dir of list) {
      if (!existsSync(dir)) throw new UserError(dir, 'no such store directory');
      const indexes = readdirSync(dir).filter((f) => /^index(-\d+of\d+)?\.jsonl$/.test(f)).sort();
      if (indexes.length === 0) throw new UserError(dir, 'not a prepared store (no index*.jsonl)', 'run `vhssl prepare` first');
      const cls = existsSync(join(dir, 'classes.json')) ? (JSON.parse(readFileSync(join(dir, 'classes.json'), 'utf8')) as string[]) : [];
      if (classes && JSON.stringify(classes) !== JSON.stringify(cls)) {
        throw new UserError(dir, 'classes.json differs from the other store directories');
      }
      classes = cls;
      for (const f of indexes) for (const r of readJsonLines<VideoRecord>(join(dir, f))) this.records.push({ ...r, dir });
    }
    this.records.sort((a, b) => (a.split < b.split ? -1 : a.split > b.split ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.classes = classes ?? [];
  }

  /** Records of one split (all when `split` is undefined), in a fixed order (by id). */
  split(split?: string): StoredVideo[] {
    return split === undefined ? this.records : this.records.filter((r) => r.split === split);
  }
}
