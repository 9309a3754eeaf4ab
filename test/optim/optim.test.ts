// Optimizer graphs against a plain-TypeScript reference (PyTorch's SGD and AdamW, float32 emulated with Math.fround),
// five steps each through onnxruntime-node, feeding each step's outputs back as the next step's inputs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OptimizerConfig } from '../../src/config/schema.ts';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { GRAD_NORM, gradName, LR, newName, STEP } from '../../src/graph/names.ts';
import { buildOptimizerGraph, decays, initOptimizerState, optimizerSpec, optimizerState, type OptimizerSpec, type OptimParam } from '../../src/graph/optim/index.ts';
import { tensor, type Tensor } from '../../src/graph/tensor.ts';
import { Rng } from '../../src/rng.ts';
import { randomTensor, runGraph, sessionOf, values } from '../helpers.ts';

const f = Math.fround;

const PARAMS: OptimParam[] = [
  { name: 'g.blocks.0.weight', shape: [3, 4], predictor: false, decay: true },
  { name: 'g.norm.bias', shape: [4], predictor: false, decay: false },
  { name: 'g.pred.up.weight', shape: [4, 2], predictor: true, decay: true },
  { name: 'g.pred.up.bias', shape: [2], predictor: true, decay: false },
];
const LRS = [0.1, 0.08, 0.05, 0.03, 0.01];
const STEPS = LRS.length;

/** One parameter's float32 state in the reference. */
interface RefParam { p: number[]; slots: Record<string, number[]> }

/** The reference step, written from PyTorch's documented algorithms; every operation rounds to float32. */
function referenceStep(spec: OptimizerSpec, ps: RefParam[], grads: number[][], lr: number, step: number): number {
  let sum = 0;
  for (const g of grads) for (const x of g) sum = f(sum + f(x * x));
  const norm = f(Math.sqrt(sum));
  const scale = spec.clipGradNorm === null ? null : f(Math.min(1, f(f(spec.clipGradNorm) / f(norm + f(1e-6)))));
  const lrIn = f(lr);
  const lrPred = f(lrIn * f(spec.predictorLrMult));
  const o = spec.optimizer;
  spec.params.forEach((param, k) => {
    const st = ps[k]!;
    const plr = param.predictor ? lrPred : lrIn;
    for (let i = 0; i < st.p.length; i++) {
      let g = scale === null ? grads[k]![i]! : f(grads[k]![i]! * scale);
      let p = st.p[i]!;
      if (o.name === 'sgd') {
        if (param.decay && o.weight_decay > 0) g = f(g + f(p * f(o.weight_decay)));
        if (o.momentum > 0) {
          const buf = f(f(st.slots.momentum![i]! * f(o.momentum)) + g);
          st.slots.momentum![i] = buf;
          g = o.nesterov ? f(g + f(buf * f(o.momentum))) : buf;
        }
        st.p[i] = f(p - f(g * plr));
      } else {
        const [b1, b2] = o.betas;
        const bc1 = f(1 - f(Math.pow(f(b1), step)));
        const bc2Sqrt = f(Math.sqrt(f(1 - f(Math.pow(f(b2), step)))));
        if (param.decay && o.weight_decay > 0) p = f(p * f(1 - f(plr * f(o.weight_decay))));
        const m = f(f(st.slots.exp_avg![i]! * f(b1)) + f(g * f(1 - b1)));
        const v = f(f(st.slots.exp_avg_sq![i]! * f(b2)) + f(f(g * g) * f(1 - b2)));
        st.slots.exp_avg![i] = m;
        st.slots.exp_avg_sq![i] = v;
        const denom = f(f(Math.sqrt(v) / bc2Sqrt) + f(o.eps));
        st.p[i] = f(p - f(f(m / denom) * f(plr / bc1)));
      }
    }
  });
  return norm;
}

function close(actual: number[], expected: number[], what: string, rtol = 2e-6, atol = 1e-7): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    const [a, e] = [actual[i]!, expected[i]!];
    assert.ok(Math.abs(a - e) <= atol + rtol * Math.abs(e), `${what}[${i}]: got ${a}, expected ${e}`);
  }
}

