// `vhssl eval <knn|probe|finetune|pictures|report> --run RUN_DIR [options]`: evaluation of a run's checkpoint on its
// prepared dataset. Results print to stdout and are appended to RUN_DIR/eval.jsonl (which the report shows).
import { join } from 'node:path';
import { UserError } from '../../errors.ts';
import { METHODS, type Method } from '../../eval/embed2d.ts';
import { encoderLevels } from '../../eval/encoder.ts';
import { labeledLevel, parseViews, runFeatures, viewsText, type Pool, type Views } from '../../eval/features.ts';
import { appendEvalRecord, finetuneSettings } from '../../eval/final.ts';
import { finetune } from '../../eval/finetune.ts';
import { knnClassify, type Accuracy } from '../../eval/knn.ts';
import { writePictures } from '../../eval/pictures.ts';
import { probeRun } from '../../eval/probe.ts';
import { buildReport } from '../../eval/report.ts';
import { loadRun, type Run } from '../../eval/run.ts';
import { splitFeatures, evalSplits } from '../../eval/validate.ts';
import { storeOf } from '../../eval/features.ts';
import { writingInto } from '../../fs-errors.ts';
import { EMBEDDING } from '../../graph/names.ts';
import { checkOutputDir } from '../../out-path.ts';
import { ensureProvider, type ExecutionProvider } from '../../runtime/session.ts';
import { EP_USAGE, epOption, intOption, parseCommandArgs, positiveOption, requireOption } from '../args.ts';
import type { Command } from '../command.ts';

const common = {
  run: { type: 'string' },
  checkpoint: { type: 'string' },
  level: { type: 'string' },
  pool: { type: 'string' },
  views: { type: 'string' },
  'train-views': { type: 'string' },
  data: { type: 'string' },
  batch: { type: 'string' },
  'no-cache': { type: 'boolean' },
  ep: { type: 'string' },
  threads: { type: 'string' },
} as const;

const SUBCOMMANDS = ['knn', 'probe', 'finetune', 'pictures', 'report'] as const;
type Sub = (typeof SUBCOMMANDS)[number];

const OPTIONS = {
  knn: { ...common, k: { type: 'string' }, temperature: { type: 'string' } },
  probe: { ...common, epochs: { type: 'string' }, lr: { type: 'string' }, hidden: { type: 'string' } },
  finetune: { run: common.run, checkpoint: common.checkpoint, views: common.views, data: common.data, ep: common.ep, threads: common.threads, epochs: { type: 'string' }, lr: { type: 'string' }, batch: common.batch, 'max-steps': { type: 'string' } },
  pictures: { ...common, split: { type: 'string' }, methods: { type: 'string' }, 'max-points': { type: 'string' } },
  report: { ...common, 'no-pictures': { type: 'boolean' }, methods: { type: 'string' }, 'max-points': { type: 'string' } },
} as const;



function ks(v: string | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((s) => s.trim());
  if (!parts.every((p) => /^\d+$/.test(p) && Number(p) >= 1)) throw new UserError('--k', `expected positive integers separated by commas, got "${v}"`);
  return parts.map(Number);
}

function poolOf(v: string | undefined): Pool | undefined {
  if (v === undefined) return undefined;
  if (v !== 'mean' && v !== 'flat') throw new UserError('--pool', `expected mean or flat, got "${v}"`);
  return v;
}

function methodsOf(v: string | undefined): Method[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(',').map((s) => s.trim());
  const bad = list.find((m) => !(METHODS as readonly string[]).includes(m));
  if (bad !== undefined) throw new UserError('--methods', `unknown method "${bad}"`, `use a comma list of ${METHODS.join(', ')}`);
  return list as Method[];
}

const fmtAcc = (a: Accuracy) => `top-1 ${a.top1.toFixed(2)}%  top-5 ${a.top5.toFixed(2)}%`;

function describeRun(run: Run): string {
  const c = run.checkpoint;
  return `${run.dir}, checkpoint ${c.name}${c.epoch !== null ? ` (epoch ${c.epoch}${c.step !== null ? `, step ${c.step}` : ''})` : ''}`;
}

/**
 * The run a subcommand evaluates, checked before any work: RUN_DIR takes the results (eval.jsonl, features/,
 * pictures/, report.html), and the execution provider can start here.
 */
async function openRun(runDir: string, checkpoint: string | undefined, ep: ExecutionProvider | undefined): Promise<Run> {
  const run = loadRun(runDir, { checkpoint });
  checkOutputDir(run.dir, '--run', 'eval writes its results into the run directory: copy the run somewhere you can write');
  if (ep) await ensureProvider(ep);
  return run;
}

