// The cluster examples stay ready to use: docs/sweeps.md shows examples/slurm/sweep.sbatch and
// examples/k8s/sweep-job.yaml as they are, both describe a sweep whose every combination is a valid config, and their
// array size is the n of their --shard, one run per task.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { parseShard } from '../../src/sweep/grid.ts';
import { planSweep } from '../../src/sweep/plan.ts';
import { tempDir } from '../temp.ts';

const TOP = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(TOP, path), 'utf8');
const { dir: tmp, cleanup } = tempDir('sweep-examples');
after(cleanup);

/** The sweep a `vhssl sweep ...` argument list describes, planned with data.root pointing at a folder that exists. */
function planOf(args: string[]): { runs: number; shard: string; threads: string | undefined } {
  assert.equal(args[0], 'sweep');
  const { values: v } = parseArgs({
    args: args.slice(1),
    options: { config: { type: 'string' }, set: { type: 'string', multiple: true }, grid: { type: 'string', multiple: true }, out: { type: 'string' }, jobs: { type: 'string' }, threads: { type: 'string' }, shard: { type: 'string' } },
    strict: true,
  });
  const set = (v.set ?? []).map((s) => (s.startsWith('data.root=') ? `data.root=${tmp}` : s));
  assert.ok(set.some((s) => s.startsWith('data.root=')), 'the example sets data.root');
  const plan = planSweep({ dir: join(tmp, 'sweep'), config: v.config!, set, grid: v.grid ?? [] });
  return { runs: plan.runs.length, shard: v.shard!, threads: v.threads };
}

describe('sweep examples', () => {
  test('docs/sweeps.md holds both example files as they are', () => {
    const doc = read('docs/sweeps.md');
    for (const [file, lang] of [['examples/slurm/sweep.sbatch', 'bash'], ['examples/k8s/sweep-job.yaml', 'yaml']] as const) {
      assert.ok(doc.includes(`\`\`\`${lang}\n${read(file)}\`\`\``), `${file} is not in docs/sweeps.md as it is`);
    }
  });

  test('the SLURM array: n tasks, --shard from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, a valid grid of n runs', () => {
    const text = read('examples/slurm/sweep.sbatch');
    const array = /^#SBATCH --array=0-(\d+)\b/m.exec(text);
    assert.ok(array, 'an --array=0-<n-1> line');
    const n = Number(array[1]) + 1;
    const command = text.slice(text.indexOf('exec ./node_modules/.bin/vhssl ') + 'exec ./node_modules/.bin/vhssl '.length).replace(/\\\n/g, ' ');
    const args = command.trim().split(/\s+/).map((a) => a.replace(/^"(.*)"$/, '$1'));
    const p = planOf(args);
    assert.equal(p.shard, '$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT');
    assert.equal(p.threads, '$SLURM_CPUS_PER_TASK');
    assert.equal(p.runs, n, 'one run per task');
    assert.deepEqual(parseShard(`${n - 1}/${n}`), { index: n - 1, count: n });
  });

  test('the Kubernetes Indexed Job: completions = the n of --shard $(JOB_COMPLETION_INDEX)/n, a valid grid of n runs', () => {
    const job = YAML.parse(read('examples/k8s/sweep-job.yaml')) as {
      spec: { completionMode: string; completions: number; template: { spec: { containers: { args: string[]; resources: { limits: { cpu: string } } }[] } } };
    };
    assert.equal(job.spec.completionMode, 'Indexed');
    const container = job.spec.template.spec.containers[0]!;
    const p = planOf(container.args);
    assert.equal(p.shard, `$(JOB_COMPLETION_INDEX)/${job.spec.completions}`);
    assert.equal(p.threads, container.resources.limits.cpu, '--threads is the CPU limit');
    assert.equal(p.runs, job.spec.completions, 'one run per index');
  });
});
