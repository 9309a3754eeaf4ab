// The one cosine curve: the learning rate of training, probing and fine-tuning decays along it, and the EMA target
// encoder's decay rises along it.

/** From `start` at u = 0 to `end` at u ≥ 1: end + ½·(start − end)·(1 + cos πu), u clamped to [0, 1]. */
export function cosine(start: number, end: number, u: number): number {
  return end + 0.5 * (start - end) * (1 + Math.cos(Math.PI * Math.min(1, Math.max(0, u))));
}
