// The one op vocabulary: every ONNX op vhssl emits, with its shape inference. Exact ONNX names (ai.onnx domain).
import { elementwiseOps } from './elementwise.ts';
import type { OpDef } from './infer.ts';
import { linalgOps } from './linalg.ts';
import { nnOps } from './nn.ts';
import { reduceOps } from './reduce.ts';
import { shapeOps } from './shape.ts';

export const OPS = { ...elementwiseOps, ...reduceOps, ...shapeOps, ...linalgOps, ...nnOps } satisfies Record<string, OpDef>;

export type OpType = keyof typeof OPS;

/** ai.onnx opset the graphs are emitted for: the newest onnxruntime-node 1.30 runs on CPU (27 is refused). Every op
 *  here must create a CPU session at it: test/graph/onnx.test.ts checks each one. */
export const OPSET = 26;
/** ONNX IR version matching OPSET (ONNX 1.21: IR 13, opset 26; ORT 1.30 refuses IR 14). */
export const IR_VERSION = 13;
