// How one optimizer step runs on onnxruntime-node. Parameters, buffers and optimizer state live in `state` as ORT
// tensors: a run's outputs (`<name>.new`) become the next run's inputs without passing through JavaScript arrays.
// - FusedRunner: one run of step.onnx (forward, every group's backward and optimizer update).
// - GroupRunner: the per-group artifacts: `<g>.train.onnx` per micro-batch (gradients summed over `accum`
//   micro-batches), then `<g>.optim.onnx`; only the groups active this step are trained (alternation).
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Manifest } from '../graph/artifacts.ts';
import { gradNormName, lrName, stepName } from '../graph/model/graphs.ts';
import { GRAD_NORM, LR, newName, STEP } from '../graph/optim/index.ts';
import { createSession, runChecked, type SessionOptions } from './session.ts';

export type State = Map<string, ort.Tensor>;

/** The data of one micro-batch, as graph inputs (`video`, positions, `labels`...). */
export type BatchFeeds = Record<string, ort.Tensor>;

export interface StepResult {
  /** Every `loss.*` output (micro-batch mean under accumulation). */
  losses: Record<string, number>;
  /** `grad_norm.<group>` of the groups that stepped. */
  gradNorms: Record<string, number>;
  monitors: Record<string, number>;
}

export interface Runner {
  /**
   * Runs one optimizer step over `micro` micro-batches, training `active` groups with learning rates `lr`; `scalars`
   * are step-wide inputs (the EMA decay) fed to the graphs that take them.
   */
  step(micro: readonly BatchFeeds[], active: readonly string[], lr: Record<string, number>, groupSteps: Record<string, number>, scalars?: Record<string, ort.Tensor>): Promise<StepResult>;
}

const scalar = (t: ort.Tensor): number => Number((t.data as ArrayLike<number | bigint>)[0]);
const f32 = (v: number) => new ort.Tensor('float32', new Float32Array([v]), []);
const i64 = (v: number) => new ort.Tensor('int64', new BigInt64Array([BigInt(v)]), []);

function collect(out: Record<string, ort.Tensor>, into: StepResult, prefix: 'loss.' | 'monitor.'): void {
  const target = prefix === 'loss.' ? into.losses : into.monitors;
  for (const [k, v] of Object.entries(out)) if (k.startsWith(prefix)) target[k] = scalar(v);
}

/** Feeds of `names` taken from the state; a missing one is a bug in the artifacts or the state. */
function fromState(state: State, names: readonly string[], feeds: Record<string, ort.Tensor>): void {
  for (const n of names) {
    const t = state.get(n);
    if (t) feeds[n] = t;
  }
}

export class FusedRunner implements Runner {
  /** Wall time of the last session run (ms): the graph's share of a step. */
  lastRunMs = 0;
  private readonly inputs: Set<string>;

  private constructor(private readonly session: ort.InferenceSession, private readonly state: State, private readonly stateInputs: string[]) {
    this.inputs = new Set(session.inputNames);
  }

  static async create(dir: string, m: Manifest, state: State, o: SessionOptions): Promise<FusedRunner> {
    const g = m.graphs.step!;
    const session = await createSession(join(dir, g.file), o);
    const names = new Set(state.keys());
    return new FusedRunner(session, state, g.inputs.map((i) => i.name).filter((n) => names.has(n)));
  }

  async step(micro: readonly BatchFeeds[], _active: readonly string[], lr: Record<string, number>, groupSteps: Record<string, number>, scalars: Record<string, ort.Tensor> = {}): Promise<StepResult> {
    if (micro.length !== 1) throw new Error('the fused step runs one micro-batch per step');
    const feeds: Record<string, ort.Tensor> = { ...micro[0]! };
    for (const [k, v] of Object.entries(scalars)) if (this.inputs.has(k)) feeds[k] = v;
    fromState(this.state, this.stateInputs, feeds);
    for (const g of Object.keys(lr)) {
      feeds[lrName(g)] = f32(lr[g]!);
      // SGD does not read the step: the graph has no such input then.
      if (this.inputs.has(stepName(g))) feeds[stepName(g)] = i64(groupSteps[g]! + 1);
    }
    const t0 = performance.now();
    const out = await runChecked(this.session, feeds);
    this.lastRunMs = performance.now() - t0;
    const r: StepResult = { losses: {}, gradNorms: {}, monitors: {} };
    collect(out, r, 'loss.');
    collect(out, r, 'monitor.');
    for (const g of Object.keys(lr)) r.gradNorms[g] = scalar(out[gradNormName(g)]!);
    for (const n of this.stateInputs) {
      const next = out[newName(n)];
      if (next) this.state.set(n, next);
    }
    return r;
  }
}

