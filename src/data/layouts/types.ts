// What every dataset layout parser returns: the videos to prepare, in a deterministic order, the class names, and the
// paths under --src found unusable while reading it (reported by prepare, never decoded). Reading a tree never throws
// for one bad entry: a dangling link, a link loop or an unreadable directory is a problem, and the walk goes on.
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { UserError } from '../../errors.ts';

export interface Entry {
  /** unique within the dataset; the store's key for resuming. */
  id: string;
  /** absolute path of the video or image. */
  src: string;
  /** index into `classes`; −1 when unlabeled (e.g. a test split without answers). */
  label: number;
  split: string;
}

/** A path that cannot be read as what its place in the tree says it is; `error` is a UserError message naming it. */
export interface Problem {
  src: string;
  error: string;
}

/** A problem as prepare reports it: `id` is the listed video's id, or else the path relative to --src. */
export interface Skipped extends Problem {
  id: string;
}

export interface Layout {
  classes: string[];
  entries: Entry[];
  skipped: Skipped[];
}

export const VIDEO_EXT = /\.(mp4|avi|webm|mkv|mov|m4v|mpg|mpeg|flv|wmv|3gp|ogv)$/i;
export const IMAGE_EXT = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

/** What a walk keeps: a file name test (a RegExp, or several combined). */
export type NameTest = { test(name: string): boolean };

/** dev:ino → path of a directory and of every directory above it: a sub-directory found among them is a loop. */
export type Ancestors = ReadonlyMap<string, string>;

const inode = (st: Stats): string => `${st.dev}:${st.ino}`;

const message = (path: string, what: string, hint?: string): string => new UserError(path, what, hint).message;

/** `dir` (as named) and every real directory above it, up to /, so that a link to any of them is never walked. */
export function ancestorsOf(dir: string): Ancestors {
  const out = new Map<string, string>();
  for (let d = realpathSync(dir); ; d = dirname(d)) {
    out.set(inode(statSync(d)), out.size === 0 ? dir : d);
    if (dirname(d) === d) return out;
  }
}

export type Item =
  | { kind: 'file' | 'special'; name: string; path: string }
  | { kind: 'dir'; name: string; path: string; ancestors: Ancestors }
  | { kind: 'problem'; name: string; path: string; error: string };

/** Where the symbolic link `path` points; undefined when it is not a link. */
function linkTarget(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** Why `path`, listed by readdir, cannot be stat()ed (links followed). */
function unstatable(path: string, e: NodeJS.ErrnoException): string {
  const link = linkTarget(path);
  if (e.code === 'ENOENT' && link !== undefined) return message(path, `dangling symbolic link: its target "${link}" does not exist`);
  if (e.code === 'ENOENT') return message(path, 'vanished while --src was being read');
  if (e.code === 'ELOOP') return message(path, 'symbolic link loop: the link never resolves to a file (ELOOP)');
  if (e.code === 'EACCES' || e.code === 'EPERM') return message(path, `permission denied (${e.code})`);
  return message(path, `cannot be read: ${e.message}`);
}

/**
 * The entries of `dir` (whose `ancestors` include itself), sorted by name, links followed; never throws. A
 * sub-directory that is one of its ancestors again (a link to `..`, a bind mount) is a problem, not a directory.
 * An unreadable `dir` is one problem item with its own path.
 */
export function list(dir: string, ancestors: Ancestors): Item[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return [{ kind: 'problem', name: basename(dir), path: dir, error: message(dir, `unreadable directory: ${code}`, 'nothing below it is prepared') }];
  }
  return names.map((name): Item => {
    const path = join(dir, name);
    let st: Stats;
    try {
      st = statSync(path);
    } catch (e) {
      return { kind: 'problem', name, path, error: unstatable(path, e as NodeJS.ErrnoException) };
    }
    if (st.isFile()) return { kind: 'file', name, path };
    if (!st.isDirectory()) return { kind: 'special', name, path };
    const again = ancestors.get(inode(st));
    if (again !== undefined) return { kind: 'problem', name, path, error: message(path, `directory loop: leads back to ${again}, a directory above it`, 'not walked') };
    return { kind: 'dir', name, path, ancestors: new Map(ancestors).set(inode(st), path) };
  });
}

export interface Walk {
  /** files whose name passes the test, relative to the root, in depth-first sorted order. */
  files: string[];
  problems: Problem[];
}

/**
 * Files under `root` (recursively, links followed) whose name passes `test`, and the problems met: dangling links and
 * link loops (whatever their name: a lost folder has no extension), unreadable directories, and names that pass the
 * test but are directories (not walked) or devices.
 */
export function walk(root: string, test: NameTest, ancestors: Ancestors = ancestorsOf(root)): Walk {
  const out: Walk = { files: [], problems: [] };
  const visit = (dir: string, above: Ancestors) => {
    for (const it of list(dir, above)) {
      if (it.kind === 'problem') out.problems.push({ src: it.path, error: it.error });
      else if (it.kind === 'dir' && test.test(it.name)) out.problems.push({ src: it.path, error: message(it.path, 'is a directory, not a file', 'named like one; not walked') });
      else if (it.kind === 'dir') visit(it.path, it.ancestors);
      else if (!test.test(it.name)) continue;
      else if (it.kind === 'file') out.files.push(relative(root, it.path));
      else out.problems.push({ src: it.path, error: message(it.path, 'not a regular file (a FIFO, socket or device)') });
    }
  };
  visit(root, ancestors);
  return out;
}

/**
 * Walk problems as reported: a problem whose file name gives the id (`stem`) of a video the layout lists is that
 * video's failure, under its id (`claimed` holds those ids; the layout then lists no entry for them). Every other
 * problem is reported under its path relative to `root`.
 */
function skippedOf(root: string, problems: Problem[], stem: (src: string) => string | undefined, listed: ReadonlySet<string>): { skipped: Skipped[]; claimed: Map<string, Skipped> } {
  const claimed = new Map<string, Skipped>();
  const skipped: Skipped[] = [];
  for (const p of problems) {
    const id = stem(p.src);
    if (id !== undefined && listed.has(id) && !claimed.has(id)) claimed.set(id, { id, ...p });
    else skipped.push({ id: relative(root, p.src), ...p });
  }
  return { skipped, claimed };
}

/**
 * Entries for annotation rows whose videos are files anywhere under `root`, found by their file stem (`stem`, undefined
 * for files that are not videos of the layout): a row whose file is found only as an unreadable name is that row's one
 * problem (no entry); a row not found at all keeps `missing(row)` as its path, so the decoder reports it missing.
 */
export function listedEntries(root: string, walked: Walk, stem: (path: string) => string | undefined, rows: readonly Omit<Entry, 'src'>[], missing: (row: Omit<Entry, 'src'>) => string): Pick<Layout, 'entries' | 'skipped'> {
  const found = new Map<string, string>();
  for (const rel of walked.files) {
    const id = stem(rel);
    if (id !== undefined) found.set(id, join(root, rel));
  }
  const { skipped, claimed } = skippedOf(root, walked.problems, stem, new Set(rows.map((r) => r.id).filter((id) => !found.has(id))));
  const entries: Entry[] = [];
  const failed: Skipped[] = [];
  for (const r of rows) {
    const bad = claimed.get(r.id);
    if (bad) failed.push(bad);
    else entries.push({ ...r, src: found.get(r.id) ?? missing(r) });
  }
  return { entries: entries.sort(byId), skipped: [...skipped, ...failed] };
}

/** An annotation file's text; one that cannot be read stops the run with a UserError naming it. */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UserError(path, `unreadable annotation file (${code})`);
  }
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
