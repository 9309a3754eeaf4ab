// `vhssl <command> [options]`: dispatches to one module per command under src/cli/commands.
import { isUserError } from '../errors.ts';
import { fsUserError } from '../fs-errors.ts';
import type { Command } from './command.ts';

// Lazily imported so that `vhssl inspect` does not load the training runtime.
const commands: Record<string, () => Promise<Command>> = {
  'build-graph': async () => (await import('./commands/build-graph.ts')).command,
  eval: async () => (await import('./commands/eval.ts')).command,
  export: async () => (await import('./commands/export.ts')).command,
  inspect: async () => (await import('./commands/inspect.ts')).command,
  prepare: async () => (await import('./commands/prepare.ts')).command,
  sweep: async () => (await import('./commands/sweep.ts')).command,
  train: async () => (await import('./commands/train.ts')).command,
  web: async () => (await import('./commands/web.ts')).command,
};

async function help(): Promise<string> {
  const lines = ['usage: vhssl <command> [options]', '', 'commands:'];
  for (const [name, load] of Object.entries(commands)) {
    try {
      lines.push(`  ${name.padEnd(12)} ${(await load()).summary}`);
    } catch {
      // A command whose module is not there yet is not listed.
    }
  }
  lines.push('', 'Run `vhssl <command> --help` for the options of one command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(await help());
    return name === undefined ? 1 : 0;
  }
  const load = commands[name];
  if (!load) {
    console.error(`vhssl: unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`);
    return 1;
  }
  try {
    const command = await load();
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(`${command.summary}\n\nusage: ${command.usage}`);
      return 0;
    }
    return await command.run(rest);
  } catch (e) {
    // A write the environment refused (disk full, read-only, a directory in the way) is the user's to fix, not a bug.
    const u = isUserError(e) ? e : fsUserError(e);
    if (u) {
      console.error(`vhssl ${name}: ${u.message}`);
      return 1;
    }
    throw e;
  }
}
