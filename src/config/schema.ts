// The typed config: one zod schema per section, strict objects (unknown keys rejected), and every leaf carrying the
// phrase that names what it expects, so a failure reads `config.train.optimizer.lr: expected a positive number, got "fast"`.
import { z } from 'zod';

// ---- leaves: each error message is the expectation, completed by the formatter with "got <value>" --------------------

const quote = (s: string): string => `"${s}"`;
const orNull = (e: string, nullable: boolean): string => (nullable ? `${e} or null` : e);

function number(e: string, refine: (n: z.ZodNumber, e: string) => z.ZodNumber) {
  return refine(z.number({ error: e }), e);
}
const posNum = (e = 'a positive number') => number(e, (n, m) => n.positive({ error: m }));
const nonNegNum = (e = 'a number ≥ 0') => number(e, (n, m) => n.nonnegative({ error: m }));
const anyNum = (e = 'a number') => z.number({ error: e });
const prob = (e = 'a probability in [0, 1]') => number(e, (n, m) => n.min(0, { error: m }).max(1, { error: m }));
/** [0, 1): momentum, betas. */
const unitOpen = (e = 'a number in [0, 1)') => number(e, (n, m) => n.min(0, { error: m }).lt(1, { error: m }));
const posInt = (e = 'a positive integer') => z.int({ error: e }).positive({ error: e });
const nonNegInt = (e = 'an integer ≥ 0') => z.int({ error: e }).nonnegative({ error: e });
const bool = () => z.boolean({ error: 'true or false' });
const str = (e = 'a string') => z.string({ error: e });
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `one of ${values.map(quote).join(', ')}` });
const pair = (item: z.ZodNumber, e: string) => z.tuple([item, item], { error: e });

// ---- arch ---------------------------------------------------------------------------------------------------------

export const GROUPS = ['patch', 'space', 'time', 'clip'] as const;
export type GroupName = (typeof GROUPS)[number];
/** Groups that own a transformer and a section of their own in `arch`. */
export const TRANSFORMER_GROUPS = ['space', 'time', 'clip'] as const;
export type TransformerGroupName = (typeof TRANSFORMER_GROUPS)[number];

/** The loss terms of the `mine` objective (src/graph/model/mine.ts); summary is a causal group's summary-token term. */
export const TERM_NAMES = ['up', 'down', 'summary', 'side', 'view'] as const;
export type TermName = (typeof TERM_NAMES)[number];

const LOSS_FNS = ['mse', 'ce', 'cosine', 'vicreg'] as const;
/** What a summary predicts of the level below (src/graph/model/mine.ts, summaryDown). */
const SUMMARY_TARGETS = ['own_frame', 'any_frame', 'anchored'] as const;

export const STEMS = ['linear', 'conv2d', 's3d'] as const;
export type Stem = (typeof STEMS)[number];
/** Spatial downsampling of each stem before patchify: the conv stems halve twice (two stride-2 stages). */
export const STEM_DOWNSAMPLE: Readonly<Record<Stem, number>> = { linear: 1, conv2d: 4, s3d: 4 };

const NORMS = ['batchnorm', 'layernorm', 'none'] as const;

const transformer = {
  dim: posInt(),
  layers: posInt(),
  heads: posInt(),
  head_dim: posInt(),
  mlp_dim: posInt(),
  dropout: unitOpen('a dropout rate in [0, 1)'),
  causal: bool(),
};
const GroupSchema = z.strictObject(transformer);
const TimeGroupSchema = z.strictObject({ ...transformer, clips: posInt() });

const ArchSchema = z.strictObject({
  task: oneOf(['mine', 'vicreg', 'cls']),
  groups: z.array(oneOf(GROUPS), { error: `a list drawn from [${GROUPS.join(', ')}]` }),
  stem: oneOf(STEMS),
  stem_channels: posInt(),
  patch: posInt(),
  patch_dim: posInt(),
  output_norm: oneOf(NORMS),
  pos_embed: oneOf(['learned', 'sincos']),
  targets: oneOf(['detach', 'ema']),
  ema: z.strictObject({
    decay: prob('a decay in [0, 1]'),
    final_decay: prob('a decay in [0, 1]'),
    other_view_terms: z.array(oneOf(TERM_NAMES), { error: `a list drawn from [${TERM_NAMES.join(', ')}]` }),
  }),
  // null removes a section; a group listed in `groups` must have one.
  space: GroupSchema.nullable(),
  time: TimeGroupSchema.nullable(),
  clip: GroupSchema.nullable(),
  predictor: z.strictObject({
    hidden: z.array(posInt('a positive hidden size'), { error: 'a list of positive hidden sizes ([] = one linear map)' }),
    norm: oneOf(NORMS),
  }),
  num_classes: posInt(),
});

