// Checks that span several keys, run on a config the schema has accepted. Each returns the first problem found,
// located at the key a user would change.
import { closest, type Problem } from './errors.ts';
import { GROUPS, STEM_DOWNSAMPLE, TERM_NAMES, TRANSFORMER_GROUPS, type Config, type GroupName } from './schema.ts';

function checkGroups(c: Config): Problem | undefined {
  const g = c.arch.groups;
  const at = ['arch', 'groups'];
  const list = `[${g.join(', ')}]`;
  if (g.length === 0) return { path: at, problem: 'expected at least one group, got []' };
  const dup = g.find((x, i) => g.indexOf(x) !== i);
  if (dup) return { path: at, problem: `expected each group once, got "${dup}" twice in ${list}` };
  const order = g.map((x) => GROUPS.indexOf(x));
  if (order.some((o, i) => i > 0 && o < order[i - 1]!)) {
    return { path: at, problem: `expected groups in the order ${GROUPS.join(' → ')}, got ${list}` };
  }
  // The transformer groups stack from `space` up without gaps: each consumes the level its predecessor produces.
  const tf = g.filter((x) => x !== 'patch');
  const want = TRANSFORMER_GROUPS.slice(0, tf.length);
  if (tf.length === 0 || tf.some((x, i) => x !== want[i])) {
    return { path: at, problem: `expected the transformer groups to be space, then optionally time, then optionally clip, got ${list}` };
  }
  for (const name of tf) {
    if (c.arch[name] === null) return { path: ['arch', name], problem: `expected a section for group "${name}" (listed in arch.groups), got null` };
  }
  return undefined;
}

/** Frames, clips and the one-token rule for the last group. */
function checkLevels(c: Config): Problem | undefined {
  const g = c.arch.groups;
  const last = g[g.length - 1]!;
  const frames = c.data.frames;
  if (g.includes('time')) {
    const clips = c.arch.time!.clips;
    if (frames % clips !== 0) {
      return {
        path: ['arch', 'time', 'clips'],
        problem: `expected a divisor of data.frames (${frames}) so that clips × frames per clip = data.frames, got ${clips}`,
      };
    }
    if (last === 'time' && clips !== 1) {
      return { path: ['arch', 'time', 'clips'], problem: `expected 1 when time is the last group (it must yield one token per video), got ${clips}`, hint: 'add the clip group, or set arch.time.clips=1' };
    }
  }
  if (last === 'space' && frames !== 1) {
    return { path: ['data', 'frames'], problem: `expected 1 when space is the last group (it must yield one token per video), got ${frames}`, hint: 'add the time group' };
  }
  return undefined;
}

/** Sine-cosine positional encodings split a width into (sin, cos) pairs, and space's 2-D one into rows and columns. */
function checkPosEmbed(c: Config): Problem | undefined {
  if (c.arch.pos_embed !== 'sincos') return undefined;
  for (const name of c.arch.groups) {
    if (name === 'patch') continue;
    const dim = c.arch[name]!.dim;
    const [m, what] = name === 'space' ? [4, 'a multiple of 4 for a 2-D sine-cosine encoding'] : [2, 'an even width for a sine-cosine encoding'];
    if (dim % m !== 0) {
      return { path: ['arch', name, 'dim'], problem: `expected ${what}, got ${dim}`, hint: 'change the width, or set arch.pos_embed=learned' };
    }
  }
  return undefined;
}

function checkSizes(c: Config): Problem | undefined {
  const down = STEM_DOWNSAMPLE[c.arch.stem];
  for (const side of ['height', 'width'] as const) {
    const px = c.data[side];
    if (px % down !== 0) {
      return { path: ['data', side], problem: `expected a multiple of ${down} (the ${c.arch.stem} stem downsamples by ${down}), got ${px}` };
    }
    if ((px / down) % c.arch.patch !== 0) {
      const after = down > 1 ? ` (${px}/${down} = ${px / down} after the ${c.arch.stem} stem)` : '';
      return { path: ['data', side], problem: `expected a multiple of the patch size ${c.arch.patch}${after}, got ${px}`, hint: 'change data.height/width or arch.patch' };
    }
  }
  const { mean, std } = c.data.normalization;
  if (mean.length !== std.length) {
    return { path: ['data', 'normalization', 'std'], problem: `expected one value per channel like normalization.mean (${mean.length}), got ${std.length}` };
  }
  const a = c.data.augment;
  const ordered: [string[], readonly [number, number]][] = [
    [['data', 'augment', 'random_resized_crop', 'scale'], a.random_resized_crop.scale],
    [['data', 'augment', 'random_resized_crop', 'ratio'], a.random_resized_crop.ratio],
    [['data', 'augment', 'gaussian_blur', 'sigma'], a.gaussian_blur.sigma],
  ];
  for (const [path, [lo, hi]] of ordered) {
    if (lo > hi) return { path, problem: `expected [min, max] with min ≤ max, got [${lo}, ${hi}]` };
  }
  if (a.random_resized_crop.scale[1] > 1) {
    return { path: ['data', 'augment', 'random_resized_crop', 'scale', 1], problem: `expected an area fraction ≤ 1, got ${a.random_resized_crop.scale[1]}` };
  }
  if (a.gaussian_blur.kernel % 2 === 0) {
    return { path: ['data', 'augment', 'gaussian_blur', 'kernel'], problem: `expected a positive odd kernel size, got ${a.gaussian_blur.kernel}` };
  }
  return undefined;
}

