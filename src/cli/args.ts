// A strict argument parser over node:util's parseArgs: unknown options are user errors that name the option.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UserError } from '../errors.ts';
import type { ExecutionProvider } from '../runtime/session.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    const known = Object.keys(options).map((k) => `--${k}`).join(', ');
    // Node's message may run over several lines ("... is ambiguous ..."): keep its first sentence.
    const first = (e as Error).message.split('\n')[0]!.replace(/\. To specify.*$/, '').replace(/\.$/, '');
    throw new UserError('arguments', first, `known options: ${known}; see vhssl ${command} --help`);
  }
}

export function requireOption(command: string, value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new UserError('arguments', `--${name} is required`, `see vhssl ${command} --help`);
  return value;
}

/** An integer option ≥ `min`, or undefined when absent; anything else is a one-line error naming the option. */
export function intOption(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new UserError(`--${name}`, `expected an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** A positive number option, or undefined when absent. */
export function positiveOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UserError(`--${name}`, `expected a positive number, got "${v}"`);
  return n;
}

// Every execution provider, for every command that takes --ep (a Record, so that a new provider cannot be left out).
const PROVIDERS = { cpu: true, cuda: true, webgpu: true } satisfies Record<ExecutionProvider, true>;
export const EXECUTION_PROVIDERS = Object.keys(PROVIDERS) as ExecutionProvider[];

/** `--ep cpu|cuda|webgpu`, for usage lines. */
export const EP_USAGE = `--ep ${EXECUTION_PROVIDERS.join('|')}`;

/** The --ep option, or undefined when absent. Whether the provider runs here is for `ensureProvider` to say. */
export function epOption(v: string | undefined): ExecutionProvider | undefined {
  if (v === undefined) return undefined;
  if (!(EXECUTION_PROVIDERS as string[]).includes(v)) throw new UserError('--ep', `unknown execution provider "${v}"`, `use one of ${EXECUTION_PROVIDERS.join(', ')}`);
  return v as ExecutionProvider;
}
