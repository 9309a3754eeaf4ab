// The layers of src/ point one way: every import (static, dynamic, type-only or re-export) of a src file stays in its
// own folder or goes to a folder of a lower layer, so no import runs up a layer and no folders form a cycle; and no
// files import each other in a circle. The layer map below is the one the README's "Layout" section lists.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './temp.ts';

const TOP = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(TOP, 'src');

/** Bottom to top; folders on one line are siblings (neither imports the other). `.` is the files at the root of src. */
const LAYERS: readonly (readonly string[])[] = [['.'], ['config'], ['graph', 'data'], ['runtime'], ['eval'], ['train'], ['sweep', 'web'], ['cli']];
const rank = new Map(LAYERS.flatMap((folders, i) => folders.map((f) => [f, i] as const)));

/** src/<folder>/… → folder; src/<file> → '.' */
const folderOf = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '.');

const IMPORT = /(?:^|\n)\s*(?:import|export)\s(?:[^'"`;]*?\sfrom\s*)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every src file (relative to src/) and the src files it imports. */
function importGraph(src: string): Map<string, { to: string; line: number }[]> {
  const files = readdirSync(src, { recursive: true }).map(String).filter((f) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(f)).sort();
  const graph = new Map<string, { to: string; line: number }[]>();
  for (const file of files) {
    const text = readFileSync(join(src, file), 'utf8');
    const edges: { to: string; line: number }[] = [];
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (!spec.startsWith('.')) continue;
      const to = relative(src, resolve(dirname(join(src, file)), spec));
      if (!to.startsWith('..')) edges.push({ to, line: text.slice(0, m.index! + m[0].length).split('\n').length });
    }
    graph.set(file, edges);
  }
  return graph;
}

/** The strongly connected components with more than one node (Tarjan). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** What is wrong with the layering of the tree under `src`: one line per offending import, folder cycle or file cycle. */
function layerProblems(src: string): string[] {
  const graph = importGraph(src);
  const problems: string[] = [];
  const folders = new Map<string, Set<string>>();
  const example = new Map<string, string>();
  for (const [file, edges] of graph) {
    const from = folderOf(file);
    if (!rank.has(from)) {
      problems.push(`src/${file}: folder src/${from} is in no layer (add it to the layer map here and in the README)`);
      continue;
    }
    for (const { to, line } of edges) {
      const into = folderOf(to);
      if (into === from || !rank.has(into)) continue;
      if (!folders.has(from)) folders.set(from, new Set());
      folders.get(from)!.add(into);
      if (!example.has(`${from}>${into}`)) example.set(`${from}>${into}`, `src/${file}:${line} → src/${to}`);
      if (rank.get(into)! >= rank.get(from)!) {
        const how = rank.get(into) === rank.get(from) ? 'a sibling layer' : 'a higher layer';
        problems.push(`src/${file}:${line} imports src/${to}: ${from} may not import ${into}, ${how}`);
      }
    }
  }
  for (const found of cycles(new Map([...folders].map(([f, to]) => [f, [...to]])))) {
    const c = found.sort((a, b) => rank.get(a)! - rank.get(b)!);
    const via = c.flatMap((a) => c.filter((b) => example.has(`${a}>${b}`)).map((b) => example.get(`${a}>${b}`)!));
    problems.push(`folders ${c.join(', ')} import each other: ${via.join('; ')}`);
  }
  for (const c of cycles(new Map([...graph].map(([f, edges]) => [f, edges.map((e) => e.to)])))) problems.push(`files import each other in a circle: ${c.map((f) => `src/${f}`).join(', ')}`);
  return problems;
}

describe('layers', () => {
  test('every folder of src is in the layer map, and the README\'s layer map is this one', () => {
    const dirs = readdirSync(SRC, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    assert.deepEqual(dirs, [...rank.keys()].filter((f) => f !== '.').sort());
    const readme = readFileSync(join(TOP, 'README.md'), 'utf8');
    const layout = readme.slice(readme.indexOf('## Layout'));
    // Rows `| <layer> | \`src/<folder>\` | what it owns |`, bottom to top.
    const rows = [...layout.matchAll(/^\| (\d+) \| `src\/(\*\.ts|[a-z]+)` \|/gm)].map((m) => [Number(m[1]), m[2] === '*.ts' ? '.' : m[2]]);
    assert.deepEqual(rows, LAYERS.flatMap((folders, i) => folders.map((f) => [i, f])));
  });

  test('no import runs up a layer, no folders and no files import each other in a circle', () => {
    assert.deepEqual(layerProblems(SRC), []);
  });

  test('the check names an import up a layer (static, type-only or dynamic), a folder cycle and a file cycle', () => {
    const { dir, cleanup } = tempDir('layers');
    after(cleanup);
    const files: Record<string, string> = {
      'rng.ts': 'export const seed = 1;\n',
      'graph/names.ts': "import { seed } from '../rng.ts';\nimport type { Plan } from '../train/plan.ts';\nexport const n = seed;\n",
      'train/plan.ts': "import { n } from '../graph/names.ts';\nexport interface Plan { n: typeof n }\n",
      'eval/knn.ts': "export async function f() {\n  return import('../cli/main.ts');\n}\n",
      'cli/main.ts': "export * from '../eval/knn.ts';\n",
    };
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    assert.deepEqual(layerProblems(dir), [
      'src/eval/knn.ts:2 imports src/cli/main.ts: eval may not import cli, a higher layer',
      'src/graph/names.ts:2 imports src/train/plan.ts: graph may not import train, a higher layer',
      'folders eval, cli import each other: src/eval/knn.ts:2 → src/cli/main.ts; src/cli/main.ts:1 → src/eval/knn.ts',
      'folders graph, train import each other: src/graph/names.ts:2 → src/train/plan.ts; src/train/plan.ts:1 → src/graph/names.ts',
      'files import each other in a circle: src/cli/main.ts, src/eval/knn.ts',
      'files import each other in a circle: src/graph/names.ts, src/train/plan.ts',
    ]);
  });
});
