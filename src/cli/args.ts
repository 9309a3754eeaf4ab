// A strict argument parser over node:util's parseArgs: unknown options are user errors that name the option.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../errors.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    const known = Object.keys(options).map((k) => `--${k}`).join(', ');
    throw new UserError(`vhssl ${command}`, (e as Error).message.replace(/\. To specify.*$/s, ''), `known options: ${known}`);
  }
}

export function requireOption(command: string, value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new UserError(`vhssl ${command}`, `--${name} is required`);
  return value;
}
