// Floating-point operations of a graph's matrix products and convolutions (2 per multiply-add), from static shapes.
// Elementwise work is left out: it is memory-bound and small next to the products.
import type { Graph, Value } from './ir.ts';

const numel = (v: Value): number => v.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 1), 1);
const last = (v: Value, k = 1): number => v.shape[v.shape.length - k] as number;

export function countFlops(g: Graph): number {
  let total = 0;
  for (const n of g.nodes) {
    const a = n.inputs[0];
    const y = n.outputs[0];
    if (!a || !y) continue;
    const intAttr = (name: string, d: number) => {
      const at = n.attrs[name];
      return at && 'i' in at ? at.i : d;
    };
    switch (n.opType) {
      case 'MatMul':
        total += 2 * numel(y) * last(a);
        break;
      case 'Gemm':
        total += 2 * numel(y) * (intAttr('transA', 0) ? (a.shape[0] as number) : last(a));
        break;
      case 'Conv': {
        const w = n.inputs[1]!;
        total += 2 * numel(y) * (w.shape.slice(1) as number[]).reduce((p, q) => p * q, 1);
        break;
      }
      case 'ConvTranspose': {
        const w = n.inputs[1]!;
        // Every input element scatters into (C_out / group) · k outputs.
        total += 2 * numel(a) * (w.shape.slice(1) as number[]).reduce((p, q) => p * q, 1);
        break;
      }
    }
  }
  return total;
}
