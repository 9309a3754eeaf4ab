// Errors as data: a user error (bad config, bad input, missing file) prints as one line without a stack and exits 1.

export class UserError extends Error {
  override readonly name = 'UserError';
  /** `where` is the thing at fault: a config key path, a file, a node name. */
  constructor(
    readonly where: string,
    readonly problem: string,
    readonly hint?: string,
  ) {
    super(`${where}: ${problem}${hint ? ` (${hint})` : ''}`);
  }
}

export const isUserError = (e: unknown): e is UserError => e instanceof UserError;
