// `vhssl sweep` end to end with real `vhssl train` runs (config tiny, Moving MNIST made with ffmpeg, 5 steps each):
// a 2×1 grid runs both runs at once with --jobs 2 and the summary tabulates their metrics; a rerun skips them; a run
// with a checkpoint is resumed and a diverging one reported with its log while the other finishes; Ctrl-C reaches the
// running run, which saves its checkpoint, and the sweep exits 130; --shard takes k mod n = i; and every bad input is
// refused in one line, before any run starts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { command } from '../../src/cli/commands/sweep.ts';
import { CONFIG_DIR } from '../../src/config/index.ts';
import { readSummary } from '../../src/sweep/summary.ts';
import { movingMnist } from '../fixtures.ts';
import { tempDir } from '../temp.ts';
import { BIN, vhssl } from './run.ts';

const { dir: tmp, cleanup } = tempDir('sweep');
after(cleanup);
let data = '';
// Short runs: 5 steps, a k-NN validation at the end, no final evaluation.
const shared = () => ['--config', 'tiny', '--set', `data.root=${data}`, '--set', 'train.batch_size=8', '--set', 'train.epochs=1', '--set', 'train.steps_per_epoch=5', '--set', 'eval.knn.every=1', '--set', 'eval.final=none'];
const sweep = (out: string, ...extra: string[]) => ['sweep', ...shared(), '--out', out, ...extra];

const rows = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const csv = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(','));
const statusOf = (run: string) => (JSON.parse(readFileSync(join(run, 'sweep-status.json'), 'utf8')) as { status: string }).status;

/** The last step row's loss (the groups' totals summed) and the k-NN top-1 of every validation, from metrics.jsonl. */
function expected(run: string): { steps: number; loss: number; knn: number[] } {
  const m = rows(join(run, 'metrics.jsonl'));
  const last = m.filter((r) => r.kind === undefined).at(-1)!;
  return {
    steps: last.step as number,
    loss: Object.keys(last).filter((k) => /^loss\.[^.]+$/.test(k)).reduce((s, k) => s + (last[k] as number), 0),
    knn: m.filter((r) => r.kind === 'knn').map((r) => r.top1 as number),
  };
}

/** `vhssl sweep ARGV` in this process: refused with exactly `message` (or one matching it). */
async function refused(argv: string[], message: string | RegExp): Promise<void> {
  await assert.rejects(command.run(argv), (e: Error) => {
    if (typeof message === 'string') assert.equal(e.message, message, argv.join(' '));
    else assert.match(e.message, message, argv.join(' '));
    return true;
  });
}

