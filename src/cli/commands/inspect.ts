// `vhssl inspect FILE.onnx`: prints the text dump of any ONNX model (external data read from beside the file).
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { UserError } from '../../errors.ts';
import { decodeModel, type ModelProto } from '../../graph/onnx.ts';
import { modelToText } from '../../graph/text.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

const options = {
  summary: { type: 'boolean' },
  'max-nodes': { type: 'string' },
} as const;

function readModel(file: string): ModelProto {
  if (!existsSync(file)) throw new UserError(file, 'no such file');
  if (!statSync(file).isFile()) throw new UserError(file, 'not a file');
  let m: ModelProto;
  try {
    m = decodeModel(readFileSync(file));
  } catch (e) {
    throw new UserError(file, `not an ONNX model (${(e as Error).message})`);
  }
  // Any byte string may decode as some protobuf: a model has an IR version and a graph or functions.
  if (m.irVersion <= 0n || (!m.graph && m.functions.length === 0)) throw new UserError(file, 'not an ONNX model (no ir_version or graph)');
  return m;
}

/** Reads a slice of an external data file beside the model; undefined when it is not there. */
function externalReader(modelFile: string) {
  const dir = dirname(resolve(modelFile));
  return (location: string, offset: number, length: number): Uint8Array | undefined => {
    const path = resolve(dir, location);
    // Like onnxruntime, only files inside the model's folder.
    if (relative(dir, path).startsWith('..') || !existsSync(path)) return undefined;
    const fd = openSync(path, 'r');
    try {
      const buf = new Uint8Array(length);
      return readSync(fd, buf, 0, length, offset) === length ? buf : undefined;
    } finally {
      closeSync(fd);
    }
  };
}

export const command: Command = {
  summary: 'print an ONNX model as text (signature, initializers, one line per node)',
  usage: [
    'vhssl inspect FILE.onnx [--summary] [--max-nodes N]',
    '',
    '  --summary       op counts and parameter totals instead of every node',
    '  --max-nodes N   print at most N nodes of the main graph',
  ].join('\n'),
  async run(argv) {
    const { values: v, positionals } = parseCommandArgs('inspect', argv, options, true);
    if (positionals.length !== 1) {
      throw new UserError('FILE.onnx', positionals.length ? `expected one model file, got ${positionals.length}` : 'missing', 'usage: vhssl inspect FILE.onnx [--summary] [--max-nodes N]');
    }
    const raw = v['max-nodes'];
    const maxNodes = raw === undefined ? undefined : Number(raw);
    if (maxNodes !== undefined && (!/^\d+$/.test(raw!) || !Number.isSafeInteger(maxNodes))) {
      throw new UserError('--max-nodes', `expected an integer ≥ 0, got "${raw}"`);
    }
    const file = positionals[0]!;
    process.stdout.write(modelToText(readModel(file), { summary: v.summary ?? false, maxNodes, readExternal: externalReader(file) }));
    return 0;
  },
};