interface Common {
  run: Run;
  level: string;
  views: { train: Views; test: Views };
  feature: { store?: string; pool?: Pool; batchSize?: number; ep?: ExecutionProvider; threads?: number; cache: boolean; progress: boolean };
}

async function commonOf(v: Record<string, string | boolean | undefined>): Promise<Common> {
  const runDir = requireOption('eval', v.run as string | undefined, 'run');
  const ep = epOption(v.ep as string | undefined);
  const run = await openRun(runDir, v.checkpoint as string | undefined, ep);
  return {
    run,
    level: (v.level as string | undefined) ?? EMBEDDING,
    views: {
      train: v['train-views'] === undefined ? { kind: 'multiview', temporal: 1, spatial: 1 } : parseViews('--train-views', v['train-views'] as string, run.config),
      test: v.views === undefined ? { kind: 'multiview', temporal: 3, spatial: 1 } : parseViews('--views', v.views as string, run.config),
    },
    feature: {
      store: v.data as string | undefined,
      pool: poolOf(v.pool as string | undefined),
      batchSize: intOption('batch', v.batch as string | undefined),
      ep,
      threads: intOption('threads', v.threads as string | undefined),
      cache: v['no-cache'] !== true,
      progress: process.stderr.isTTY === true,
    },
  };
}

async function features(c: Common) {
  return splitFeatures(c.run, { ...c.feature, level: c.level, trainViews: c.views.train, testViews: c.views.test });
}

const subcommands: Record<Sub, (argv: string[]) => Promise<number>> = {
  async knn(argv) {
    const { values: v } = parseCommandArgs('eval knn', argv, OPTIONS.knn);
    const c = await commonOf(v);
    const k = ks(v.k) ?? c.run.config.eval.knn.k;
    const temperature = positiveOption('temperature', v.temperature) ?? c.run.config.eval.knn.temperature;
    const { train, test, splits } = await features(c);
    const [tr, te] = [labeledLevel(train, c.level), labeledLevel(test, c.level)];
    const results = await knnClassify(tr, te,
      { k, temperature, numClasses: train.classes.length || undefined, threads: c.feature.threads, progress: c.feature.progress },
    );
    console.log(`k-NN on ${describeRun(c.run)}: level ${c.level} (dim ${tr.dim}), T ${temperature}`);
    console.log(`  ${splits.train} ${train.count} clips (views ${viewsText(c.views.train)}), ${splits.test} ${test.count} clips of ${results[0]!.video.count} videos (views ${viewsText(c.views.test)})`);
    for (const r of results) console.log(`  k=${String(r.k).padEnd(4)} clip  ${fmtAcc(r.clip)}   video  ${fmtAcc(r.video)}`);
    appendEvalRecord(c.run, { kind: 'knn', level: c.level, views: { train: viewsText(c.views.train), test: viewsText(c.views.test) }, splits, knn: results });
    return 0;
  },

  async probe(argv) {
    const { values: v } = parseCommandArgs('eval probe', argv, OPTIONS.probe);
    const c = await commonOf(v);
    const r = await probeRun(c.run, {
      ...c.feature, level: c.level, trainViews: c.views.train, testViews: c.views.test,
      probe: { epochs: intOption('epochs', v.epochs), lr: positiveOption('lr', v.lr), batchSize: c.feature.batchSize, hidden: intOption('hidden', v.hidden) },
    });
    const p = r.plan;
    console.log(`${v.hidden ? 'MLP' : 'linear'} probe on ${describeRun(c.run)}: level ${c.level} (dim ${r.dim}), ${r.splits.train} ${r.counts.train} clips, ${r.splits.test} ${r.counts.test} clips`);
    console.log(`  ${p.steps} steps (${p.epochs} epochs of ${p.stepsPerEpoch}, batch ${p.batchSize}), loss ${r.losses[0]!.toFixed(4)} → ${r.losses.at(-1)!.toFixed(4)}`);
    console.log(`  clip  ${fmtAcc(r.clip)}   video  ${fmtAcc(r.video)}`);
    appendEvalRecord(c.run, { kind: 'probe', level: r.level, views: r.views, splits: r.splits, clip: r.clip, video: r.video, settings: r.settings });
    return 0;
  },

  async finetune(argv) {
    const { values: v } = parseCommandArgs('eval finetune', argv, OPTIONS.finetune);
    const ep = epOption(v.ep);
    const run = await openRun(requireOption('eval', v.run, 'run'), v.checkpoint, ep);
    const testViews = v.views === undefined ? undefined : parseViews('--views', v.views, run.config);
    const asked = { epochs: intOption('epochs', v.epochs), lr: positiveOption('lr', v.lr), batchSize: intOption('batch', v.batch), maxSteps: intOption('max-steps', v['max-steps']), testViews };
    const r = await finetune(run.config, run.spec, run.params, { ...asked, store: v.data, ep, threads: intOption('threads', v.threads), progress: process.stderr.isTTY === true });
    console.log(`fine-tuned ${describeRun(run)} for ${r.steps} steps; loss per epoch ${r.losses.map((l) => l.toFixed(4)).join(' ')}`);
    console.log(`  clip  ${fmtAcc(r.clip)}   video  ${fmtAcc(r.video)}`);
    appendEvalRecord(run, { kind: 'finetune', level: EMBEDDING, clip: r.clip, video: r.video, settings: finetuneSettings(run.config, r, asked) });
    return 0;
  },

  async pictures(argv) {
    const { values: v } = parseCommandArgs('eval pictures', argv, OPTIONS.pictures);
    const c = await commonOf(v);
    const files = await pictures(c, v.split, methodsOf(v.methods), intOption('max-points', v['max-points']));
    for (const f of files) console.log(f);
    return 0;
  },

  async report(argv) {
    const { values: v } = parseCommandArgs('eval report', argv, OPTIONS.report);
    const c = await commonOf(v);
    if (!v['no-pictures']) await pictures(c, undefined, methodsOf(v.methods), intOption('max-points', v['max-points']));
    console.log(buildReport(c.run.dir, c.run.config));
    return 0;
  },
};

