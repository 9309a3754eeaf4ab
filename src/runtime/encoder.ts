// An encoder session: `video` (B, F, H, W, 3) float32, normalised, B dynamic → one output per level (`embedding`
// (B, D) and `level.<group>` (B, S, D)). Its parameters and buffers are either baked in (a frozen encoder) or graph
// inputs fed on every run: the artifacts' encoder.onnx, opened once per run and fed the parameters the run holds now.
import type * as ort from 'onnxruntime-node';
import { levelOutput, VIDEO } from '../graph/names.ts';
import { feedsOf, type FeedSource } from './feeds.ts';
import { createSession, runChecked, type SessionOptions } from './session.ts';

export class EncoderSession {
  private constructor(private readonly session: ort.InferenceSession, readonly levels: readonly string[]) {}

  /** `model`: a file or ONNX bytes; `levels`: `embedding` and the groups whose levels it outputs. */
  static async open(model: string | Uint8Array, levels: readonly string[], o: SessionOptions = {}): Promise<EncoderSession> {
    return new EncoderSession(await createSession(model, o), levels);
  }

  /** The outputs of `levels` on one batch; `params` feeds the parameter and buffer inputs (none when baked in). */
  async run(video: ort.Tensor, levels: readonly string[] = this.levels, params: FeedSource = new Map()): Promise<Map<string, ort.Tensor>> {
    const out = await runChecked(this.session, feedsOf(this.session.inputNames, { [VIDEO]: video }, params), levels.map(levelOutput));
    return new Map(levels.map((l) => [l, out[levelOutput(l)]!]));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
