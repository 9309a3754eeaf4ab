// The page's view of the site's sample store (vhssl's raw format, src/data/store.ts): index.jsonl, classes.json and
// the shard files, fetched over HTTP to draw sample videos. Videos are indexed as the worker indexes them: video i of
// a split is the i-th record of that split in index.jsonl order.
import type { VideoRecord } from '../../data/store.ts';

export type Split = 'train' | 'test';

/** One line of index.jsonl: the fields the page reads. */
export type StoreRecord = Pick<VideoRecord, 'id' | 'label' | 'split' | 'frames' | 'height' | 'width' | 'fps' | 'shard' | 'offset' | 'bytes'>;

export interface SampleVideo {
  record: StoreRecord;
  /** (count, height, width, 3) uint8 rgb */
  frames: Uint8Array;
  count: number;
  height: number;
  width: number;
}

async function fetchOk(url: URL): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status} ${res.statusText}`);
  return res;
}

function parseIndex(url: URL, text: string): StoreRecord[] {
  const out: StoreRecord[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let r: StoreRecord;
    try {
      r = JSON.parse(line) as StoreRecord;
    } catch {
      throw new Error(`${url.href}:${i + 1}: not a JSON line`);
    }
    for (const key of ['frames', 'height', 'width', 'offset', 'bytes'] as const) {
      if (!Number.isInteger(r[key]) || r[key] < 0) throw new Error(`${url.href}:${i + 1}: ${key} should be a whole number, got ${JSON.stringify(r[key])}`);
    }
    if (r.bytes !== r.frames * r.height * r.width * 3) throw new Error(`${url.href}:${i + 1}: ${r.bytes} bytes, expected frames·height·width·3 = ${r.frames * r.height * r.width * 3}`);
    out.push(r);
  }
  return out;
}

export class SampleStore {
  private readonly shards = new Map<string, Promise<ArrayBuffer>>();

  private constructor(
    /** the store's folder URL, ending in '/' */
    readonly root: URL,
    readonly records: readonly StoreRecord[],
    readonly classes: readonly string[],
  ) {}

  /** Reads `root`/index.jsonl and `root`/classes.json; shards are fetched when a video is first asked for. */
  static async open(root: URL): Promise<SampleStore> {
    const indexUrl = new URL('index.jsonl', root);
    const classesUrl = new URL('classes.json', root);
    const [index, classes] = await Promise.all([
      fetchOk(indexUrl).then(async (r) => parseIndex(indexUrl, await r.text())),
      fetchOk(classesUrl).then(async (r) => (await r.json()) as unknown),
    ]);
    if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'string')) throw new Error(`${classesUrl.href}: expected an array of class names`);
    return new SampleStore(root, index, classes);
  }

  /** The split's records in index.jsonl order. */
  split(split: Split): StoreRecord[] {
    return this.records.filter((r) => r.split === split);
  }

  className(label: number): string {
    return this.classes[label] ?? (label < 0 ? 'unlabelled' : `class ${label}`);
  }

  /** Video `i` of `split`, all its frames. */
  async video(split: Split, i: number): Promise<SampleVideo> {
    const records = this.split(split);
    const record = records[i];
    if (!record) throw new Error(`${this.root.href}: no ${split} video ${i} (the split has ${records.length})`);
    let shard = this.shards.get(record.shard);
    if (!shard) {
      const url = new URL(record.shard, this.root);
      shard = fetchOk(url).then((r) => r.arrayBuffer());
      shard.catch(() => this.shards.delete(record.shard));
      this.shards.set(record.shard, shard);
    }
    const bytes = await shard;
    if (record.offset + record.bytes > bytes.byteLength) throw new Error(`${new URL(record.shard, this.root).href}: ${bytes.byteLength} bytes, but ${split} video ${i} (${record.id}) ends at ${record.offset + record.bytes}`);
    return { record, frames: new Uint8Array(bytes, record.offset, record.bytes), count: record.frames, height: record.height, width: record.width };
  }
}
