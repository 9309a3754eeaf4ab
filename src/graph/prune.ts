// Dead-code elimination: keeps the nodes the graph outputs depend on, and drops inputs, constants, parameters and
// buffers nothing reads any more.
import type { GraphBuilder } from './builder.ts';
import type { Value } from './ir.ts';

/** Prunes `b.graph` in place; `keepInputs` names inputs that stay even when unused (e.g. the video). */
export function prune(b: GraphBuilder, keepInputs: ReadonlySet<string> = new Set()): void {
  const g = b.graph;
  const needed = new Set<Value>(g.outputs);
  const kept = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((o) => needed.has(o))) continue;
    kept.push(n);
    for (const v of n.inputs) if (v) needed.add(v);
  }
  g.nodes = kept.reverse();
  g.inputs = g.inputs.filter((v) => needed.has(v) || keepInputs.has(v.name));
  g.constants = g.constants.filter((v) => needed.has(v));
  const live = new Set(g.inputs);
  const keep = <T extends { value: Value }>(list: T[]) => list.splice(0, list.length, ...list.filter((p) => live.has(p.value)));
  keep(b.params);
  keep(b.buffers);
}
