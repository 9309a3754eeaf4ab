// The one error of reverse-mode autodiff. Where it happened is data (node, op, input), and the message says it:
// `time/MatMul_2: gradient for input 1 has shape [64,32], expected [32,64]`.

export interface AutodiffWhere {
  /** The forward node whose gradient failed. */
  readonly node?: string;
  readonly op?: string;
  /** The input of that node, when the failure is about one. */
  readonly input?: number;
}

export class AutodiffError extends Error {
  override readonly name = 'AutodiffError';
  readonly where: AutodiffWhere;

  constructor(message: string, where: AutodiffWhere = {}) {
    super(where.node ? `${where.node}: ${message}` : message);
    this.where = where;
  }
}
