// Training steps for evaluation heads and fine-tuning: a training graph (loss, `<param>.grad`, `<buffer>.new`) and
// one optimizer graph over all its parameters (`buildOptimizerGraph`), both run in onnxruntime; values live in JS
// between steps. Learning rate: cosine from `lr` to 0 over the planned steps.
import * as ort from 'onnxruntime-node';
import type { OptimizerConfig } from '../config/index.ts';
import { GraphBuilder, type Param } from '../graph/builder.ts';
import type { Graph } from '../graph/ir.ts';
import { encodeModel } from '../graph/onnx.ts';
import { buildOptimizerGraph, gradName, initOptimizerState, LR, newName, optimizerSpec, STEP } from '../graph/optim/index.ts';
import { isStatic } from '../graph/shape.ts';
import type { Tensor } from '../graph/tensor.ts';
import { createSession, fromOrt, runChecked, toOrt, type ExecutionProvider } from '../train/session.ts';

export interface StepGraph {
  graph: Graph;
  params: readonly Param[];
  buffers: readonly Param[];
  /** the loss output's name */
  loss: string;
}

export const cosineLr = (lr: number, step: number, total: number): number => 0.5 * lr * (1 + Math.cos((Math.PI * Math.min(step, total)) / Math.max(1, total)));

export class GraphTrainer {
  private step = 0;

  private constructor(
    private readonly g: StepGraph,
    private readonly train: ort.InferenceSession,
    private readonly optim: ort.InferenceSession,
    private readonly values: Map<string, ort.Tensor>,
    private readonly state: Map<string, ort.Tensor>,
    private readonly stateNames: readonly string[],
  ) {}

  /** `initial` overrides the graph's initial values (e.g. an encoder from a checkpoint). */
  static async create(g: StepGraph, optimizer: OptimizerConfig, o: { initial?: ReadonlyMap<string, Tensor>; ep?: ExecutionProvider; threads?: number } = {}): Promise<GraphTrainer> {
    const params = g.params.map((p) => {
      if (!isStatic(p.value.shape)) throw new Error(`GraphTrainer: ${p.value.name} has a symbolic shape`);
      return { name: p.value.name, shape: p.value.shape, predictor: false };
    });
    const spec = optimizerSpec({ optimizer, predictor_lr_mult: 1, no_decay: ['bias', 'norm'], clip_grad_norm: null }, params);
    const ob = new GraphBuilder('optim');
    buildOptimizerGraph(ob, spec);
    const [train, optim] = await Promise.all([createSession(encodeModel(g.graph).model, o), createSession(encodeModel(ob.graph).model, o)]);
    const values = new Map<string, ort.Tensor>();
    for (const p of [...g.params, ...g.buffers]) {
      const t = o.initial?.get(p.value.name) ?? p.init;
      values.set(p.value.name, toOrt({ ...t, data: t.data.slice() }));
    }
    const state = new Map(Object.entries(initOptimizerState(spec)).map(([k, t]) => [k, toOrt(t)]));
    return new GraphTrainer(g, train, optim, values, state, [...state.keys()]);
  }

  /** One step on `feeds` (the graph's data inputs) at learning rate `lr`; returns the loss. */
  async run(feeds: Record<string, ort.Tensor>, lr: number): Promise<number> {
    const out = await runChecked(this.train, { ...feeds, ...Object.fromEntries(this.values) });
    for (const b of this.g.buffers) this.values.set(b.value.name, out[newName(b.value.name)]!);
    this.step++;
    const of: Record<string, ort.Tensor> = {
      [LR]: new ort.Tensor('float32', Float32Array.of(lr), []),
      [STEP]: new ort.Tensor('int64', BigInt64Array.of(BigInt(this.step)), []),
    };
    for (const p of this.g.params) {
      of[p.value.name] = this.values.get(p.value.name)!;
      of[gradName(p.value.name)] = out[gradName(p.value.name)]!;
    }
    for (const s of this.stateNames) of[s] = this.state.get(s)!;
    const next = await runChecked(this.optim, of);
    for (const p of this.g.params) this.values.set(p.value.name, next[newName(p.value.name)]!);
    for (const s of this.stateNames) this.state.set(s, next[newName(s)]!);
    return Number((out[this.g.loss]!.data as Float32Array)[0]);
  }

  /** The current parameters and buffers. */
  current(): Map<string, Tensor> {
    return new Map([...this.values].map(([k, v]) => [k, fromOrt(v)]));
  }

  async release(): Promise<void> {
    await Promise.all([this.train.release(), this.optim.release()]);
  }
}
