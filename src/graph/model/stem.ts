// From pixels to patch tokens: video (B, F, H, W, 3) → (B·F·P, patch_dim), with an optional stem before patchify.
import type { Value } from '../ir.ts';
import { uniformFanIn } from '../nn/init.ts';
import { batchNorm, linear, type Ctx } from '../nn/layers.ts';
import { stemOutput, type ModelSpec } from './spec.ts';

/**
 * (N, H, W, C) channels-last frames → (N·P, p·p·C) patch vectors, patches in row-major order. The trailing (p, C)
 * pixels of a patch row are contiguous, so this is one 4-D transpose of 48-float blocks (p=16, C=3): about twice as
 * fast in ORT as the equivalent 6-D one.
 */
function patchify(c: Ctx, x: Value, w: number, ch: number, p: number): Value {
  const { b } = c;
  const rows = b.Reshape(x, [-1, p, w / p, p * ch]); // (N·H/p, p1, W/p, p2·C)
  const patches = b.Transpose(rows, [0, 2, 1, 3]); // (N·H/p, W/p, p1, p2·C)
  return b.Reshape(patches, [-1, p * p * ch]);
}

function conv(c: Ctx, name: string, x: Value, out: number, kernel: number[], o: { strides?: number[]; pads?: number[] } = {}): Value {
  const { b } = c;
  const inCh = x.shape[1] as number;
  const fanIn = inCh * kernel.reduce((p, q) => p * q, 1);
  return b.scope(name, () => b.Conv(x, b.param('weight', (r) => uniformFanIn(r, [out, inCh, ...kernel], fanIn), ['weight']), null, o));
}

/**
 * Conv → BatchNorm → ReLU (channels-first), BN as in S3D (eps 1e-3, PyTorch momentum 0.001); `relu` false leaves the
 * ReLU to the caller.
 */
function convBnRelu(c: Ctx, name: string, x: Value, out: number, kernel: number[], o: { strides?: number[]; pads?: number[] } = {}, s3d = false, relu = true): Value {
  return c.b.scope(name, () => {
    const y = batchNorm(c, 'bn', conv(c, 'conv', x, out, kernel, o), { channelsLast: false, ...(s3d ? { eps: 1e-3, momentum: 0.001 } : {}) });
    return relu ? c.b.Relu(y) : y;
  });
}

/**
 * S3D's separable 3-D conv: (1,k,k) spatial then (k,1,1) temporal, each with BN and ReLU; the temporal one's ReLU is
 * left to the pool that follows it (reluPool3d).
 */
function sepConv3d(c: Ctx, name: string, x: Value, out: number, k: number): Value {
  const p = (k - 1) / 2;
  return c.b.scope(name, () => {
    const s = convBnRelu(c, 'spatial', x, out, [1, k, k], { pads: [0, p, p, 0, p, p] }, true);
    return convBnRelu(c, 'temporal', s, out, [k, 1, 1], { pads: [p, 0, 0, p, 0, 0] }, true, false);
  });
}

/**
 * ReLU then S3D's (1,3,3) stride-2 max pool, computed as pool then ReLU: the same values and the same gradient (both
 * monotone: the first maximum of a window is the first maximum after the ReLU wherever it is positive, and where it
 * is not the gradient is 0 either way), with the ReLU and its gradient on a quarter of the elements.
 */
const reluPool3d = (c: Ctx, x: Value) => c.b.Relu(c.b.MaxPool(x, { kernel: [1, 3, 3], strides: [1, 2, 2], pads: [0, 1, 1, 0, 1, 1] }).y);

/**
 * Patch tokens (B·F·P, patch_dim) of `video` (B, F, H, W, 3). Stems:
 * - linear: patchify pixels (no cross-frame mixing);
 * - conv2d: two per-frame 3×3 stride-2 conv-BN-ReLU stages (H/4), no cross-frame mixing;
 * - s3d: the original's S3D stem. Its temporal kernels 5 and 3 mix ±3 neighbouring frames, which weakens
 *   the premise that no information crosses frames below `time`.
 */
export function embedPatches(c: Ctx, s: ModelSpec, video: Value): Value {
  const { b } = c;
  const [H, W] = [s.height, s.width];
  const out = stemOutput(s);
  let frames: Value; // (B·F, h, w, C) channels-last
  if (s.stem === 'linear') {
    frames = b.Reshape(video, [-1, H, W, 3]);
  } else if (s.stem === 'conv2d') {
    const x = b.Transpose(b.Reshape(video, [-1, H, W, 3]), [0, 3, 1, 2]); // (B·F, 3, H, W)
    const y = b.scope('stem', () => {
      const h = convBnRelu(c, '0', x, s.stemChannels / 2, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] });
      return convBnRelu(c, '1', h, s.stemChannels, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] });
    });
    frames = b.Transpose(y, [0, 2, 3, 1]);
  } else {
    const x = b.Transpose(video, [0, 4, 1, 2, 3]); // (B, 3, F, H, W)
    const y = b.scope('stem', () => {
      let h = reluPool3d(c, sepConv3d(c, 'conv1', x, 64, 5));
      h = convBnRelu(c, 'conv2', h, 64, [1, 1, 1], {}, true);
      return reluPool3d(c, sepConv3d(c, 'conv3', h, s.stemChannels, 3)); // (B, C, F, H/4, W/4)
    });
    frames = b.Reshape(b.Transpose(y, [0, 2, 3, 4, 1]), [-1, out.h, out.w, out.channels]);
  }
  const patches = patchify(c, frames, out.w, out.channels, s.patch);
  return linear(c, 'embed', patches, s.patchDim);
}
