// Freezing: a graph whose parameter and buffer inputs become initializers holding given values, so that it runs with
// its data inputs only (the exported encoder; feature extraction without feeding weights on every batch).
import { float32ToFloat16Bits, ONNX_DTYPE } from '../graph/dtype.ts';
import type { Graph, Node, Value } from '../graph/ir.ts';
import { sameShape } from '../graph/shape.ts';
import type { Tensor } from '../graph/tensor.ts';

export interface FreezeOptions {
  /**
   * Store float32 values as float16 initializers (`<name>.f16`), each followed by a Cast back to float32 named
   * `<name>`: half the file, float32 arithmetic (ORT CPU has float32 kernels for every op used).
   */
  fp16?: boolean;
}

function toFloat16(t: Tensor): Tensor {
  const src = t.data as Float32Array;
  const bits = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = float32ToFloat16Bits(src[i]!);
  return { dtype: 'float16', shape: [...t.shape], data: bits };
}

/**
 * A copy of `g` in which every input named in `values` is a constant with that value (checked against the input's
 * dtype and shape); the other inputs stay inputs. `g` itself is not changed.
 */
export function freezeGraph(g: Graph, values: ReadonlyMap<string, Tensor>, o: FreezeOptions = {}): Graph {
  const replace = new Map<Value, Value>();
  const constants: Value[] = [...g.constants];
  const casts: Node[] = [];
  const inputs: Value[] = [];
  for (const v of g.inputs) {
    const t = values.get(v.name);
    if (!t) {
      inputs.push(v);
      continue;
    }
    if (t.dtype !== v.dtype || !sameShape(t.shape, v.shape)) {
      throw new Error(`freezeGraph: "${v.name}" is ${v.dtype}[${v.shape.join(',')}] in the graph, the value is ${t.dtype}[${t.shape.join(',')}]`);
    }
    if (o.fp16 && t.dtype === 'float32') {
      const half: Value = { name: `${v.name}.f16`, dtype: 'float16', shape: [...t.shape], kind: 'const', producer: null, data: toFloat16(t) };
      const cast: { -readonly [K in keyof Node]: Node[K] } = { opType: 'Cast', domain: '', name: `${v.name}/Cast`, inputs: [half], outputs: [], attrs: { to: { i: ONNX_DTYPE.float32 } } };
      const out: Value = { name: v.name, dtype: 'float32', shape: [...t.shape], kind: 'node', producer: cast };
      cast.outputs = [out];
      constants.push(half);
      casts.push(cast);
      replace.set(v, out);
    } else {
      const c: Value = { name: v.name, dtype: t.dtype, shape: [...t.shape], kind: 'const', producer: null, data: t };
      constants.push(c);
      replace.set(v, c);
    }
  }
  const unused = [...values.keys()].filter((k) => !g.inputs.some((v) => v.name === k));
  if (unused.length) throw new Error(`freezeGraph: no graph input named ${unused.slice(0, 3).map((n) => `"${n}"`).join(', ')}`);
  const nodes = g.nodes.map((n) => (n.inputs.some((v) => v && replace.has(v)) ? { ...n, inputs: n.inputs.map((v) => (v && replace.get(v)) ?? v) } : n));
  return { name: g.name, doc: g.doc, inputs, outputs: [...g.outputs], nodes: [...casts, ...nodes], constants };
}
