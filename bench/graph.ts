// Benchmark (not a test): build the forward + backward graph of a 12-layer pre-norm transformer stack, serialise it,
// and create an onnxruntime-node CPU session for it. `npx tsx bench/graph.ts [--repeat N]`
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { gradients } from '../src/graph/autodiff/index.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { truncNormal } from '../src/graph/nn/init.ts';
import { transformer, type TransformerSpec } from '../src/graph/nn/transformer.ts';
import { encodeModel } from '../src/graph/onnx.ts';
import { IR_VERSION, OPSET } from '../src/graph/ops/index.ts';
import { Rng } from '../src/rng.ts';
import { createSession } from '../src/runtime/session.ts';

const SPEC: TransformerSpec = { dim: 192, layers: 12, heads: 3, headDim: 64, mlpDim: 768, causal: false };
const BATCH = 8;
const SEQ = 197;
const THREADS = 2;

/** Tokens (B·T, D) → transformer → loss = mean(y²); gradients of every parameter. */
function build() {
  const t0 = performance.now();
  const b = new GraphBuilder('bench', { rng: Rng.fromSeed(0, 'init') });
  const x = b.input('tokens', 'float32', [BATCH * SEQ, SPEC.dim]);
  const y = b.scope('time', () => transformer({ b, rng: Rng.fromSeed(0, 'init'), mode: 'train', updates: [] }, x, SEQ, SPEC));
  const loss = b.output(b.ReduceMean(b.Mul(y, y), undefined, false), 'loss');
  const forwardNodes = b.graph.nodes.length;
  const t1 = performance.now();
  const params = b.params.map((p) => p.value);
  gradients(b, loss, params).forEach((g, i) => b.output(g!, `grad.${params[i]!.name}`));
  const t2 = performance.now();
  return { b, forwardNodes, forwardMs: t1 - t0, backwardMs: t2 - t1 };
}

/** What drawing the initial weights alone costs (the forward build draws them as it declares each parameter). */
function initMs(b: GraphBuilder): number {
  const rng = Rng.fromSeed(0, 'init');
  const t0 = performance.now();
  for (const p of b.params) if (p.tags.has('weight')) truncNormal(rng.fork(p.value.name), [...p.init.shape]);
  return performance.now() - t0;
}

const median = (xs: number[]): number => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)]!;
const ms = (x: number): string => `${x.toFixed(1)} ms`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repeat: { type: 'string', default: '5' } } });
  const repeat = Math.max(1, Number(values.repeat));
  const builds = [];
  const encodes: number[] = [];
  let encoded: Uint8Array = new Uint8Array();
  for (let i = 0; i < repeat; i++) {
    const r = build();
    builds.push(r);
    const t0 = performance.now();
    encoded = encodeModel(r.b.graph).model;
    encodes.push(performance.now() - t0);
  }
  const { b, forwardNodes } = builds[0]!;
  const sessions: number[] = [];
  for (let i = 0; i < Math.min(repeat, 3); i++) {
    const t0 = performance.now();
    const s = await createSession(encoded, { threads: THREADS });
    sessions.push(performance.now() - t0);
    await s.release();
  }
  const paramCount = b.params.reduce((a, p) => a + p.init.data.length, 0);
  const lines = [
    `transformer stack: ${SPEC.layers} pre-norm blocks, dim ${SPEC.dim}, ${SPEC.heads} heads × ${SPEC.headDim}, MLP ${SPEC.mlpDim}, sequence ${SEQ}, batch ${BATCH}`,
    `opset ${OPSET}, IR ${IR_VERSION}; ${b.params.length} parameter tensors, ${paramCount} parameters; median of ${repeat} builds, ${sessions.length} sessions`,
    `nodes: ${forwardNodes} forward + ${b.graph.nodes.length - forwardNodes} backward = ${b.graph.nodes.length}; ${b.graph.constants.length} constants`,
    `build forward:       ${ms(median(builds.map((r) => r.forwardMs)))} (of which drawing initial weights ≈ ${ms(initMs(b))})`,
    `build backward:      ${ms(median(builds.map((r) => r.backwardMs)))}`,
    `build total:         ${ms(median(builds.map((r) => r.forwardMs + r.backwardMs)))}`,
    `serialise:           ${ms(median(encodes))} (${encoded.byteLength} bytes)`,
    `ORT session create:  ${ms(median(sessions))} (CPU, intraOpNumThreads ${THREADS})`,
  ];
  console.log(lines.join('\n'));
}

await main();
