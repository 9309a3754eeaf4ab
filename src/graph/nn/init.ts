// Parameter initialisers, all drawn from the run's seeded Rng.
import { tensor, type Tensor } from '../tensor.ts';
import type { Rng } from '../../rng.ts';

/** Truncated normal (±2σ), the ViT convention for weights, positional embeddings and summary tokens (the original drew some with std 1, which swamps the tokens). */
export function truncNormal(rng: Rng, shape: number[], std = 0.02): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < n; i++) d[i] = rng.truncNormal(std);
  return t;
}

export const zeros = (shape: number[]): Tensor => tensor('float32', shape);

export function ones(shape: number[]): Tensor {
  const t = tensor('float32', shape);
  (t.data as Float32Array).fill(1);
  return t;
}

/** Kaiming-uniform bound 1/√fan_in, PyTorch's default for conv weights. */
export function uniformFanIn(rng: Rng, shape: number[], fanIn: number): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const n = shape.reduce((a, b) => a * b, 1);
  const t = tensor('float32', shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < n; i++) d[i] = rng.range(-bound, bound);
  return t;
}