async function run(name: string, optimizer: OptimizerConfig, clipGradNorm: number | null, gradScale = 1): Promise<number[]> {
  const spec: OptimizerSpec = { optimizer, params: PARAMS, predictorLrMult: 3, clipGradNorm };
  const b = new GraphBuilder(`${name}.optim`);
  const graph = buildOptimizerGraph(b, spec);
  const session = await sessionOf(b);

  const rng = Rng.fromSeed(7, name);
  const params: Record<string, Tensor> = Object.fromEntries(PARAMS.map((p) => [p.name, randomTensor(rng, 'float32', [...p.shape])]));
  let state = initOptimizerState(spec);
  const ref: RefParam[] = PARAMS.map((p) => ({
    p: values(params[p.name]!),
    slots: Object.fromEntries(optimizerState(spec).filter((s) => s.param === p.name).map((s) => [s.slot, values(state[s.name]!)])),
  }));
  const norms: number[] = [];
  for (let t = 1; t <= STEPS; t++) {
    const grads = PARAMS.map((p) => randomTensor(rng, 'float32', [...p.shape]));
    for (const g of grads) (g.data as Float32Array).forEach((x, i, a) => (a[i] = x * gradScale));
    const feeds: Record<string, Tensor> = { [LR]: tensor('float32', [], [LRS[t - 1]!]), [STEP]: tensor('int64', [], [t]), ...params, ...state };
    PARAMS.forEach((p, k) => (feeds[gradName(p.name)] = grads[k]!));
    const out = await runGraph(session, feeds);
    assert.deepEqual(Object.keys(out).sort(), [...graph.outputs].sort());

    const norm = referenceStep(spec, ref, grads.map(values), LRS[t - 1]!, t);
    norms.push(norm);
    close(values(out[GRAD_NORM]!), [norm], `${name} step ${t} grad_norm`, 1e-5);
    PARAMS.forEach((p, k) => {
      close(values(out[newName(p.name)]!), ref[k]!.p, `${name} step ${t} ${p.name}`);
      for (const [slot, v] of Object.entries(ref[k]!.slots)) close(values(out[newName(`${p.name}.${slot}`)]!), v, `${name} step ${t} ${p.name}.${slot}`);
    });
    for (const p of PARAMS) params[p.name] = out[newName(p.name)]!;
    state = Object.fromEntries(Object.keys(state).map((k) => [k, out[newName(k)]!]));
  }
  return norms;
}

const sgd = (o: Partial<Extract<OptimizerConfig, { name: 'sgd' }>> = {}): OptimizerConfig => ({ name: 'sgd', lr: 0.1, momentum: 0.8, nesterov: true, weight_decay: 0.1, ...o });
const adamw = (o: Partial<Extract<OptimizerConfig, { name: 'adamw' }>> = {}): OptimizerConfig => ({ name: 'adamw', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0.05, ...o });

describe('SGD matches the reference over 5 steps', () => {
  test('Nesterov, weight decay with exclusions, predictor lr ×3', async () => { await run('sgd-nesterov', sgd(), null); });
  test('plain momentum', async () => { await run('sgd-momentum', sgd({ nesterov: false }), null); });
  test('no momentum: no state', async () => {
    assert.deepEqual(optimizerState({ optimizer: sgd({ momentum: 0, nesterov: false }), params: PARAMS, predictorLrMult: 3, clipGradNorm: null }), []);
    await run('sgd-plain', sgd({ momentum: 0, nesterov: false, weight_decay: 0 }), null);
  });
  test('clipping active', async () => {
    const norms = await run('sgd-clip', sgd(), 0.5);
    assert.ok(norms.every((n) => n > 0.5), 'the clip must bite at every step');
  });
  test('clipping inactive', async () => {
    const norms = await run('sgd-noclip', sgd(), 1e3);
    assert.ok(norms.every((n) => n < 1e3));
  });
});

describe('AdamW matches the reference over 5 steps (bias correction at steps 1..5)', () => {
  test('decoupled weight decay with exclusions, predictor lr ×3', async () => { await run('adamw', adamw(), null); });
  test('other betas, no decay', async () => { await run('adamw-betas', adamw({ betas: [0.5, 0.9], weight_decay: 0, eps: 1e-6 }), null); });
  test('clipping active, small gradients', async () => {
    const norms = await run('adamw-clip', adamw(), 0.1, 0.05);
    assert.ok(norms.every((n) => n > 0.1));
  });
});

