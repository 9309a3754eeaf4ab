// Provider coverage (issue 16): every node of every graph that every example config builds (the encoder, each
// group's training and optimizer graphs, the fused step graph, the EMA update) has a kernel in onnxruntime 1.30's CUDA
// and WebGPU execution providers, at the opset vhssl emits, except the known gaps in ALLOWED: each names the op, why
// it has no kernel (or, kind 'refused', a kernel that fails the run) and what it costs (the data that crosses to the
// host). A failure names every other node that would run on the CPU or fail; an ALLOWED entry that no node needs any
// more fails too, so the list stays exact.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CONFIG_DIR, curriculumStages, loadConfig, validateConfig, type Config } from '../../src/config/index.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { modelSpec } from '../../src/graph/model/from-config.ts';
import { emaGraph, encoderGraph, groupOptimizerSpec, mineTrainGraph, stepGraph, trainGraph } from '../../src/graph/model/graphs.ts';
import type { GroupName } from '../../src/graph/model/spec.ts';
import { OPS, OPSET } from '../../src/graph/ops/index.ts';
import { buildOptimizerGraph } from '../../src/graph/optim/index.ts';
import { formatFallback, kernelTable, onnxSchemas, PROVIDER_NAMES, PROVIDERS, providerCoverage, type Fallback, type Provider, type Reason } from '../../src/runtime/providers.ts';

interface Allowed {
  provider: Provider;
  op: string;
  kind: Reason['kind'];
  /** Narrows the entry to the nodes it is meant for. */
  when?: (f: Fallback) => boolean;
  why: string;
  cost: string;
}

const int64In = (f: Fallback) => f.inputs[0] === 'int64';

/** The known gaps. CUDA has none: every node of every graph has a CUDA kernel. */
const ALLOWED: Allowed[] = [
  {
    provider: 'webgpu', op: 'Concat', kind: 'type', when: (f) => f.inputs.every((t) => t === 'int64'),
    why: 'WebGPU has no int64 Concat; these join shape vectors (Shape → Concat → Reshape\'s shape), which ORT places on the CPU by design (GetCpuPreferredNodes) or folds when the shape is static',
    cost: 'a few int64 values, host memory to host memory',
  },
  {
    provider: 'webgpu', op: 'ConstantOfShape', kind: 'no-kernel',
    why: 'WebGPU has no ConstantOfShape kernel; every one vhssl emits has a constant shape (the zeros that Gather\'s gradient scatters into), which ORT folds into an initializer when the session is created (any graph optimization level but disabled; vhssl uses all)',
    cost: 'none per step once folded; the folded zeros live on the device as an initializer',
  },
  {
    provider: 'webgpu', op: 'Cast', kind: 'type', when: int64In,
    why: 'WebGPU\'s Cast does not take int64 inputs; this is the optimizer\'s int64 step counter cast to float',
    cost: 'one scalar: 8 bytes in, 4 bytes to the device',
  },
  {
    provider: 'webgpu', op: 'Reshape', kind: 'type', when: int64In,
    why: 'WebGPU\'s Reshape takes no int64 data; these reshape the prediction positions (graph inputs), int64 index tensors',
    cost: 'B×n int64 (kB), to the host and back',
  },
  {
    provider: 'webgpu', op: 'Expand', kind: 'type', when: int64In,
    why: 'WebGPU\'s Expand takes no int64 data; it broadcasts the prediction positions over the feature axis for GatherElements',
    cost: 'B×n×D int64 to the device: 1 MB per step in config moving-mnist, 128 kB in we',
  },
  {
    provider: 'webgpu', op: 'Unsqueeze', kind: 'type', when: int64In,
    why: 'WebGPU\'s Unsqueeze takes no int64 data; it shapes the positions into ScatterND\'s indices in Gather\'s gradient',
    cost: 'B×n int64 (kB) to the device',
  },
  {
    provider: 'webgpu', op: 'LogSoftmax', kind: 'no-kernel',
    why: 'WebGPU has no LogSoftmax kernel (it has Softmax); the classification loss of task cls uses it',
    cost: 'the logits, B×classes float32 (kB), to the host, and the log-probabilities back',
  },
];

