// The one place that turns a file-system error (disk full, read-only, permission, a directory where a file goes...)
// into a one-line UserError naming the file and what to do. Errors of other codes (ENOENT: often a bug) pass through.
import { UserError } from './errors.ts';

const SPACE = 'free some space, or write to another disk';
const WRITABLE = 'check the permissions, or choose a location you can write to';

/** errno code → what it means, and what the user can do about it. */
const CODES: Record<string, { what: string; hint: string }> = {
  ENOSPC: { what: 'no space left on the device', hint: SPACE },
  EDQUOT: { what: 'disk quota exceeded', hint: SPACE },
  EFBIG: { what: 'file too large for this file system', hint: 'write to another file system' },
  EROFS: { what: 'read-only file system', hint: 'choose a location on a writable file system' },
  EACCES: { what: 'permission denied', hint: WRITABLE },
  EPERM: { what: 'operation not permitted', hint: WRITABLE },
  EISDIR: { what: 'it is a directory', hint: 'give the path of a file' },
  ENOTDIR: { what: 'a part of the path is a file, not a directory', hint: 'choose another path' },
  ENAMETOOLONG: { what: 'file name too long', hint: 'choose a shorter path' },
};

const VERBS: Record<string, string> = { mkdir: 'cannot create it', mkdtemp: 'cannot create it', open: 'cannot open it', rmdir: 'cannot remove it', unlink: 'cannot remove it' };

/** A file-system error of a known code as a UserError; `code` stays readable for callers that add a hint. */
export class FsError extends UserError {
  constructor(
    readonly code: string,
    where: string,
    problem: string,
    hint?: string,
  ) {
    super(where, problem, hint);
  }

  /** The same error with `more` appended to its hint. */
  withHint(more: string): FsError {
    return new FsError(this.code, this.where, this.problem, this.hint ? `${this.hint}; ${more}` : more);
  }
}

const errno = (e: unknown): (NodeJS.ErrnoException & { dest?: string }) | undefined =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' ? (e as NodeJS.ErrnoException) : undefined;

/**
 * `e` as an FsError when it is a file-system error of a known code, else undefined. `where` names the file (default:
 * the path in the error; a write on a descriptor has none, then the syscall stands in).
 */
export function fsUserError(e: unknown, where?: string): FsError | undefined {
  if (e instanceof FsError) return e;
  const known = describeFsError(e);
  if (!known) return undefined;
  const x = errno(e)!;
  const verb = VERBS[x.syscall ?? ''] ?? 'cannot write it';
  return new FsError(known.code, where ?? x.path ?? x.dest ?? x.syscall ?? 'file system', `${verb}: ${known.code}, ${known.what}`, known.hint);
}

/** What a known code means and what to do (`{ code: 'ENOSPC', what: 'no space left on the device', hint }`). */
export function describeFsError(e: unknown): { code: string; what: string; hint: string } | undefined {
  const x = errno(e);
  const known = x && CODES[x.code!];
  return x && known ? { code: x.code!, ...known } : undefined;
}

/**
 * Runs `fn`, whose writes go under `dir`: a file-system error that names no file (a write on a descriptor) is
 * reported against `dir`; `then` is appended to the hint of any file-system error (e.g. how to resume).
 */
export async function writingInto<T>(dir: string, fn: () => Promise<T>, then?: () => string | undefined): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const x = errno(e);
    const u = fsUserError(e, x && (x.path ?? x.dest) === undefined ? dir : undefined);
    if (!u) throw e;
    const more = then?.();
    throw more ? u.withHint(more) : u;
  }
}