// ---- data ---------------------------------------------------------------------------------------------------------

const range = (e: string) => pair(posNum(e), e);

const DataSchema = z.strictObject({
  dataset: str(),
  root: str('a path').nullable(),
  frames: posInt(),
  height: posInt(),
  width: posInt(),
  frame_stride: posInt(),
  sampling: oneOf(['random', 'sliding']),
  window_step: posInt(),
  epoch_clips_per_video: posInt(),
  workers: nonNegInt(),
  prefetch: posInt(),
  normalization: z.strictObject({
    mean: z.array(anyNum(), { error: 'a list of per-channel means' }),
    std: z.array(posNum('a positive standard deviation'), { error: 'a list of per-channel standard deviations' }),
  }),
  augment: z.strictObject({
    p: prob(),
    random_resized_crop: z.strictObject({ p: prob(), scale: range('a pair [min, max] of positive area fractions'), ratio: range('a pair [min, max] of positive aspect ratios') }),
    horizontal_flip: z.strictObject({ p: prob() }),
    color_jitter: z.strictObject({ p: prob(), brightness: nonNegNum(), contrast: nonNegNum(), saturation: nonNegNum(), hue: number('a number in [0, 0.5]', (n, m) => n.min(0, { error: m }).max(0.5, { error: m })) }),
    grayscale: z.strictObject({ p: prob() }),
    gaussian_blur: z.strictObject({ p: prob(), kernel: posInt('a positive odd kernel size'), sigma: range('a pair [min, max] of positive sigmas') }),
  }),
});

// ---- train --------------------------------------------------------------------------------------------------------

// Optimizers and schedules are unions on `name`; a user section naming another kind replaces the default section
// (merge rule), and the keys it leaves out take these per-kind defaults.
const SgdSchema = z.strictObject({
  name: z.literal('sgd'),
  lr: posNum().default(0.1),
  momentum: unitOpen().default(0.8),
  nesterov: bool().default(true),
  weight_decay: nonNegNum().default(0),
});
const AdamWSchema = z.strictObject({
  name: z.literal('adamw'),
  lr: posNum().default(1e-3),
  betas: pair(unitOpen('a beta in [0, 1)'), 'a pair [beta1, beta2] in [0, 1)').default([0.9, 0.999]),
  eps: posNum().default(1e-8),
  weight_decay: nonNegNum().default(0.05),
});
export const OPTIMIZERS = ['sgd', 'adamw'] as const;
const OptimizerSchema = z.discriminatedUnion('name', [SgdSchema, AdamWSchema], { error: `one of ${OPTIMIZERS.map(quote).join(', ')}` });

const warmup = {
  warmup_epochs: nonNegNum().default(0),
  warmup_start: nonNegNum().default(1e-3),
  per: oneOf(['step', 'epoch']).default('step'),
};
export const SCHEDULES = ['cosine', 'constant', 'step'] as const;
const ScheduleSchema = z.discriminatedUnion(
  'name',
  [
    z.strictObject({ name: z.literal('cosine'), ...warmup, min_lr: nonNegNum().default(0) }),
    z.strictObject({ name: z.literal('constant'), ...warmup }),
    z.strictObject({ name: z.literal('step'), ...warmup, step_size: posNum().default(1), gamma: posNum().default(0.8) }),
  ],
  { error: `one of ${SCHEDULES.map(quote).join(', ')}` },
);

// A curriculum: stages run in order, each a normal run whose config is the previous stage's (the first: this config
// without its curriculum) merged with the stage's own keys (src/config/curriculum.ts); validated whole at load.
const stageSection = (section: string) => z.record(z.string(), z.unknown(), { error: `a mapping of ${section} keys that this stage changes` }).optional();
const StageSchema = z.strictObject({
  name: str('a stage name').regex(/^[\w.-]+$/, { error: 'a stage name of letters, digits, "_", "-" and "."' }),
  arch: stageSection('arch'),
  data: stageSection('data'),
  train: stageSection('train'),
  eval: stageSection('eval'),
});
export const OPTIMIZER_STATE = ['keep', 'reset'] as const;
const CurriculumSchema = z.strictObject({
  /** What the groups carried into the next stage keep of their optimizer state (momenta, moments, step counts). */
  optimizer_state: oneOf(OPTIMIZER_STATE).default('reset'),
  stages: z.array(StageSchema, { error: 'a list of stages ({name, arch?, data?, train?, eval?})' }).min(1, { error: 'at least one stage' }),
});

