// Output paths checked before anything is written: a directory that can be made (or is there and writable), a file
// that is not a directory and whose folder takes new files. The nearest existing ancestor is found first and really
// written to (a temp directory made and removed): `mkdir -p` is never asked to create what cannot be created (Node 20
// loops forever on `/proc/x`), and root, for whom permission bits say nothing, still learns of read-only and pseudo
// file systems.
import { lstatSync, mkdtempSync, rmdirSync, statSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from './errors.ts';
import { describeFsError, fsUserError } from './fs-errors.ts';

/** stat (or lstat), undefined when nothing is there, also when a part of the path is a file. */
function statOrNone(path: string, shown: string, link = false): Stats | undefined {
  try {
    return (link ? lstatSync : statSync)(path, { throwIfNoEntry: false });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw fsUserError(e, shown) ?? e;
  }
}

/** The nearest path at or above `path` that exists, with its stat. */
function nearestExisting(path: string): { at: string; stat: Stats } {
  let at = resolve(path);
  for (;;) {
    const stat = statOrNone(at, path);
    if (stat) return { at, stat };
    if (statOrNone(at, path, true)) throw new UserError(path, `${at} is a broken symbolic link`, 'remove it or choose another path');
    at = dirname(at);
  }
}

/** Creates and removes a temp directory in `dir`: undefined when that works, else why not. */
function probeWrite(dir: string): { code: string; what: string; hint?: string } | undefined {
  try {
    rmdirSync(mkdtempSync(join(dir, '.vhssl-write-test-')));
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    // Only a pseudo file system (/proc) answers ENOENT for a new entry in a directory that exists.
    return describeFsError(e) ?? { code, what: code === 'ENOENT' ? 'this file system takes no new files' : (e as Error).message };
  }
}

function checkPath(path: string, kind: 'directory' | 'file', option: string, hint?: string): void {
  const { at, stat } = nearestExisting(path);
  const exists = at === resolve(path);
  if (exists && kind === 'directory' && !stat.isDirectory()) throw new UserError(path, 'exists and is not a directory', hint ?? `${option} takes a directory; choose another path`);
  if (exists && kind === 'file' && stat.isDirectory()) throw new UserError(path, 'is a directory', hint ?? `${option} takes the path of a file to write`);
  if (!exists && !stat.isDirectory()) throw new UserError(path, `cannot create it: ${at} is a file, not a directory`, hint ?? `choose another ${option}`);
  // The directory that must take new entries: an existing file is replaced through a temp file beside it.
  const dir = exists && kind === 'file' ? dirname(at) : at;
  const failed = probeWrite(dir);
  if (failed) {
    const where = !exists ? `cannot create it in ${dir}` : kind === 'directory' ? 'cannot write in it' : `cannot write in ${dir}`;
    const full = failed.code === 'ENOSPC' || failed.code === 'EDQUOT';
    throw new UserError(path, `${where}: ${failed.code}, ${failed.what}`, full ? failed.hint : (hint ?? `choose another ${option}, somewhere you can write`));
  }
}

/**
 * `dir` is a writable directory, or can be created with `mkdir -p`; a one-line UserError naming `option` otherwise
 * (`hint`, when given, says what to do instead of "choose another option").
 */
export function checkOutputDir(dir: string, option: string, hint?: string): void {
  checkPath(dir, 'directory', option, hint);
}

/** `file` can be written: it is not a directory, and its folder is writable or can be created. */
export function checkOutputFile(file: string, option: string, hint?: string): void {
  checkPath(file, 'file', option, hint);
}
