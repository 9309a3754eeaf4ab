// `vhssl sweep --config BASE --grid key=v1,v2 [--grid ...] --out DIR [options]`: one `vhssl train` per combination
// of the grid's values, each in DIR/<name>; `vhssl sweep summary DIR` tabulates them. See docs/sweeps.md.
import { availableParallelism } from 'node:os';
import { UserError } from '../../errors.ts';
import { checkOutputDir } from '../../out-path.ts';
import { ensureProvider } from '../../runtime/session.ts';
import { inShard, parseShard } from '../../sweep/grid.ts';
import { checkRunDirs, planSweep } from '../../sweep/plan.ts';
import { checkSameSweep, writeSweepRecord } from '../../sweep/record.ts';
import { actionOf, howEnded, runSweep, shellLine, trainArgs } from '../../sweep/runner.ts';
import { runStatus } from '../../sweep/status.ts';
import { summaryText, writeSummary } from '../../sweep/summary.ts';
import { EP_USAGE, epOption, intOption, parseCommandArgs, requireOption } from '../args.ts';
import type { Command } from '../command.ts';

const options = {
  config: { type: 'string' },
  grid: { type: 'string', multiple: true },
  out: { type: 'string' },
  jobs: { type: 'string' },
  threads: { type: 'string' },
  shard: { type: 'string' },
  set: { type: 'string', multiple: true },
  ep: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

function summary(argv: string[]): number {
  const { positionals } = parseCommandArgs('sweep', argv, {}, true);
  if (positionals.length !== 1) throw new UserError('vhssl sweep summary', `expected one sweep directory, got ${positionals.length}`, 'vhssl sweep summary DIR');
  const dir = positionals[0]!;
  const { summary: s, csv, html } = writeSummary(dir);
  console.log(summaryText(s));
  console.log(`\nwrote ${csv} and ${html}`);
  return 0;
}

export const command: Command = {
  summary: 'train one run per combination of grid values (skips finished runs, resumes partial ones)',
  usage: [
    `vhssl sweep --config FILE --grid key.path=v1,v2 [--grid ...] --out DIR [--jobs N] [--threads N] [--shard i/n] [--set key.path=value]... [${EP_USAGE}] [--dry-run]`,
    'vhssl sweep summary DIR',
    '',
    '  --config FILE    the base config of every run (a path or a name in config/)',
    '  --grid K=V1,V2   a key and its values, as --set takes them (commas inside [...] and {...} belong to the value);',
    '                   runs: the cartesian product, the first --grid varying slowest; run DIR/<key-value__key-value>',
    '  --out DIR        the sweep: DIR/sweep.json (base config, grid, runs), DIR/<run>/ (a vhssl train run, train.log)',
    '  --jobs N         runs at once (default 1)',
    '  --threads N      --threads of each run (default max(1, floor(cores / jobs)), cores as Node counts them: give it',
    '                   where a CPU quota, such as a container\'s CPU limit, allows fewer)',
    '  --shard i/n      only the runs k (0-based) with k mod n = i: $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT',
    '  --set K=V        for every run, before the grid\'s values',
    '  --ep NAME        passed to vhssl train',
    '  --dry-run        check every combination and print what would run, writing nothing',
    '  summary DIR      DIR/summary.csv and DIR/summary.html: grid values, status, steps, loss, k-NN and final top-1',
    '',
    'Finished runs are skipped, runs with a checkpoint resumed; a failed run is reported and the others go on (exit 1).',
    'Ctrl-C or SIGTERM: every running run saves a checkpoint and the sweep exits 130 or 143; rerun it to continue.',
    'Later signals are not passed on; kill -9 the sweep to stop its runs at once, without a checkpoint.',
  ].join('\n'),
  async run(argv) {
    if (argv[0] === 'summary') return summary(argv.slice(1));
    const { values: v } = parseCommandArgs('sweep', argv, options);
    const config = requireOption('sweep', v.config, 'config');
    const out = requireOption('sweep', v.out, 'out');
    const jobs = intOption('jobs', v.jobs, 1) ?? 1;
    const threads = intOption('threads', v.threads, 1) ?? Math.max(1, Math.floor(availableParallelism() / jobs));
    const shard = v.shard === undefined ? undefined : parseShard(v.shard);
    const ep = epOption(v.ep);
    const dryRun = v['dry-run'] ?? false;
    if (ep) await ensureProvider(ep);
    checkOutputDir(out, '--out');
    const plan = planSweep({ dir: out, config, set: v.set ?? [], grid: v.grid ?? [] });
    checkSameSweep(plan);
    checkRunDirs(plan);
    if (!dryRun) writeSweepRecord(plan);

    const runs = inShard(plan.runs, shard);
    const of = shard ? `shard ${shard.index}/${shard.count}: ${runs.length} of ${plan.runs.length} runs` : `${plan.runs.length} runs`;
    console.log(`sweep ${out}: ${of}, ${jobs} at a time, --threads ${threads} each${dryRun ? ' (dry run)' : ''}`);
    if (runs.length === 0) {
      console.log(`shard ${shard!.index}/${shard!.count} takes no run: there are ${plan.runs.length}, so shards ${plan.runs.length} to ${shard!.count - 1} have none`);
      return 0;
    }
    if (dryRun) {
      for (const run of runs) {
        const action = actionOf(run);
        const what = action === 'skip' ? 'finished, would skip' : `${runStatus(run.runDir)}, would ${action === 'resume' ? 'resume' : 'start'}`;
        console.log(`[${run.index + 1}/${plan.runs.length}] ${run.name}: ${what}`);
        if (action !== 'skip') console.log(`  ${shellLine(['vhssl', ...trainArgs(plan, run, action, { threads, ep })])}`);
      }
      return 0;
    }

    const r = await runSweep(plan, runs, { jobs, threads, ep, log: (line) => console.log(line) });
    const count = (what: string) => r.reports.filter((x) => x.result === what).length;
    const parts = [['finished', count('finished')], ['skipped (finished before)', count('skipped')], ['interrupted', count('interrupted')], ['failed', count('failed')]] as const;
    const notRun = runs.length - r.reports.length;
    console.log(`sweep ${out}: ${[...parts.filter(([, n]) => n > 0).map(([w, n]) => `${n} ${w}`), ...(notRun ? [`${notRun} not started`] : [])].join(', ')}`);
    if (r.signal) console.error(`vhssl sweep: stopped by ${r.signal}; rerun the same command to continue`);
    const failed = r.reports.filter((x) => x.result === 'failed');
    if (failed.length) {
      console.error(`vhssl sweep: ${failed.length} of ${runs.length} runs failed:`);
      for (const f of failed) console.error(`  ${f.run.name}: ${howEnded(f.attempt!)}; log ${f.attempt!.log}`);
    }
    return r.exitCode;
  },
};