const TrainSchema = z.strictObject({
  seed: nonNegInt(),
  batch_size: posInt(),
  epochs: posInt(),
  steps_per_epoch: posInt('a positive integer or null').nullable(),
  grad_accum: posInt(),
  loss: z.strictObject({
    fn: oneOf(LOSS_FNS),
    ce: z.strictObject({ pred_temp: posNum(), tgt_temp: posNum() }),
    cosine: z.strictObject({ mult: posNum() }),
    vicreg: z.strictObject({ sim: nonNegNum(), std: nonNegNum(), cov: nonNegNum(), eps: posNum() }),
  }),
  /** `<group>_<term>` → weight, terms in TERM_NAMES (missing terms weigh 1). */
  loss_weights: z.record(z.string(), nonNegNum('a weight ≥ 0'), { error: 'a mapping from loss terms (e.g. space_up) to weights' }),
  side: z.strictObject({ enabled: bool(), std_divisor: posNum() }),
  view: z.strictObject({ enabled: bool(), fn: oneOf(LOSS_FNS).nullable() }),
  down_target: oneOf(SUMMARY_TARGETS),
  summary_target: oneOf(SUMMARY_TARGETS),
  optimizer: OptimizerSchema,
  predictor_lr_mult: posNum(),
  no_decay: z.array(str('a name fragment'), { error: 'a list of parameter-name fragments' }),
  clip_grad_norm: posNum(orNull('a positive number', true)).nullable(),
  schedule: ScheduleSchema,
  alternation: z.strictObject({ interval_pct: number('a percentage in [0, 100]', (n, m) => n.min(0, { error: m }).max(100, { error: m })) }),
  checkpoint: z.strictObject({ every_steps: posInt(), keep_last: posInt() }),
  log_every: posInt(),
  /** Optimizer steps per ONNX Runtime run (one ONNX Loop over the fused step); absent: 1, and the config keeps its hash. */
  steps_per_run: posInt().optional(),
  /** Absent: one run. Kept out of the defaults so that configs without one keep their hash. */
  curriculum: CurriculumSchema.optional(),
});

// ---- eval ---------------------------------------------------------------------------------------------------------

const EvalSchema = z.strictObject({
  knn: z.strictObject({
    k: z.array(posInt(), { error: 'a list of positive neighbour counts' }),
    temperature: posNum(),
    schedule: oneOf(['exponential', 'linear']),
    every: nonNegInt('an integer ≥ 0 (0 = never)'),
  }),
  probe: z.strictObject({ epochs: posInt(), lr: posNum(), batch_size: posInt(), head: oneOf(['linear']) }),
  final: oneOf(['probe', 'finetune', 'none']),
  on: oneOf(['best', 'last']),
});

// ---- the whole --------------------------------------------------------------------------------------------------

export const SECTIONS = ['arch', 'data', 'train', 'eval'] as const;
export type Section = (typeof SECTIONS)[number];

export const ConfigSchema = z.strictObject({ arch: ArchSchema, data: DataSchema, train: TrainSchema, eval: EvalSchema });

export type Config = z.infer<typeof ConfigSchema>;
export type ArchConfig = Config['arch'];
export type DataConfig = Config['data'];
export type TrainConfig = Config['train'];
export type EvalConfig = Config['eval'];
export type GroupConfig = z.infer<typeof GroupSchema>;
export type TimeGroupConfig = z.infer<typeof TimeGroupSchema>;
export type OptimizerConfig = TrainConfig['optimizer'];
export type SgdConfig = Extract<OptimizerConfig, { name: 'sgd' }>;
export type AdamWConfig = Extract<OptimizerConfig, { name: 'adamw' }>;
export type ScheduleConfig = TrainConfig['schedule'];
export type CurriculumConfig = NonNullable<TrainConfig['curriculum']>;
export type OptimizerState = CurriculumConfig['optimizer_state'];

/** Whether training reads two views of each clip: the `vicreg` task, and `mine` with some EMA targets from another view. */
export const twoViews = (c: Pick<Config, 'arch' | 'train'>): boolean =>
  c.arch.task === 'vicreg' || (c.arch.task === 'mine' && c.arch.targets === 'ema' && (c.arch.ema.other_view_terms.length > 0 || c.train.view.enabled));