/** Writes RUN_DIR/pictures/<method>-<level>-<split>.svg|png; returns the files. */
async function pictures(c: Common, split: string | undefined, methods: Method[] | undefined, maxPoints: number | undefined): Promise<string[]> {
  const s = split ?? evalSplits(storeOf(c.run.config, c.feature.store)).test;
  const known = encoderLevels(c.run.spec);
  if (!known.includes(c.level)) throw new UserError('--level', `unknown level "${c.level}"`, `this encoder has ${known.join(', ')}`);
  const f = await runFeatures(c.run, { ...c.feature, split: s, views: s === 'train' ? c.views.train : c.views.test });
  const dir = join(c.run.dir, 'pictures');
  const made = await writingInto(dir, async () => writePictures(f, dir, { level: c.level, methods, maxPoints, seed: c.run.config.train.seed }));
  return made.flatMap((p) => (p.png ? [p.svg, p.png] : [p.svg]));
}

export const command: Command = {
  summary: 'evaluate a run: k-NN, linear probe, fine-tuning, feature pictures, HTML report',
  usage: [
    'vhssl eval knn      --run RUN_DIR [--k 10,20] [--temperature 0.07] [common options]',
    'vhssl eval probe    --run RUN_DIR [--epochs N] [--lr X] [--batch N] [--hidden N] [common options]',
    'vhssl eval finetune --run RUN_DIR [--epochs N] [--lr X] [--batch N] [--max-steps N] [--checkpoint C] [--views V] [--data PATH]',
    'vhssl eval pictures --run RUN_DIR [--split S] [--methods pca,tsne,umap] [--max-points N] [common options]',
    'vhssl eval report   --run RUN_DIR [--no-pictures] [--methods …] [common options]   → RUN_DIR/report.html',
    '',
    'common options:',
    '  --checkpoint C     best | last | PATH (default: best, else last)',
    '  --level L          embedding (default) or a group level: space, time, … (per-clip mean over its tokens)',
    '  --pool mean|flat   how a group level becomes one vector per clip (default mean; flat keeps every token)',
    '  --views V          test views: TxS temporal × spatial crops (default 3x1), or sliding[:STEP]',
    '  --train-views V    train views (default 1x1)',
    '  --data PATH        another prepared store than the config\'s data.root',
    '  --batch N          clips per encoder run (probe: its batch size)      --no-cache   ignore RUN_DIR/features',
    `  ${EP_USAGE.padEnd(19)}execution provider (default cpu)                    --threads N  intra-op threads`,
    '',
    'Splits: train, and val when the store has it, else test. Results are appended to RUN_DIR/eval.jsonl.',
  ].join('\n'),
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new UserError('arguments', sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`, `use one of ${SUBCOMMANDS.join(', ')}`);
    }
    return subcommands[sub as Sub](rest);
  },
};
