// `vhssl inspect` end to end through bin/vhssl.js: the dump of a file the test writes (external data beside it),
// --summary and --max-nodes, and one-line errors with exit code 1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../../src/graph/builder.ts';
import { encodeModel } from '../../src/graph/onnx.ts';
import { tensor } from '../../src/graph/tensor.ts';
import { tempDir } from '../temp.ts';

const { dir: tmp, cleanup } = tempDir('inspect');
after(cleanup);

const BIN = fileURLToPath(new URL('../../bin/vhssl.js', import.meta.url));

function vhssl(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, 'inspect', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** model.onnx (x·W + b, W external in model.onnx.data) in a fresh folder. */
function writeModel(): string {
  const dir = join(tmp, 'model');
  mkdirSync(dir);
  const b = new GraphBuilder('model');
  const x = b.input('x', 'float32', ['B', 16]);
  const w = b.constant(tensor('float32', [16, 32], Array.from({ length: 512 }, (_, i) => i / 2)));
  b.output(b.Relu(b.scope('fc', () => b.Add(b.MatMul(x, w), b.constant(tensor('float32', [32]))))), 'y');
  const { model, external } = encodeModel(b.graph, { externalThreshold: 1024, externalFile: 'model.onnx.data' });
  writeFileSync(join(dir, 'model.onnx'), model);
  writeFileSync(join(dir, 'model.onnx.data'), external!);
  return join(dir, 'model.onnx');
}

describe('vhssl inspect', () => {
  const file = writeModel();

  test('prints the graph, with external values read from beside the file', () => {
    const r = vhssl(file);
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, /^ONNX model: ir_version \d+, opset ai\.onnx \d+, producer vhssl /);
    for (const line of [
      '    x: float32[B,16]',
      '    const_0: float32[16,32] external(model.onnx.data @0 +2048) = [0, 0.5, 1, 1.5, 2, 2.5, …]',
      '    fc/MatMul_0 = MatMul(x, const_0)',
      '    y = Relu(fc/Add_0)  # float32[B,32]; node Relu_0',
    ]) {
      assert.ok(lines.includes(line), `missing line ${JSON.stringify(line)} in\n${r.stdout}`);
    }
  });

  test('--summary and --max-nodes', () => {
    const s = vhssl(file, '--summary');
    assert.equal(s.status, 0);
    assert.ok(s.stdout.includes('initializers: 2 tensors, 544 values, 2.1 KiB (1 external)\n'), s.stdout);
    assert.ok(!s.stdout.includes('fc/MatMul_0'), 'a summary lists no nodes');
    const m = vhssl('--max-nodes', '1', file);
    assert.equal(m.status, 0);
    assert.ok(m.stdout.endsWith('  nodes:\n    fc/MatMul_0 = MatMul(x, const_0)\n    … 2 more nodes\n'), m.stdout);
  });

  const dir = join(tmp, 'bad');
  mkdirSync(dir);
  const garbage = join(dir, 'garbage.onnx');
  writeFileSync(garbage, Buffer.from('this is not a protobuf\n\x0f\xff\xff', 'latin1'));
  const empty = join(dir, 'empty.onnx');
  writeFileSync(empty, '');
  const cases: [string, string[], string][] = [
    ['a missing file', [join(dir, 'nope.onnx')], `vhssl inspect: ${join(dir, 'nope.onnx')}: no such file\n`],
    ['a folder', [dir], `vhssl inspect: ${dir}: not a file\n`],
    ['an empty file', [empty], `vhssl inspect: ${empty}: not an ONNX model (no ir_version or graph)\n`],
    ['no file', [], 'vhssl inspect: FILE.onnx: missing (usage: vhssl inspect FILE.onnx [--summary] [--max-nodes N])\n'],
    ['a bad --max-nodes', [file, '--max-nodes=-3'], 'vhssl inspect: --max-nodes: expected an integer ≥ 0, got "-3"\n'],
  ];
  for (const [what, args, message] of cases) {
    test(`${what}: one line on stderr, exit code 1`, () => {
      const r = vhssl(...args);
      assert.deepEqual({ status: r.status, stdout: r.stdout, stderr: r.stderr }, { status: 1, stdout: '', stderr: message });
    });
  }
  test('a garbage file: one line on stderr, exit code 1', () => {
    const r = vhssl(garbage);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^vhssl inspect: ${garbage.replace(/[.]/g, '\\.')}: not an ONNX model \\(.+\\)\\n$`));
  });
});