describe('vhssl sweep', () => {
  before(() => {
    data = movingMnist();
  });

  const A = () => join(tmp, 'a');
  const namesA = ['train.optimizer.lr-0.05__train.seed-1', 'train.optimizer.lr-0.1__train.seed-1'];
  const gridA = ['--grid', 'train.optimizer.lr=0.05,0.1', '--grid', 'train.seed=1'];

  test('a 2×1 grid with --jobs 2 runs both at once, each a train run with its log; summary tabulates their metrics', () => {
    const r = vhssl(sweep(A(), ...gridA, '--jobs', '2'));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    const threads = Math.max(1, Math.floor(availableParallelism() / 2));
    assert.equal(lines[0], `sweep ${A()}: 2 runs, 2 at a time, --threads ${threads} each`);
    // Both started before either finished: two children at once.
    assert.deepEqual(lines.slice(1, 3).map((l) => l.replace(/ \(threads .*/, '')), [`[1/2] ${namesA[0]}: started`, `[2/2] ${namesA[1]}: started`]);
    for (const [i, name] of namesA.entries()) {
      const run = join(A(), name);
      const e = expected(run);
      assert.equal(e.steps, 5);
      assert.equal(e.knn.length, 1);
      assert.ok(lines.includes(`[${i + 1}/2] ${name}: finished: step 5, loss ${e.loss.toFixed(4)}, k-NN top-1 ${e.knn[0]!.toFixed(2)} %`), r.stdout);
      assert.equal(statusOf(run), 'finished');
      const log = readFileSync(join(run, 'train.log'), 'utf8');
      assert.match(log, new RegExp(`^# vhssl sweep, \\S+: vhssl train --config \\S+/config/tiny\\.yaml --set data\\.root=\\S+ .*--set train\\.optimizer\\.lr=${i ? '0\\.1' : '0\\.05'} --set train\\.seed=1 --out \\S+/${name} --threads ${threads}\\n`));
      assert.match(log, /building the graphs of config/);
      assert.match(log, /finished at step 5/);
    }
    assert.equal(lines.at(-1), `sweep ${A()}: 2 finished`);
    const record = JSON.parse(readFileSync(join(A(), 'sweep.json'), 'utf8')) as { grid: unknown; combinations: { name: string; set: string[] }[] };
    assert.deepEqual(record.grid, [{ key: 'train.optimizer.lr', values: ['0.05', '0.1'] }, { key: 'train.seed', values: ['1'] }]);
    assert.deepEqual(record.combinations.map((c) => c.name), namesA);

    const s = vhssl(['sweep', 'summary', A()]);
    assert.equal(s.status, 0, s.stderr);
    const table = csv(join(A(), 'summary.csv'));
    assert.deepEqual(table[0], ['index', 'name', 'train.optimizer.lr', 'train.seed', 'status', 'steps', 'last_loss', 'knn_top1_best', 'knn_top1_last', 'final_top1']);
    for (const [i, name] of namesA.entries()) {
      const e = expected(join(A(), name));
      assert.deepEqual(table[i + 1], [String(i), name, ['0.05', '0.1'][i], '1', 'finished', '5', String(e.loss), String(e.knn[0]), String(e.knn[0]), '']);
      assert.match(s.stdout, new RegExp(`${i + 1} +${name.replace(/\./g, '\\.')} +${['0\\.05', '0\\.1'][i]} +1 +finished +5 +${e.loss.toFixed(4)} +${e.knn[0]!.toFixed(2)} +${e.knn[0]!.toFixed(2)} +–\\n`));
    }
    const html = readFileSync(join(A(), 'summary.html'), 'utf8');
    for (const name of namesA) assert.ok(html.includes(`<td class="text">${name}</td>`));
    assert.equal((html.match(/<svg /g) ?? []).length, 3);
    assert.match(s.stdout, /wrote \S+summary\.csv and \S+summary\.html/);
  });

  test('a rerun skips the finished runs; a dry run says so; another grid, base config or --set in DIR is refused', async () => {
    const logs = namesA.map((n) => statSync(join(A(), n, 'train.log')).size);
    const r = vhssl(sweep(A(), ...gridA, '--jobs', '2'));
    assert.equal(r.status, 0, r.stderr);
    for (const [i, name] of namesA.entries()) assert.match(r.stdout, new RegExp(`\\[${i + 1}/2\\] ${name.replace(/\./g, '\\.')}: finished before, skipped \\(step 5, loss [\\d.]+, k-NN top-1 [\\d.]+ %\\)`));
    assert.doesNotMatch(r.stdout, /started/);
    assert.match(r.stdout, /: 2 skipped \(finished before\)\n$/);
    assert.deepEqual(namesA.map((n) => statSync(join(A(), n, 'train.log')).size), logs, 'no train started');
    const dry = vhssl(sweep(A(), ...gridA, '--dry-run'));
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /\[1\/2\] \S+: finished, would skip\n\[2\/2\] \S+: finished, would skip\n$/);

    // The refusals in-process (the CLI's one-line form is checked below): nothing runs before them.
    const hint = '(rerun with the same base config, --set and --grid options to continue it, or choose another --out)';
    await refused(sweep(A(), '--grid', 'train.optimizer.lr=0.05,0.2', '--grid', 'train.seed=1').slice(1),
      `${A()}: holds another sweep: it was made with another grid: --grid train.optimizer.lr=0.05,0.1 --grid train.seed=1; now --grid train.optimizer.lr=0.05,0.2 --grid train.seed=1 ${hint}`);
    await refused([...sweep(A(), ...gridA), '--set', 'train.log_every=1'].slice(1), `${A()}: holds another sweep: its --set options differ: now with --set train.log_every=1 ${hint}`);
    await refused(['--config', 'moving-mnist', ...shared().slice(2), '--out', A(), ...gridA],
      `${A()}: holds another sweep: it was made with the base config ${join(CONFIG_DIR, 'tiny.yaml')}, now ${join(CONFIG_DIR, 'moving-mnist.yaml')} ${hint}`);
  });

  test('a run with a checkpoint is resumed; a failing run is reported with its log, the others finish, exit 1', () => {
    const dir = join(tmp, 'b');
    const grid = ['--grid', 'train.optimizer.lr=0.05,1e30', '--set', 'train.schedule.name=constant', '--set', 'train.schedule.warmup_epochs=0'];
    const [good, bad] = ['train.optimizer.lr-0.05', 'train.optimizer.lr-1e30'].map((n) => join(dir, n));
    // A partial run, as a sweep killed after the first checkpoint leaves it: 2 of its 5 steps.
    const partial = vhssl(['train', ...shared(), '--set', 'train.schedule.name=constant', '--set', 'train.schedule.warmup_epochs=0', '--set', 'train.optimizer.lr=0.05', '--out', good!, '--max-steps', '2']);
    assert.equal(partial.status, 0, partial.stderr);
    const r = vhssl(sweep(dir, ...grid));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /\[1\/2\] train\.optimizer\.lr-0\.05: resuming from step 2 \(threads \d+; log \S+train\.log\)\n/);
    assert.match(r.stdout, /\[1\/2\] train\.optimizer\.lr-0\.05: finished: step 5, loss [\d.]+, k-NN top-1 [\d.]+ %/);
    assert.match(readFileSync(join(good!, 'train.log'), 'utf8'), /resuming from \S+step-00000002\.safetensors at step 2/);
    assert.match(r.stdout, new RegExp(`\\[2/2\\] train\\.optimizer\\.lr-1e30: failed \\(exit 1\\): vhssl train: step \\d+: .* of group \\w+ is (NaN|Infinity|-Infinity).*; log ${bad!.replace(/[.]/g, '\\.')}/train\\.log\\n`));
    assert.match(r.stdout, /: 1 finished, 1 failed\n$/);
    assert.equal(r.stderr, `vhssl sweep: 1 of 2 runs failed:\n  train.optimizer.lr-1e30: exit 1; log ${join(bad!, 'train.log')}\n`);
    assert.equal(statusOf(good!), 'finished');
    assert.equal(statusOf(bad!), 'failed');

    assert.deepEqual(readSummary(dir).rows.map((row) => [row.name, row.status, row.steps]), [['train.optimizer.lr-0.05', 'finished', 5], ['train.optimizer.lr-1e30', 'failed', lastStep(bad!)]]);
  });

  test('Ctrl-C reaches the running run once, which saves a checkpoint; no new run starts; the sweep exits 130', async () => {
    const dir = join(tmp, 'd');
    const args = [...sweep(dir, '--grid', 'train.seed=1,2', '--set', 'train.steps_per_epoch=2000', '--set', 'train.log_every=1', '--set', 'eval.knn.every=0')];
    const log = join(dir, 'train.seed-1', 'train.log');
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let [stdout, stderr] = ['', ''];
    child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Once the run is in its loop (a step line in its log), Ctrl-C the sweep only: the run is in its own process group.
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(log) && /step \d+\/2000/.test(readFileSync(log, 'utf8'))) {
          clearInterval(poll);
          // Twice, as npx delivers one Ctrl-C (from the terminal and passed on): the run still saves its checkpoint.
          child.kill('SIGINT');
          child.kill('SIGINT');
          resolve();
        }
      }, 20);
    });
    assert.equal(await exited, 130, stdout + stderr);
    assert.match(stdout, /\[1\/2\] train\.seed-1: interrupted \(exit 130\) with a checkpoint at step (\d+); rerun the sweep to resume it\n/);
    assert.doesNotMatch(stdout, /\[2\/2\]/);
    assert.match(stdout, /: 1 interrupted, 1 not started\n$/);
    assert.equal(stderr, 'vhssl sweep: stopped by SIGINT; rerun the same command to continue\n');
    const text = readFileSync(log, 'utf8');
    assert.match(text, /interrupted: saving a checkpoint after this step/);
    assert.match(text, /checkpoint saved at step \d+/);
    assert.equal((text.match(/interrupted: saving/g) ?? []).length, 1, 'one SIGINT reached the run');
    assert.equal(statusOf(join(dir, 'train.seed-1')), 'interrupted');
    const dry = vhssl([...args, '--dry-run']);
    assert.match(dry.stdout, /\[1\/2\] train\.seed-1: partial, would resume\n  vhssl train --resume --out \S+ --threads \d+\n\[2\/2\] train\.seed-2: not started, would start\n/);
    assert.deepEqual(readSummary(dir).rows.map((row) => [row.name, row.status]), [['train.seed-1', 'partial'], ['train.seed-2', 'not started']]);
  });

  test('--shard i/n takes the runs k with k mod n = i; a shard with none says so', () => {
    const dir = join(tmp, 'e');
    const grid = ['--grid', 'train.optimizer.lr=0.05,0.1', '--grid', 'train.seed=1,2'];
    const r = vhssl(sweep(dir, ...grid, '--shard', '1/2', '--threads', '3', '--dry-run'));
    assert.equal(r.status, 0, r.stderr);
    const runs = r.stdout.split('\n').filter((l) => l.startsWith('['));
    assert.deepEqual(runs, ['[2/4] train.optimizer.lr-0.05__train.seed-2: not started, would start', '[4/4] train.optimizer.lr-0.1__train.seed-2: not started, would start']);
    assert.match(r.stdout, /^sweep \S+: shard 1\/2: 2 of 4 runs, 1 at a time, --threads 3 each \(dry run\)\n/);
    const commands = r.stdout.split('\n').filter((l) => l.startsWith('  vhssl train '));
    assert.equal(commands.length, 2);
    for (const c of commands) assert.match(c, /--set train\.optimizer\.lr=0\.\d+ --set train\.seed=2 --out \S+ --threads 3$/);
    const none = vhssl(sweep(dir, ...grid, '--shard', '5/6', '--dry-run'));
    assert.equal(none.status, 0, none.stderr);
    assert.match(none.stdout, /shard 5\/6 takes no run: there are 4, so shards 4 to 5 have none\n$/);
    assert.ok(!existsSync(dir));
  });

  test('bad input from the command line: one line naming the option, what is wrong and what to do; exit 1; nothing written', () => {
    const out = join(tmp, 'bad');
    const cases: [string[], string][] = [
      [['--grid', 'train.optimizer.lrr=0.1'], '--grid train.optimizer.lrr=0.1: config.train.optimizer.lrr: unknown key (did you mean "lr"?; from --set train.optimizer.lrr=0.1)'],
    ];
    for (const [extra, message] of cases) {
      const r = vhssl(sweep(out, ...extra));
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr, `vhssl sweep: ${message}\n`);
      assert.equal(r.stdout, '');
    }
    assert.ok(!existsSync(out));
  });

  test('bad grids, values, combinations, shards and options: every message, before any run starts', async () => {
    const out = join(tmp, 'bad-in-process');
    const hint = 'e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT, or --shard $JOB_COMPLETION_INDEX/<completions>';
    const base = () => sweep(out).slice(1);
    await refused([...base(), '--grid', 'train.optimizer.lr=0.1,fast'], '--grid train.optimizer.lr=0.1,fast: config.train.optimizer.lr: expected a positive number, got "fast" (from --set train.optimizer.lr=fast)');
    await refused([...base(), '--grid', 'arch.patch=8,5'], `--grid combination arch.patch=5: config.data.height: expected a multiple of the patch size 5, got 32 (change data.height/width or arch.patch; from ${join(CONFIG_DIR, 'tiny.yaml')})`);
    await refused([...base(), '--grid', `data.root=${data},${join(tmp, 'nowhere')}`], `--grid data.root=${data},${join(tmp, 'nowhere')}: config.data.root: the dataset path ${join(tmp, 'nowhere')} does not exist (prepare one with \`vhssl prepare\`)`);
    await refused([...base(), '--grid', 'train.seed='], '--grid train.seed=: no values for train.seed (give one or more values separated by commas, e.g. --grid train.seed=a,b)');
    await refused([...base(), '--grid', 'train.seed=1,,2'], '--grid train.seed=1,,2: value 2 of 3 is empty (remove the extra comma)');
    await refused(base(), '--grid: at least one --grid key=value1,value2,... is required (e.g. --grid train.optimizer.lr=0.05,0.1)');
    await refused([...base(), '--grid', 'train.seed=1', '--grid', 'train.seed=2'], '--grid train.seed=2: sets train.seed, which --grid train.seed=1 also sets (give each key in one --grid, its values separated by commas)');
    await refused([...base(), '--grid', 'train.optimizer.lr=0.1,0.10'], /^--grid: the combinations train\.optimizer\.lr=0\.1 and train\.optimizer\.lr=0\.10 give the same config \([0-9a-f]{16}\) \(give each value once, in one spelling\)$/);
    await refused([...base(), '--grid', 'train.seed=1', '--shard', 'x/2'], `--shard: the shard index i of i/n must be an integer from 0 to 1, got "x" in "x/2" (${hint})`);
    await refused([...base(), '--grid', 'train.seed=1', '--shard', '1/0'], `--shard: the shard count n of i/n must be an integer ≥ 1, got "0" in "1/0" (${hint})`);
    await refused([...base(), '--grid', 'train.seed=1', '--shard', '1'], `--shard: expected i/n (shard i of n, 0-based), got "1" (${hint})`);
    await refused([...base(), '--grid', 'train.seed=1', '--jobs', '0'], '--jobs: expected an integer ≥ 1, got "0"');
    await refused([...base(), '--grid', 'train.seed=1', '--threads', 'all'], '--threads: expected an integer ≥ 1, got "all"');
    await refused([...base(), '--grid', 'train.seed=1', '--ep', 'tpu'], '--ep: unknown execution provider "tpu" (use one of cpu, cuda, webgpu)');
    await refused(['--config', 'tiny', '--grid', 'train.seed=1'], 'arguments: --out is required (see vhssl sweep --help)');
    await refused(['--out', out, '--grid', 'train.seed=1'], 'arguments: --config is required (see vhssl sweep --help)');
    await refused([...base(), '--grid', 'train.seed=1', '--gird', 'x=1'], "arguments: Unknown option '--gird' (known options: --config, --grid, --out, --jobs, --threads, --shard, --set, --ep, --dry-run; see vhssl sweep --help)");
    await refused([...base(), '--grid', 'train.seed=1', '--shard', '2/2'], '--shard: the shard index 2 is not below the count 2 in "2/2": shards are numbered 0 to 1 (SLURM arrays: --array=0-<n-1>; Kubernetes: JOB_COMPLETION_INDEX runs from 0)');
    await refused(['summary'], 'vhssl sweep summary: expected one sweep directory, got 0 (vhssl sweep summary DIR)');
    await refused(['summary', tmp], `${tmp}: is not a sweep directory: it has no ${join(tmp, 'sweep.json')} (give the --out of a vhssl sweep)`);
    assert.ok(!existsSync(out));
  });
});

/** The last step a run logged, or null. */
function lastStep(run: string): number | null {
  if (!existsSync(join(run, 'metrics.jsonl'))) return null;
  const steps = rows(join(run, 'metrics.jsonl')).filter((r) => r.kind === undefined).map((r) => r.step as number);
  return steps.length ? Math.max(...steps) : null;
}