/** The example configs: every YAML file in config/ but the section defaults, curricula split into their stages. */
function exampleConfigs(): [string, Config][] {
  const out: [string, Config][] = [];
  const files = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
  for (const name of files.filter((f) => !['arch', 'data', 'train', 'eval'].includes(f))) {
    const { config } = loadConfig({ file: name });
    const stages = curriculumStages(config, (t) => validateConfig(t));
    if (stages.length === 0) out.push([name, config]);
    for (const s of stages) out.push([`${name}/${s.name}`, s.config]);
  }
  return out;
}

/** The graphs `vhssl build-graph` writes for `config` (mirrors buildArtifacts in src/graph/artifacts.ts), in memory. */
function graphsOf(config: Config): [string, Graph][] {
  const spec = modelSpec(config);
  const seed = config.train.seed;
  const out: [string, Graph][] = [['encoder', encoderGraph(spec, seed).builder.graph]];
  const fused = spec.task === 'mine' ? null : trainGraph(spec, seed);
  for (const g of spec.task === 'mine' ? spec.groups : [spec.task]) {
    const tg = fused ?? mineTrainGraph(spec, [g as GroupName], seed, g);
    out.push([`${g}.train`, tg.builder.graph]);
    const ob = new GraphBuilder(`${g}.optim`);
    buildOptimizerGraph(ob, groupOptimizerSpec(config.train, tg.params));
    out.push([`${g}.optim`, ob.graph]);
  }
  out.push(['step', stepGraph(spec, config.train, seed).builder.graph]);
  const ema = emaGraph(spec, seed);
  if (ema) out.push(['ema.update', ema.graph]);
  return out;
}

const allowedFor = (f: Fallback, p: Provider) => ALLOWED.find((a) => a.provider === p && a.op === f.op && a.kind === f.reason.kind && (a.when?.(f) ?? true));
const used = new Set<Allowed>();

describe('kernel tables', () => {
  test('every op of the vocabulary has schema facts in src/runtime/kernels/onnx.json', () => {
    const missing = Object.keys(OPS).filter((op) => !onnxSchemas()[op]);
    assert.deepEqual(missing, [], `ops without schema facts: ${missing.join(', ')}`);
  });
  for (const p of PROVIDERS) {
    test(`${p}.json: every entry names a known op and a valid version range`, () => {
      const bad = kernelTable(p).kernels.filter((k) => !onnxSchemas()[k.op] || (k.end !== null && k.end < k.since)).map((k) => `${k.op} [${k.since}, ${k.end}]`);
      assert.deepEqual(bad, []);
    });
  }
});

describe(`every node of every example config's graphs has a CUDA and a WebGPU kernel at opset ${OPSET}`, () => {
  for (const [label, config] of exampleConfigs()) {
    test(label, (t) => {
      const graphs = graphsOf(config);
      const problems: string[] = [];
      for (const p of PROVIDERS) {
        const known = new Map<string, number>();
        for (const [g, graph] of graphs) {
          for (const f of providerCoverage(graph, p)) {
            const a = allowedFor(f, p);
            if (a) {
              used.add(a);
              known.set(`${f.op} (${f.reason.kind})`, (known.get(`${f.op} (${f.reason.kind})`) ?? 0) + 1);
            } else {
              problems.push(`${PROVIDER_NAMES[p]}: ${g}: ${formatFallback(f)}`);
            }
          }
        }
        const counts = [...known].map(([k, n]) => `${k} ×${n}`).join(', ');
        t.diagnostic(`${PROVIDER_NAMES[p]}: ${counts ? `known gaps: ${counts}` : 'every node has a kernel'}`);
      }
      assert.equal(problems.length, 0, `${problems.length} nodes would run on the CPU (or fail the run: 'refused'):\n${problems.join('\n')}`);
    });
  }

  test('every ALLOWED entry is still needed by some graph', () => {
    const stale = ALLOWED.filter((a) => !used.has(a)).map((a) => `${PROVIDER_NAMES[a.provider]} ${a.op} (${a.kind})`);
    assert.deepEqual(stale, [], 'remove these entries from ALLOWED: no node needs them any more');
  });
});
