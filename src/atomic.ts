// Atomic file writes: a reader sees the old file or the new one, never a partial one. Every writer that goes through
// a temporary sibling names it with tempPath(), so that removeStaleTemp() can find what a killed writer left.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsUserError } from './fs-errors.ts';

/** A temporary sibling of `path` for this process: `.<name>.<pid>.<base-36 time>.tmp`. */
export const tempPath = (path: string): string => join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);

/**
 * Removes what writers killed mid-write left in `dir`: the tempPath() siblings (and the `.old` one of an artifacts
 * build) of the names matching `names` (anchored). Only safe where no other writer can be at work (a run under its lock).
 * Returns the names removed.
 */
export function removeStaleTemp(dir: string, names: RegExp): string[] {
  // Also `.<name>.<pid>.tmp`, the name some writers used before tempPath().
  const pattern = new RegExp(`^\\.(?:${names.source})\\.\\d+(?:\\.[0-9a-z]+)?\\.tmp(?:\\.old)?$`);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const stale = entries.filter((f) => pattern.test(f));
  for (const f of stale) rmSync(join(dir, f), { recursive: true, force: true });
  return stale;
}

/**
 * Writes `data` to `path` through a temp file in the same directory, fsync'd, then renamed over `path`. A disk full,
 * read-only or permission error is a UserError naming `path` (not the temp file); the old file is then unchanged.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  try {
    writeThroughTemp(path, data);
  } catch (e) {
    const u = fsUserError(e, path);
    throw u ? u.withHint('any earlier version of the file is intact') : e;
  }
}

function writeThroughTemp(path: string, data: string | Uint8Array): void {
  const tmp = tempPath(path);
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < bytes.byteLength) off += writeSync(fd, bytes, off, bytes.byteLength - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dirname(path));
}

/** Makes the rename durable; some file systems refuse fsync on a directory, which is harmless here. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

