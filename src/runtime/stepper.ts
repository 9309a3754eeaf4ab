// One optimizer step on onnxruntime-node, for training, the probe and fine-tuning alike. Parameters, buffers and
// optimizer state live in a `State` of ORT tensors: a run's outputs (`<name>.new`) replace their entries and feed the
// next run without passing through JavaScript arrays. Which outputs update which entries, and which are gradients,
// losses and monitors, is settled once per session from the names the name contract builds.
// - FusedStepper: one run of step.onnx (forward, every group's backward and optimizer update).
// - LoopStepper: one run of step.loop.onnx for a block of steps (the fused step in an ONNX Loop): the state crosses
//   into JavaScript once per block; each step's losses, gradient norms and monitors come back as one row per step.
// - GroupStepper: per group, its training graph on each micro-batch (gradients averaged over them); then per group its
//   optimizer graph; only the groups given a learning rate step (alternation). Then the EMA update, when there is one.
//   Every gradient is taken before any update, so both steppers take the same step.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { OptimizerConfig } from '../config/index.ts';
import { STEP_LOOP, type Manifest } from '../graph/artifacts.ts';
import { GraphBuilder, type Param } from '../graph/builder.ts';
import type { Graph } from '../graph/ir.ts';
import { GRAD_NORM, gradName, gradNormName, isMonitor, lossOutputs, LR, lrName, newName, STEP, stepName, type LossKey } from '../graph/names.ts';
import { encodeModel } from '../graph/onnx.ts';
import { buildOptimizerGraph, initOptimizerState, optimizerSpec } from '../graph/optim/index.ts';
import { isStatic } from '../graph/shape.ts';
import type { Tensor } from '../graph/tensor.ts';
import { f32, feedsOf, i64, rowOf, scalarOf, stackFeeds, type Feeds } from './feeds.ts';
import { createSession, runChecked, toOrt, type SessionOptions } from './session.ts';
import type { State } from './state.ts';

export interface LossValue extends LossKey {
  value: number;
}

export interface StepResult {
  /** Every loss output of the graphs that ran, in output order (under accumulation: the mean over micro-batches). */
  losses: LossValue[];
  /** Per group that stepped: its gradient norm before clipping. */
  gradNorms: Record<string, number>;
  /** Collapse monitors by output name. */
  monitors: Record<string, number>;
}

/** What one optimizer step takes: the arguments of `Stepper.step`. */
export interface StepInput {
  micro: readonly Feeds[];
  lr: Readonly<Record<string, number>>;
  steps: Readonly<Record<string, number>>;
  scalars?: Feeds;
}

export interface Stepper extends AsyncDisposable {
  /**
   * One optimizer step over `micro` micro-batches for the groups in `lr` (their learning rates), each having taken
   * `steps[group]` steps before; `scalars` are step-wide inputs (the EMA decay) for the graphs that take them.
   */
  step(micro: readonly Feeds[], lr: Readonly<Record<string, number>>, steps: Readonly<Record<string, number>>, scalars?: Feeds): Promise<StepResult>;
  /** The steps of a block in order (each input as `step` takes it), and each one's result. */
  block(steps: readonly StepInput[]): Promise<StepResult[]>;
  release(): Promise<void>;
}

/** A block as one `step` after another. */
async function stepEach(s: Stepper, steps: readonly StepInput[]): Promise<StepResult[]> {
  const out: StepResult[] = [];
  for (const x of steps) out.push(await s.step(x.micro, x.lr, x.steps, x.scalars));
  return out;
}

/** The fused step's per-group inputs: `lr.<group>` and `step.<group>` (1-based) for the groups in `lr`. */
function groupFeeds(lr: Readonly<Record<string, number>>, steps: Readonly<Record<string, number>>): Feeds {
  const feeds: Feeds = {};
  for (const [g, rate] of Object.entries(lr)) {
    feeds[lrName(g)] = f32(rate);
    feeds[stepName(g)] = i64(steps[g]! + 1);
  }
  return feeds;
}

