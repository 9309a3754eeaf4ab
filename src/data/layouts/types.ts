// What every dataset layout parser returns: the videos to prepare, in a deterministic order, and the class names.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Entry {
  /** unique within the dataset; the store's key for resuming. */
  id: string;
  /** absolute path of the video or image. */
  src: string;
  /** index into `classes`; −1 when unlabeled (e.g. a test split without answers). */
  label: number;
  split: string;
}

export interface Layout {
  classes: string[];
  entries: Entry[];
}

export const VIDEO_EXT = /\.(mp4|avi|webm|mkv|mov|m4v|mpg|mpeg|flv|wmv|3gp|ogv)$/i;
export const IMAGE_EXT = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

/** Files under `root` (recursively) whose name matches `ext`, as paths relative to root, sorted. */
export function walk(root: string, ext: RegExp): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = statSync(path);
      if (st.isDirectory()) visit(path);
      else if (ext.test(name)) out.push(relative(root, path));
    }
  };
  visit(root);
  return out;
}

export const byId = (a: Entry, b: Entry): number => (a.split < b.split ? -1 : a.split > b.split ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Splits a CSV line on commas outside double quotes; quotes are removed. */
export function csvFields(line: string, sep = ','): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') {
      if (quoted && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (c === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}
