// The one op vocabulary: every ONNX op vhssl emits, with its shape inference. Exact ONNX names (ai.onnx domain).
import { elementwiseOps } from './elementwise.ts';
import type { OpDef } from './infer.ts';
import { linalgOps } from './linalg.ts';
import { nnOps } from './nn.ts';
import { reduceOps } from './reduce.ts';
import { shapeOps } from './shape.ts';

export const OPS = { ...elementwiseOps, ...reduceOps, ...shapeOps, ...linalgOps, ...nnOps } satisfies Record<string, OpDef>;

export type OpType = keyof typeof OPS;

/** ai.onnx opset the graphs are emitted for. */
export const OPSET = 21;
/** ONNX IR version matching OPSET. */
export const IR_VERSION = 10;