export class GroupRunner implements Runner {
  private constructor(
    private readonly m: Manifest,
    private readonly train: Map<string, ort.InferenceSession>,
    private readonly optim: Map<string, ort.InferenceSession>,
    private readonly ema: ort.InferenceSession | null,
    private readonly state: State,
  ) {}

  static async create(dir: string, m: Manifest, state: State, o: SessionOptions): Promise<GroupRunner> {
    const train = new Map<string, ort.InferenceSession>();
    const optim = new Map<string, ort.InferenceSession>();
    for (const [g, e] of Object.entries(m.groups)) {
      train.set(g, await createSession(join(dir, e.train), o));
      optim.set(g, await createSession(join(dir, e.optim), o));
    }
    const ema = m.ema ? await createSession(join(dir, m.ema.update), o) : null;
    return new GroupRunner(m, train, optim, ema, state);
  }

  async step(micro: readonly BatchFeeds[], active: readonly string[], lr: Record<string, number>, groupSteps: Record<string, number>, scalars: Record<string, ort.Tensor> = {}): Promise<StepResult> {
    const r: StepResult = { losses: {}, gradNorms: {}, monitors: {} };
    const sums = new Map<string, Float32Array>();
    for (const g of active) {
      const session = this.train.get(g)!;
      const e = this.m.groups[g]!;
      for (const feedsOfBatch of micro) {
        const feeds: Record<string, ort.Tensor> = {};
        for (const name of session.inputNames) feeds[name] = feedsOfBatch[name] ?? this.state.get(name)!;
        const out = await runChecked(session, feeds);
        for (const [k, v] of Object.entries(out)) {
          if (k.startsWith('loss.') || k.startsWith('monitor.')) {
            const tgt = k.startsWith('loss.') ? r.losses : r.monitors;
            tgt[k] = (tgt[k] ?? 0) + scalar(v) / micro.length;
          }
        }
        for (const p of e.params) {
          const g1 = out[`${p}.grad`]!.data as Float32Array;
          const acc = sums.get(p);
          if (acc) for (let i = 0; i < acc.length; i++) acc[i]! += g1[i]!;
          else sums.set(p, Float32Array.from(g1));
        }
        // Running statistics follow every micro-batch, as in a PyTorch training-mode forward.
        for (const b of e.buffers) this.state.set(b, out[newName(b)]!);
      }
      const optim = this.optim.get(g)!;
      const feeds: Record<string, ort.Tensor> = { [LR]: f32(lr[g]!), [STEP]: i64(groupSteps[g]! + 1) };
      for (const p of e.params) {
        const acc = sums.get(p)!;
        if (micro.length > 1) for (let i = 0; i < acc.length; i++) acc[i]! /= micro.length;
        feeds[p] = this.state.get(p)!;
        feeds[`${p}.grad`] = new ort.Tensor('float32', acc, this.state.get(p)!.dims);
      }
      fromState(this.state, e.state, feeds);
      const out = await runChecked(optim, feeds);
      for (const n of [...e.params, ...e.state]) this.state.set(n, out[newName(n)]!);
      r.gradNorms[g] = scalar(out[GRAD_NORM]!);
    }
    if (this.ema) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of this.ema.inputNames) feeds[name] = scalars[name] ?? this.state.get(name)!;
      const out = await runChecked(this.ema, feeds);
      for (const n of this.m.ema!.params) this.state.set(n, out[newName(n)]!);
    }
    return r;
  }
}
