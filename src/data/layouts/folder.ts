// Class sub-folders: --src/<class>/<file>, or --src/<split>/<class>/<file> when --src holds split folders (train,
// val, test, ...). Classes are the sorted folder names (taken from all splits). ImageNet is this layout with images.
// What cannot be read in the folders walked (a dangling link, a loop, an unreadable folder) is skipped and reported.
import { basename, join, relative } from 'node:path';
import { UserError } from '../../errors.ts';
import { ancestorsOf, byId, list, walk, type Ancestors, type Entry, type Layout, type Problem } from './types.ts';

const SPLITS = new Set(['train', 'val', 'validation', 'test']);

interface Dir {
  name: string;
  path: string;
  ancestors: Ancestors;
}

/** The sub-directories of `dir`, sorted; what cannot be read is added to `problems` (with the entry's name). */
function subdirs(dir: Dir, problems: (Problem & { name: string })[]): Dir[] {
  const out: Dir[] = [];
  for (const it of list(dir.path, dir.ancestors)) {
    if (it.kind === 'dir') out.push(it);
    else if (it.kind === 'problem') problems.push({ name: it.name, src: it.path, error: it.error });
  }
  return out;
}

export function folder(src: string, ext: RegExp, splits?: string[]): Layout {
  const root: Dir = { name: basename(src), path: src, ancestors: ancestorsOf(src) };
  const keep = (split: string) => !splits || splits.includes(split);
  const topProblems: (Problem & { name: string })[] = [];
  const top = subdirs(root, topProblems);
  if (top.length === 0) {
    const why = topProblems[0] ? `; ${topProblems.length} unreadable, e.g. ${topProblems[0].error}` : '';
    throw new UserError(src, `no class sub-folders found${why}`, 'expected <src>/<class>/<file> or <src>/<split>/<class>/<file>');
  }
  const splitDirs = top.filter((d) => SPLITS.has(d.name));
  const split = (name: string) => (name === 'validation' ? 'val' : name);
  const problems: Problem[] = [];
  const parts: { split: string; classes: Dir[] }[] = [];
  if (splitDirs.length === 0) {
    problems.push(...topProblems);
    parts.push({ split: 'train', classes: top });
  } else {
    problems.push(...topProblems.filter((p) => SPLITS.has(p.name) && keep(split(p.name))));
    for (const d of splitDirs) {
      const found: (Problem & { name: string })[] = [];
      parts.push({ split: split(d.name), classes: subdirs(d, found) });
      if (keep(split(d.name))) problems.push(...found);
    }
  }
  const classes = [...new Set(parts.flatMap((p) => p.classes.map((c) => c.name)))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const entries: Entry[] = [];
  for (const { split, classes: dirs } of parts.filter((p) => keep(p.split))) {
    for (const cls of dirs) {
      const found = walk(cls.path, ext, cls.ancestors);
      problems.push(...found.problems);
      for (const rel of found.files) {
        entries.push({ id: `${cls.name}/${rel.replace(/\.[^.]+$/, '')}`, src: join(cls.path, rel), label: index.get(cls.name)!, split });
      }
    }
  }
  if (entries.length === 0 && problems.length === 0) throw new UserError(src, `no files matching ${ext.source} in the class folders`);
  const skipped = problems.map((p) => ({ id: relative(src, p.src), src: p.src, error: p.error }));
  return { classes, entries: entries.sort(byId), skipped };
}
