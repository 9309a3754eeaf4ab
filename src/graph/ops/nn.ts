// Normalisations, convolutions and pooling (NCHW / NCDHW).
import { fmtShape, normAxis, type Dim } from '../shape.ts';
import {
  attrInt, attrInts, attrString, describe, fail, input, optInput, requireFloat, sameDtype, type InferCtx, type OpDef,
} from './infer.ts';

export interface WindowAttrs {
  kernel: number[];
  strides: number[];
  pads: number[];
  dilations: number[];
}

/** Kernel, strides, pads (begin..., end...) and dilations of a conv or pool over `spatial` axes. */
export function windowAttrs(c: InferCtx, spatial: number, kernel: readonly number[]): WindowAttrs {
  if (attrString(c, 'auto_pad', 'NOTSET') !== 'NOTSET') fail(c, 'auto_pad is not supported; give explicit pads');
  if (kernel.length !== spatial) fail(c, `kernel_shape [${kernel.join(',')}] must have ${spatial} entries`);
  const ones = Array<number>(spatial).fill(1);
  const strides = [...attrInts(c, 'strides', ones)];
  const pads = [...attrInts(c, 'pads', Array<number>(2 * spatial).fill(0))];
  const dilations = [...attrInts(c, 'dilations', ones)];
  if (strides.length !== spatial || dilations.length !== spatial || pads.length !== 2 * spatial) {
    fail(c, `strides/dilations need ${spatial} entries and pads ${2 * spatial}`);
  }
  return { kernel: [...kernel], strides, pads, dilations };
}

function convOut(c: InferCtx, x: readonly Dim[], w: WindowAttrs): number[] {
  return w.kernel.map((k, i) => {
    const d = x[i]!;
    if (typeof d !== 'number') fail(c, `spatial dims must be static, got ${d}`);
    const out = Math.floor((d + w.pads[i]! + w.pads[i + w.kernel.length]! - w.dilations[i]! * (k - 1) - 1) / w.strides[i]!) + 1;
    if (out < 1) fail(c, `window ${k} (dilation ${w.dilations[i]}) does not fit spatial size ${d} with pads ${w.pads[i]}+${w.pads[i + w.kernel.length]}`);
    return out;
  });
}

function pool(withIndices: boolean): OpDef {
  return {
    arity: [1, 1],
    infer: (c) => {
      const x = requireFloat(c, 0);
      if (x.shape.length < 3) fail(c, `${describe(x, 0)} must be N×C×spatial`);
      if (attrInt(c, 'ceil_mode', 0) !== 0) fail(c, 'ceil_mode=1 is not supported');
      const w = windowAttrs(c, x.shape.length - 2, attrInts(c, 'kernel_shape'));
      const shape = [x.shape[0]!, x.shape[1]!, ...convOut(c, x.shape.slice(2), w)];
      return withIndices ? [{ dtype: x.dtype, shape }, { dtype: 'int64', shape }] : [{ dtype: x.dtype, shape }];
    },
  };
}

export const nnOps = {
  LayerNormalization: {
    arity: [2, 3],
    infer: (c) => {
      const x = requireFloat(c, 0);
      const dtype = sameDtype(c, [0, 1, 2]);
      const axis = normAxis(attrInt(c, 'axis', -1), x.shape.length);
      if (axis === null) fail(c, `axis ${attrInt(c, 'axis', -1)} is out of range for ${describe(x, 0)}`);
      const normShape = x.shape.slice(axis);
      for (const i of [1, 2]) {
        const v = optInput(c, i);
        if (v && fmtShape(v.shape) !== fmtShape(normShape)) fail(c, `${describe(v, i)} must have shape ${fmtShape(normShape)} (the normalised axes of ${describe(x, 0)})`);
      }
      const statShape = x.shape.map((d, i) => (i < axis ? d : 1));
      // Mean and InvStdDev come in the stash type, float32 (ORT has no double stash).
      return [{ dtype, shape: x.shape }, { dtype: 'float32', shape: statShape }, { dtype: 'float32', shape: statShape }];
    },
  },
  BatchNormalization: {
    arity: [5, 5],
    infer: (c) => {
      const x = requireFloat(c, 0);
      const dtype = sameDtype(c, [0, 1, 2, 3, 4]);
      if (x.shape.length < 2) fail(c, `${describe(x, 0)} must be N×C×...`);
      for (const i of [1, 2, 3, 4]) {
        const v = input(c, i);
        if (v.shape.length !== 1 || v.shape[0] !== x.shape[1]) fail(c, `${describe(v, i)} must have shape [${x.shape[1]}] (the channels of ${describe(x, 0)})`);
      }
      const training = attrInt(c, 'training_mode', 0) === 1;
      const stat = { dtype, shape: [x.shape[1]!] };
      return training ? [{ dtype, shape: x.shape }, stat, stat] : [{ dtype, shape: x.shape }];
    },
  },
  Conv: {
    arity: [2, 3],
    infer: (c) => {
      const x = requireFloat(c, 0);
      const wt = input(c, 1);
      const dtype = sameDtype(c, [0, 1, 2]);
      const group = attrInt(c, 'group', 1);
      if (x.shape.length < 3 || wt.shape.length !== x.shape.length) fail(c, `${describe(x, 0)} and weight ${describe(wt, 1)} must both be N×C×spatial with the same rank`);
      const cin = x.shape[1]!;
      if (typeof cin !== 'number' || cin !== (wt.shape[1] as number) * group) {
        fail(c, `${describe(x, 0)} has ${cin} channels, but weight ${describe(wt, 1)} with group=${group} expects ${(wt.shape[1] as number) * group}`);
      }
      if ((wt.shape[0] as number) % group !== 0) fail(c, `weight ${describe(wt, 1)}: output channels not divisible by group ${group}`);
      const b = optInput(c, 2);
      if (b && fmtShape(b.shape) !== fmtShape([wt.shape[0]!])) fail(c, `bias ${describe(b, 2)} must have shape [${wt.shape[0]}]`);
      const kernel = attrInts(c, 'kernel_shape', wt.shape.slice(2) as number[]);
      const w = windowAttrs(c, x.shape.length - 2, kernel);
      return [{ dtype, shape: [x.shape[0]!, wt.shape[0]!, ...convOut(c, x.shape.slice(2), w)] }];
    },
  },
  ConvTranspose: {
    arity: [2, 3],
    infer: (c) => {
      const x = requireFloat(c, 0);
      const wt = input(c, 1);
      const dtype = sameDtype(c, [0, 1, 2]);
      const group = attrInt(c, 'group', 1);
      if (x.shape[1] !== wt.shape[0]) fail(c, `${describe(x, 0)} has ${x.shape[1]} channels, weight ${describe(wt, 1)} expects ${wt.shape[0]}`);
      const spatial = x.shape.length - 2;
      const w = windowAttrs(c, spatial, attrInts(c, 'kernel_shape', wt.shape.slice(2) as number[]));
      const outPad = attrInts(c, 'output_padding', Array<number>(spatial).fill(0));
      const out = w.kernel.map((k, i) => {
        const d = x.shape[i + 2] as number;
        return w.strides[i]! * (d - 1) + outPad[i]! + w.dilations[i]! * (k - 1) + 1 - w.pads[i]! - w.pads[i + spatial]!;
      });
      return [{ dtype, shape: [x.shape[0]!, (wt.shape[1] as number) * group, ...out] }];
    },
  },
  MaxPool: pool(true),
  AveragePool: pool(false),
} satisfies Record<string, OpDef>;

export type { Dim };
