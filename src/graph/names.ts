// The name contract: every input and output name of every graph vhssl builds is made here, and the graph builders
// and the runtime both take them from here. A name never needs parsing: the one place that reads names back is
// `lossOutputs`, which resolves a manifest's loss outputs against its groups once, when artifacts are opened.
//
//   data       video, video2 (second view), labels (cls), features (probe heads)
//   positions  pos.<group>.<term> (B, N) int64 and, for side terms, pos.<group>.side_rel
//   per step   dropout_seed, ema_decay; lr.<group>, step.<group> (fused step); lr, step (one optimizer graph)
//   state      <param>, <param>.<slot> (optimizer state), ema.<name> (EMA copies)
//   outputs    loss.<group> (weighted total), loss.<group>.<term>, monitor.<group>.std (monitor.std: one group),
//              <param>.grad, <name>.new, grad_norm (one optimizer graph), grad_norm.<group> (fused step),
//              embedding, level.<group> (encoder), logp (probe head), mapped (the probe's feature maps)

export const VIDEO = 'video';
export const VIDEO2 = 'video2';
export const LABELS = 'labels';
export const FEATURES = 'features';

export const DROPOUT_SEED = 'dropout_seed';
export const EMA = 'ema';
export const EMA_DECAY = 'ema_decay';
export const LR = 'lr';
export const STEP = 'step';
export const GRAD_NORM = 'grad_norm';

export const EMBEDDING = 'embedding';
export const LOGP = 'logp';
/** The output of the probe's small feature-map graphs (standardise and whiten, Gram matrix). */
export const MAPPED = 'mapped';

/** The gradient output of parameter `param`. */
export const gradName = (param: string): string => `${param}.grad`;
/** The next value of a parameter, buffer or state tensor. */
export const newName = (name: string): string => `${name}.new`;
/** An optimizer state slot of `param` (`momentum`, `exp_avg`, `exp_avg_sq`). */
export const stateName = (param: string, slot: string): string => `${param}.${slot}`;
/** The EMA copy of parameter or buffer `name`. */
export const emaName = (name: string): string => `${EMA}.${name}`;

/** Per optimizer group in the fused step graph: its learning rate, its step (1-based) and its gradient norm. */
export const lrName = (group: string): string => `${LR}.${group}`;
export const stepName = (group: string): string => `${STEP}.${group}`;
export const gradNormName = (group: string): string => `${GRAD_NORM}.${group}`;

/** The position input of a group's `term` predictor (`down`, `summary`, `side`), and a side input's offset row. */
export const positionName = (group: string, term: string): string => `pos.${group}.${term}`;
export const relativeName = (position: string): string => `${position}_rel`;

/** The output of an encoder level: `embedding` (the top token) or `level.<group>`. */
export const levelOutput = (level: string): string => (level === EMBEDDING ? EMBEDDING : `level.${level}`);

/** A group's collapse monitor; `null`: the one monitor of an end-to-end task. */
export const monitorName = (group: string | null): string => (group === null ? 'monitor.std' : `monitor.${group}.std`);

/** A loss output: a group's weighted total (`term` null) or one unweighted term. */
export interface LossKey {
  group: string;
  term: string | null;
}

export const lossName = (k: LossKey): string => (k.term === null ? `loss.${k.group}` : `loss.${k.group}.${k.term}`);

const LOSS = 'loss.';
const MONITOR = 'monitor.';

/** Whether output `name` is a collapse monitor. */
export const isMonitor = (name: string): boolean => name.startsWith(MONITOR);

/**
 * The loss outputs among `outputs`, each resolved to its group (one of `groups`) and term. An output named like a
 * loss that names none of the groups is a bug in the artifacts, never a guess.
 */
export function lossOutputs(outputs: Iterable<string>, groups: readonly string[]): Map<string, LossKey> {
  const found = new Map<string, LossKey>();
  for (const name of outputs) {
    if (!name.startsWith(LOSS)) continue;
    const key = resolveLoss(name, groups);
    if (!key) throw new Error(`artifacts: loss output ${name} names none of the groups ${groups.join(', ')}`);
    found.set(name, key);
  }
  return found;
}

function resolveLoss(name: string, groups: readonly string[]): LossKey | null {
  for (const group of groups) {
    if (name === lossName({ group, term: null })) return { group, term: null };
    const prefix = `${lossName({ group, term: null })}.`;
    if (name.startsWith(prefix)) return { group, term: name.slice(prefix.length) };
  }
  return null;
}