describe('closed forms, independent of the reference', () => {
  const one = (decay: boolean): OptimParam[] => [{ name: 'w', shape: [2], predictor: false, decay }];
  async function step1(optimizer: OptimizerConfig, p: number[], g: number[], lr: number, state: Record<string, Tensor> = {}): Promise<Record<string, number[]>> {
    const b = new GraphBuilder('w.optim');
    buildOptimizerGraph(b, { optimizer, params: one(true), predictorLrMult: 3, clipGradNorm: null });
    const out = await runGraph(await sessionOf(b), {
      lr: tensor('float32', [], [lr]), step: tensor('int64', [], [1]), w: tensor('float32', [2], p), 'w.grad': tensor('float32', [2], g),
      ...initOptimizerState({ optimizer, params: one(true), predictorLrMult: 3, clipGradNorm: null }), ...state,
    });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, values(v)]));
  }

  test('SGD Nesterov: g = 0.5 + 0.1·1 = 0.6, buf = 0.6, p = 1 − 0.1·(0.6 + 0.8·0.6) = 0.892', async () => {
    const out = await step1(sgd(), [1, 1], [0.5, 0.5], 0.1);
    close(out['w.new']!, [0.892, 0.892], 'w', 1e-6);
    close(out['w.momentum.new']!, [0.6, 0.6], 'buf', 1e-6);
  });

  test('AdamW step 1 moves by lr·sign(g) after decoupled decay: p·(1 − lr·wd) − lr·g/(|g| + eps)', async () => {
    const out = await step1(adamw({ weight_decay: 0.5 }), [2, -1], [3, -0.25], 0.01);
    close(out['w.new']!, [2 * (1 - 0.005) - 0.01, -1 * (1 - 0.005) + 0.01], 'w', 1e-6);
    close(out['w.exp_avg_sq.new']!, [0.001 * 9, 0.001 * 0.0625], 'v', 1e-6);
  });
});

describe('spec and names', () => {
  test('inputs, outputs and state', () => {
    const spec: OptimizerSpec = { optimizer: adamw(), params: PARAMS.slice(0, 2), predictorLrMult: 3, clipGradNorm: null };
    const b = new GraphBuilder('g.optim');
    const g = buildOptimizerGraph(b, spec);
    assert.deepEqual(g.inputs, [
      'lr', 'step',
      'g.blocks.0.weight', 'g.blocks.0.weight.grad', 'g.blocks.0.weight.exp_avg', 'g.blocks.0.weight.exp_avg_sq',
      'g.norm.bias', 'g.norm.bias.grad', 'g.norm.bias.exp_avg', 'g.norm.bias.exp_avg_sq',
    ]);
    assert.deepEqual(g.outputs, [
      'g.blocks.0.weight.new', 'g.blocks.0.weight.exp_avg.new', 'g.blocks.0.weight.exp_avg_sq.new',
      'g.norm.bias.new', 'g.norm.bias.exp_avg.new', 'g.norm.bias.exp_avg_sq.new', 'grad_norm',
    ]);
    assert.equal(b.graph.constants.every((c) => c.data!.data.length === 1), true, 'only scalar constants');
    assert.deepEqual(g.state.map((s) => [s.name, s.shape]), [
      ['g.blocks.0.weight.exp_avg', [3, 4]], ['g.blocks.0.weight.exp_avg_sq', [3, 4]], ['g.norm.bias.exp_avg', [4]], ['g.norm.bias.exp_avg_sq', [4]],
    ]);
    assert.ok(Object.values(initOptimizerState(spec)).every((t) => values(t).every((x) => x === 0)));
  });

  test('optimizerSpec applies the no_decay fragments and the config', () => {
    const spec = optimizerSpec(
      { optimizer: sgd(), predictor_lr_mult: 3, no_decay: ['norm', 'bias', 'pos_embed', 'cls_token'], clip_grad_norm: null },
      [
        { name: 'space.blocks.0.attn.qkv.weight', shape: [2], predictor: false },
        { name: 'space.blocks.0.norm1.weight', shape: [2], predictor: false },
        { name: 'space.pos_embed', shape: [2], predictor: false },
        { name: 'space.cls_token', shape: [2], predictor: false },
        { name: 'space.pred.up.bias', shape: [2], predictor: true },
      ],
    );
    assert.deepEqual(spec.params.map((p) => p.decay), [true, false, false, false, false]);
    assert.equal(decays('time.out_proj.weight', []), true);
  });
});
