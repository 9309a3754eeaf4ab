// `vhssl build-graph` end to end: every example config gives a complete artifacts directory whose graphs all load in
// onnxruntime-node, whose manifest names every graph, parameter and boundary; bad configs fail with the key path,
// exit code 1, and leave nothing behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Manifest } from '../../src/graph/artifacts.ts';
import { readSafetensors } from '../../src/graph/safetensors.ts';
import { createSession } from '../../src/runtime/session.ts';
import { tempDir } from '../temp.ts';
import { vhssl } from './run.ts';

const { dir: tmp, cleanup } = tempDir('build');
after(cleanup);

async function checkArtifacts(dir: string): Promise<Manifest> {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  for (const f of ['config.yaml', 'init.safetensors', 'encoder.onnx', 'step.onnx']) assert.ok(existsSync(join(dir, f)), `${dir}: ${f} missing`);
  const init = readSafetensors(join(dir, m.initial)).tensors;
  for (const [g, e] of Object.entries(m.groups)) {
    assert.ok(existsSync(join(dir, `${g}.train.onnx`)) && existsSync(join(dir, `${g}.optim.onnx`)), `${g}: per-group files named after the group`);
    for (const p of [...e.params, ...e.buffers]) {
      if (m.task === 'mine') assert.ok(p.startsWith(`${g}.`), `${p} starts with its group ${g}`);
      assert.ok(init.has(p), `${p} has an initial value`);
    }
  }
  for (const [name, g] of Object.entries(m.graphs)) {
    const s = await createSession(join(dir, g.file), { threads: 1 });
    assert.deepEqual([...s.inputNames].sort(), g.inputs.map((i) => i.name).sort(), `${name}: manifest inputs`);
    assert.deepEqual([...s.outputNames].sort(), g.outputs.map((o) => o.name).sort(), `${name}: manifest outputs`);
  }
  return m;
}

describe('vhssl build-graph', () => {
  for (const config of ['bench-st', 'tiny', 'vicreg', 'cls', 'we', 'bench-s3d']) {
    test(`${config}: a complete artifacts directory`, async () => {
      const out = join(tmp, config);
      const r = vhssl(['build-graph', '--config', config, '--out', out]);
      assert.equal(r.status, 0, r.stderr);
      const m = await checkArtifacts(out);
      if (m.task === 'mine') {
        // Group boundaries are baked in: every group above the first reads its input through a wall.
        for (const [g, e] of Object.entries(m.graphs)) if (e.role === 'train' && g !== `${Object.keys(m.groups)[0]}.train`) assert.ok(e.boundaries.length > 0, `${g} has boundaries`);
      } else {
        assert.deepEqual(Object.keys(m.groups), [m.task]);
      }
    });
  }

  test('a second run with the same config is a no-op; --force rebuilds', () => {
    const out = join(tmp, 'tiny');
    assert.match(vhssl(['build-graph', '--config', 'tiny', '--out', out]).stdout, /up to date/);
    assert.match(vhssl(['build-graph', '--config', 'tiny', '--out', out, '--force']).stdout, /graphs, groups space, time/);
  });

  test('--set overrides reach the graphs', async () => {
    const out = join(tmp, 'tiny-b4');
    assert.equal(vhssl(['build-graph', '--config', 'tiny', '--out', out, '--set', 'train.batch_size=4']).status, 0);
    const m = await checkArtifacts(out);
    assert.deepEqual(m.graphs.step!.inputs.find((i) => i.name === 'video')!.shape, [4, 8, 32, 32, 3]);
  });

  const bad: [string, string[], RegExp][] = [
    ['unknown key', ['--set', 'arch.space.layerz=3'], /config\.arch\.space\.layerz: .*did you mean "layers"/],
    ['wrong type', ['--set', 'train.optimizer.lr=fast'], /config\.train\.optimizer\.lr: expected a positive number, got "fast"/],
    ['frames not matching clips', ['--set', 'arch.time.clips=3'], /config\./],
  ];
  for (const [what, args, message] of bad) {
    test(`bad config (${what}): exit 1, the key path, nothing written`, () => {
      const out = join(tmp, `bad-${what.replace(/\W+/g, '-')}`);
      const r = vhssl(['build-graph', '--config', 'tiny', '--out', out, ...args]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.ok(!existsSync(out), 'no output directory');
      assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('.')), [], 'no temporary directory left');
    });
  }

  test('a missing config file and a missing --config are one-line errors', () => {
    const missing = vhssl(['build-graph', '--config', join(tmp, 'nope.yaml'), '--out', join(tmp, 'x')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.yaml: no such config file/);
    const none = vhssl(['build-graph']);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /--config is required/);
  });

  test('a YAML file with a bad value names the file and the key', () => {
    const file = join(tmp, 'bad.yaml');
    writeFileSync(file, 'train:\n  batch_size: -3\n');
    const r = vhssl(['build-graph', '--config', file, '--out', join(tmp, 'y')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /config\.train\.batch_size: expected a positive integer, got -3/);
  });
});