/** Input tokens per sequence of a transformer group: patches of a frame, frames of a clip, clips of a video. */
function tokensPerSequence(c: Config, g: (typeof TRANSFORMER_GROUPS)[number]): number {
  const clips = c.arch.time?.clips ?? 1;
  if (g === 'space') {
    const side = (px: number) => px / STEM_DOWNSAMPLE[c.arch.stem] / c.arch.patch;
    return side(c.data.height) * side(c.data.width);
  }
  return g === 'time' ? c.data.frames / clips : clips;
}

function checkTrain(c: Config): Problem | undefined {
  const t = c.train;
  if (c.arch.task === 'mine' && c.arch.groups.length < 2) {
    return {
      path: ['arch', 'groups'],
      problem: `expected at least two groups for the mine objective (a group's loss terms predict the level above or below it), got [${c.arch.groups.join(', ')}]`,
      hint: 'add a group, e.g. [patch, space] or [space, time], or choose another arch.task',
    };
  }
  if (t.optimizer.name === 'sgd' && t.optimizer.nesterov && t.optimizer.momentum === 0) {
    return { path: ['train', 'optimizer', 'momentum'], problem: 'expected a momentum > 0 with nesterov: true, got 0' };
  }
  if (c.arch.ema.final_decay < c.arch.ema.decay) {
    return { path: ['arch', 'ema', 'final_decay'], problem: `expected a value ≥ arch.ema.decay (${c.arch.ema.decay}), got ${c.arch.ema.final_decay}` };
  }
  if (c.arch.task === 'mine' && t.view.enabled && c.arch.targets !== 'ema') {
    return { path: ['train', 'view', 'enabled'], problem: 'expected false unless arch.targets is ema (the other view\'s targets come from the EMA encoder), got true', hint: 'set arch.targets=ema' };
  }
  if (c.arch.task === 'mine' && c.arch.ema.other_view_terms.length > 0 && c.arch.targets !== 'ema') {
    return {
      path: ['arch', 'ema', 'other_view_terms'],
      problem: `expected [] unless arch.targets is ema (targets from another view come from the EMA encoder), got [${c.arch.ema.other_view_terms.join(', ')}]`,
      hint: 'set arch.targets=ema',
    };
  }
  for (const [key, causal] of [['down_target', false], ['summary_target', true]] as const) {
    if (c.arch.task !== 'mine' || t[key] !== 'anchored') continue;
    const short = TRANSFORMER_GROUPS.find((g) => c.arch.groups.includes(g) && c.arch[g]!.causal === causal && tokensPerSequence(c, g) < 2);
    if (short) {
      return {
        path: ['train', key],
        problem: `expected own_frame or any_frame: anchored predicts one token of a sequence from another, and group ${short} reads sequences of ${tokensPerSequence(c, short)} token`,
      };
    }
  }
  const terms = c.arch.groups.flatMap((g: GroupName) => TERM_NAMES.map((k) => `${g}_${k}`));
  for (const key of Object.keys(t.loss_weights)) {
    if (!terms.includes(key)) {
      const near = closest(key, terms);
      return {
        path: ['train', 'loss_weights', key],
        problem: `expected a loss term <group>_<up|down|summary|side|view> of a group in arch.groups, got "${key}"`,
        hint: near ? `did you mean "${near}"?` : `terms: ${terms.join(', ')}`,
      };
    }
  }
  return undefined;
}

/** Several steps per run loop the fused step graph, which accumulation and alternation do not run on. */
function checkStepsPerRun(c: Config): Problem | undefined {
  const t = c.train;
  const k = t.steps_per_run ?? 1;
  if (k === 1) return undefined;
  const why = t.grad_accum > 1 ? `train.grad_accum is ${t.grad_accum}` : t.alternation.interval_pct > 0 ? `train.alternation.interval_pct is ${t.alternation.interval_pct}` : null;
  if (!why) return undefined;
  return {
    path: ['train', 'steps_per_run'],
    problem: `expected 1 when ${why} (several steps per run loop the fused step graph; accumulation and alternation run the per-group graphs), got ${k}`,
    hint: 'remove train.steps_per_run, or set train.grad_accum=1 and train.alternation.interval_pct=0',
  };
}

export function checkConfig(c: Config): Problem | undefined {
  return checkGroups(c) ?? checkLevels(c) ?? checkSizes(c) ?? checkPosEmbed(c) ?? checkTrain(c) ?? checkStepsPerRun(c);
}

/** A finding about a config against the data it runs on: an error stops the run, a warning is printed. */
export type Finding = Problem & { severity: 'error' | 'warning' };

/**
 * arch.num_classes, the width of the cls head, against the `classes` in classes.json of the store at `store`: labels
 * past the head are an error (ORT fails mid-step otherwise), outputs that are never a target only a warning.
 */
export function checkNumClasses(c: Config, store: string, classes: number): Finding | undefined {
  if (c.arch.task !== 'cls') return undefined;
  const k = c.arch.num_classes;
  const at = ['arch', 'num_classes'];
  if (classes === 0) {
    return { severity: 'error', path: ['arch', 'task'], problem: `cls trains on class labels, and the store ${store} has none (no classes in classes.json)`, hint: 'prepare a labelled dataset, or choose task mine or vicreg' };
  }
  if (k < classes) {
    return { severity: 'error', path: at, problem: `expected at least the ${classes} classes of the store ${store}, got ${k}`, hint: `set arch.num_classes=${classes}` };
  }
  if (k > classes) {
    return { severity: 'warning', path: at, problem: `${k} is more than the ${classes} classes of the store ${store}: ${k - classes} outputs of the head are never a target`, hint: `set arch.num_classes=${classes}` };
  }
  return undefined;
}
