// Class sub-folders: --src/<class>/<file>, or --src/<split>/<class>/<file> when --src holds split folders (train,
// val, test, ...). Classes are the sorted folder names (taken from all splits). ImageNet is this layout with images.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../errors.ts';
import { byId, walk, type Entry, type Layout } from './types.ts';

const SPLITS = new Set(['train', 'val', 'validation', 'test']);

const subdirs = (dir: string) => readdirSync(dir).filter((n) => statSync(join(dir, n)).isDirectory()).sort();

export function folder(src: string, ext: RegExp, splits?: string[]): Layout {
  const top = subdirs(src);
  if (top.length === 0) throw new UserError(src, 'no class sub-folders found', 'expected <src>/<class>/<file> or <src>/<split>/<class>/<file>');
  const splitDirs = top.filter((d) => SPLITS.has(d));
  const parts: [string, string][] = splitDirs.length > 0 ? splitDirs.map((d) => [join(src, d), d === 'validation' ? 'val' : d]) : [[src, 'train']];
  const classes = [...new Set(parts.flatMap(([dir]) => subdirs(dir)))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const entries: Entry[] = [];
  for (const [dir, split] of parts) {
    if (splits && !splits.includes(split)) continue;
    for (const cls of subdirs(dir)) {
      for (const rel of walk(join(dir, cls), ext)) {
        entries.push({ id: `${cls}/${rel.replace(/\.[^.]+$/, '')}`, src: join(dir, cls, rel), label: index.get(cls)!, split });
      }
    }
  }
  if (entries.length === 0) throw new UserError(src, `no files matching ${ext.source} in the class folders`);
  return { classes, entries: entries.sort(byId) };
}