type Model = string | Uint8Array;

/** The state entries a session's outputs replace: those `<name>.new` names. */
const updatedBy = (session: ort.InferenceSession, state: State): string[] => {
  const outputs = new Set(session.outputNames);
  return [...state.keys()].filter((n) => outputs.has(newName(n)));
};

const monitorsOf = (session: ort.InferenceSession): string[] => session.outputNames.filter(isMonitor);

export class FusedStepper implements Stepper {
  /** Wall time of the last session run (ms): the graph's share of a step. */
  lastRunMs = 0;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly state: State,
    private readonly losses: [string, LossKey][],
    private readonly monitors: string[],
    private readonly updated: string[],
  ) {}

  static async open(dir: string, m: Manifest, state: State, o: SessionOptions): Promise<FusedStepper> {
    const session = await createSession(join(dir, m.graphs.step!.file), o);
    return new FusedStepper(session, state, [...lossOutputs(session.outputNames, Object.keys(m.groups))], monitorsOf(session), updatedBy(session, state));
  }

  async step(micro: readonly Feeds[], lr: Readonly<Record<string, number>>, steps: Readonly<Record<string, number>>, scalars: Feeds = {}): Promise<StepResult> {
    if (micro.length !== 1) throw new Error('the fused step runs one micro-batch per step');
    const t0 = performance.now();
    const out = await runChecked(this.session, feedsOf(this.session.inputNames, micro[0]!, groupFeeds(lr, steps), scalars, this.state));
    this.lastRunMs = performance.now() - t0;
    for (const n of this.updated) this.state.set(n, out[newName(n)]!);
    return {
      losses: this.losses.map(([name, key]) => ({ ...key, value: scalarOf(out[name]!) })),
      gradNorms: Object.fromEntries(Object.keys(lr).map((g) => [g, scalarOf(out[gradNormName(g)]!)])),
      monitors: Object.fromEntries(this.monitors.map((name) => [name, scalarOf(out[name]!)])),
    };
  }

  block(steps: readonly StepInput[]): Promise<StepResult[]> {
    return stepEach(this, steps);
  }

  release(): Promise<void> {
    return this.session.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/**
 * A block of K fused steps in one run of the step loop graph: the per-step inputs (the micro-batch, `lr.<group>`,
 * `step.<group>`, the scalars) stacked (K, ...), the state fed once; the state after the K-th step replaces its
 * entries, and row k of each stacked output is step k's loss, gradient norm or monitor.
 */
export class LoopStepper implements Stepper {
  /** Wall time of the last session run (ms): the graph's share of a block. */
  lastRunMs = 0;

  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly state: State,
    private readonly losses: [string, LossKey][],
    private readonly monitors: string[],
    private readonly updated: string[],
    /** The inputs fed per step (stacked): every input that is not state. */
    private readonly perStep: string[],
  ) {}

  static async open(dir: string, m: Manifest, state: State, o: SessionOptions): Promise<LoopStepper> {
    const g = m.graphs[STEP_LOOP];
    if (!g) throw new Error(`artifacts ${dir}: no ${STEP_LOOP} graph (built when train.steps_per_run > 1)`);
    return LoopStepper.fromModel(join(dir, g.file), Object.keys(m.groups), state, o);
  }

  /** A loop stepper over the step loop graph `model` of the optimizer groups `groups`. */
  static async fromModel(model: Model, groups: readonly string[], state: State, o: SessionOptions): Promise<LoopStepper> {
    const session = await createSession(model, o);
    const perStep = session.inputNames.filter((n) => !state.has(n));
    return new LoopStepper(session, state, [...lossOutputs(session.outputNames, groups)], monitorsOf(session), updatedBy(session, state), perStep);
  }

  async step(micro: readonly Feeds[], lr: Readonly<Record<string, number>>, steps: Readonly<Record<string, number>>, scalars: Feeds = {}): Promise<StepResult> {
    return (await this.block([{ micro, lr, steps, scalars }]))[0]!;
  }

  async block(steps: readonly StepInput[]): Promise<StepResult[]> {
    const each = steps.map((s, k) => {
      if (s.micro.length !== 1) throw new Error(`the step loop runs one micro-batch per step, got ${s.micro.length} at step ${k} of the block`);
      return { ...s.micro[0]!, ...groupFeeds(s.lr, s.steps), ...s.scalars };
    });
    const t0 = performance.now();
    const out = await runChecked(this.session, feedsOf(this.session.inputNames, stackFeeds(this.perStep, each), this.state));
    this.lastRunMs = performance.now() - t0;
    for (const n of this.updated) this.state.set(n, out[newName(n)]!);
    return steps.map((s, k) => ({
      losses: this.losses.map(([name, key]) => ({ ...key, value: rowOf(out[name]!, k) })),
      gradNorms: Object.fromEntries(Object.keys(s.lr).map((g) => [g, rowOf(out[gradNormName(g)]!, k)])),
      monitors: Object.fromEntries(this.monitors.map((name) => [name, rowOf(out[name]!, k)])),
    }));
  }

  release(): Promise<void> {
    return this.session.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

interface Group {
  train: ort.InferenceSession;
  optim: ort.InferenceSession;
  /** The parameters whose gradients the training graph outputs. */
  params: string[];
  /** Buffers (running statistics) the training graph updates. */
  buffers: string[];
  /** Parameters and optimizer state the optimizer graph updates. */
  optimized: string[];
  losses: [string, LossKey][];
  monitors: string[];
}

export class GroupStepper implements Stepper {
  private constructor(
    private readonly groups: ReadonlyMap<string, Group>,
    private readonly ema: { session: ort.InferenceSession; updated: string[] } | null,
    private readonly state: State,
  ) {}

  /** Per group its training graph (losses, `<param>.grad`, `<buffer>.new`) and optimizer graph; an EMA update graph. */
  static async open(models: Readonly<Record<string, { train: Model; optim: Model }>>, state: State, o: SessionOptions, ema?: Model): Promise<GroupStepper> {
    const names = Object.keys(models);
    const groups = new Map<string, Group>();
    for (const [g, e] of Object.entries(models)) {
      const train = await createSession(e.train, o);
      const optim = await createSession(e.optim, o);
      const grads = new Set(train.outputNames);
      groups.set(g, {
        train, optim,
        params: [...state.keys()].filter((n) => grads.has(gradName(n))),
        buffers: updatedBy(train, state),
        optimized: updatedBy(optim, state),
        losses: [...lossOutputs(train.outputNames, names)],
        monitors: monitorsOf(train),
      });
    }
    const session = ema === undefined ? null : await createSession(ema, o);
    return new GroupStepper(groups, session && { session, updated: updatedBy(session, state) }, state);
  }

  static fromArtifacts(dir: string, m: Manifest, state: State, o: SessionOptions): Promise<GroupStepper> {
    const models = Object.fromEntries(Object.entries(m.groups).map(([g, e]) => [g, { train: join(dir, e.train), optim: join(dir, e.optim) }]));
    return GroupStepper.open(models, state, o, m.ema && join(dir, m.ema.update));
  }

  async step(micro: readonly Feeds[], lr: Readonly<Record<string, number>>, steps: Readonly<Record<string, number>>, scalars: Feeds = {}): Promise<StepResult> {
    const r: StepResult = { losses: [], gradNorms: {}, monitors: {} };
    // Every group's gradients from the state before the step, as in the fused graph; then every group's update.
    const grads = new Map<string, Feeds>();
    for (const g of Object.keys(lr)) grads.set(g, await this.gradients(this.groups.get(g)!, micro, r));
    for (const [g, rate] of Object.entries(lr)) {
      const { optim, optimized } = this.groups.get(g)!;
      const out = await runChecked(optim, feedsOf(optim.inputNames, grads.get(g)!, { [LR]: f32(rate), [STEP]: i64(steps[g]! + 1) }, this.state));
      for (const n of optimized) this.state.set(n, out[newName(n)]!);
      r.gradNorms[g] = scalarOf(out[GRAD_NORM]!);
    }
    if (this.ema) {
      const { session, updated } = this.ema;
      const out = await runChecked(session, feedsOf(session.inputNames, scalars, this.state));
      for (const n of updated) this.state.set(n, out[newName(n)]!);
    }
    return r;
  }

  block(steps: readonly StepInput[]): Promise<StepResult[]> {
    return stepEach(this, steps);
  }

  /** `<param>.grad` of the group's parameters, averaged over the micro-batches; their losses and monitors go to `r`. */
  private async gradients(group: Group, micro: readonly Feeds[], r: StepResult): Promise<Feeds> {
    const losses = group.losses.map(([, key]) => ({ ...key, value: 0 }));
    const sums = new Map<string, Float32Array>();
    const grads: Feeds = {};
    for (const [i, batch] of micro.entries()) {
      const out = await runChecked(group.train, feedsOf(group.train.inputNames, batch, this.state));
      group.losses.forEach(([name], k) => (losses[k]!.value += scalarOf(out[name]!) / micro.length));
      for (const name of group.monitors) r.monitors[name] = (r.monitors[name] ?? 0) + scalarOf(out[name]!) / micro.length;
      for (const p of group.params) {
        const g = out[gradName(p)]!;
        if (micro.length === 1) grads[gradName(p)] = g;
        else if (i === 0) sums.set(p, Float32Array.from(g.data as Float32Array));
        else {
          const [acc, d] = [sums.get(p)!, g.data as Float32Array];
          for (let j = 0; j < acc.length; j++) acc[j]! += d[j]!;
        }
      }
      // Running statistics follow every micro-batch, as in a PyTorch training-mode forward.
      for (const b of group.buffers) this.state.set(b, out[newName(b)]!);
    }
    for (const [p, acc] of sums) {
      for (let j = 0; j < acc.length; j++) acc[j]! /= micro.length;
      grads[gradName(p)] = new ort.Tensor('float32', acc, this.state.get(p)!.dims);
    }
    r.losses.push(...losses);
    return grads;
  }

  async release(): Promise<void> {
    for (const g of this.groups.values()) await Promise.all([g.train.release(), g.optim.release()]);
    await this.ema?.session.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

/** A training graph built in memory (a probe head, the fine-tuning graph) and the parameters and buffers it trains. */
export interface TrainingGraph {
  graph: Graph;
  params: readonly Param[];
  buffers: readonly Param[];
}

/**
 * A one-group stepper over `g` and an optimizer graph built for its parameters (`optimizer`; no weight decay on
 * biases and norms), with the state it steps: the graph's initial values (or `initial`'s) and optimizer state at zero.
 */
export async function graphStepper(group: string, g: TrainingGraph, optimizer: OptimizerConfig, o: SessionOptions & { initial?: ReadonlyMap<string, Tensor> } = {}): Promise<{ stepper: GroupStepper; state: State }> {
  const params = g.params.map((p) => {
    if (!isStatic(p.value.shape)) throw new Error(`graphStepper: ${p.value.name} has a symbolic shape`);
    return { name: p.value.name, shape: p.value.shape, predictor: false };
  });
  const spec = optimizerSpec({ optimizer, predictor_lr_mult: 1, no_decay: ['bias', 'norm'], clip_grad_norm: null }, params);
  const ob = new GraphBuilder(`${group}.optim`);
  buildOptimizerGraph(ob, spec);
  const state: State = new Map();
  for (const p of [...g.params, ...g.buffers]) {
    const t = o.initial?.get(p.value.name) ?? p.init;
    state.set(p.value.name, toOrt({ ...t, data: t.data.slice() }));
  }
  for (const [name, t] of Object.entries(initOptimizerState(spec))) state.set(name, toOrt(t));
  const models = { [group]: { train: encodeModel(g.graph).model, optim: encodeModel(ob.graph).model } };
  return { stepper: await GroupStepper.open(models, state, { ep: o.ep, threads: o.threads }), state };
}
