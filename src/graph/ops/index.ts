// The one op vocabulary: every ONNX op vhssl emits, with its shape inference. Exact ONNX names (ai.onnx domain).
import { elementwiseOps } from './elementwise.ts';
import type { OpDef } from './infer.ts';
import { linalgOps } from './linalg.ts';
import { nnOps } from './nn.ts';
import { reduceOps } from './reduce.ts';
import { shapeOps } from './shape.ts';

export const OPS = { ...elementwiseOps, ...reduceOps, ...shapeOps, ...linalgOps, ...nnOps } satisfies Record<string, OpDef>;

export type OpType = keyof typeof OPS;

/**
 * ai.onnx opset the graphs are emitted for. 21: the ops' schemas after it only add element types vhssl does not use
 * (bfloat16, float8, int4), while onnxruntime 1.30's WebGPU kernels stop at Transpose-24, Squeeze-24, Pad-23 and
 * MaxPool-21, so a newer opset would send every attention head split and most gradient Squeezes and Pads to the CPU
 * there (src/runtime/providers.ts, its test). Every op here must create a CPU session at it: test/graph/onnx.test.ts.
 */
export const OPSET = 21;
/** ONNX IR version of OPSET's ONNX release (ONNX 1.16: IR 10, opset 21). */
export const IR_VERSION = 10;
