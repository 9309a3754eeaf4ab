// `vhssl prepare`: a dataset layout (or generated Moving MNIST) -> the uint8 frame store read by the loader.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../errors.ts';
import { writingInto } from '../../fs-errors.ts';
import { checkOutputDir } from '../../out-path.ts';
import { DATASETS, readLayout, type Dataset } from '../../data/layouts/index.ts';
import { generateMovingMnist } from '../../data/moving-mnist.ts';
import { prepare, type SizeSpec, type Summary } from '../../data/prepare.ts';
import { intOption, parseCommandArgs, positiveOption, requireOption } from '../args.ts';
import type { Command } from '../command.ts';

const options = {
  dataset: { type: 'string' },
  src: { type: 'string' },
  out: { type: 'string' },
  size: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
  fps: { type: 'string' },
  split: { type: 'string' },
  jobs: { type: 'string' },
  shard: { type: 'string' },
  'shard-mb': { type: 'string' },
  timeout: { type: 'string' },
  verify: { type: 'boolean' },
  videos: { type: 'string' },
  frames: { type: 'string' },
  seed: { type: 'string' },
  digit: { type: 'string' },
} as const;



function sizeSpec(v: { size?: string; width?: string; height?: string }): SizeSpec {
  const side = intOption('size', v.size, 1);
  const width = intOption('width', v.width, 1);
  const height = intOption('height', v.height, 1);
  if (side !== undefined && (width !== undefined || height !== undefined)) {
    throw new UserError('--size', 'give either --size (shortest side) or --width and --height (exact), not both');
  }
  if ((width === undefined) !== (height === undefined)) throw new UserError(width === undefined ? '--width' : '--height', 'is required with the other', 'an exact size needs both --width and --height');
  if (side !== undefined) return { kind: 'short', side };
  if (width !== undefined && height !== undefined) return { kind: 'exact', width, height };
  return { kind: 'native' };
}

function shardSpec(v: string | undefined): { index: number; count: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(v.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) {
    throw new UserError('--shard', `expected i/n with 0 ≤ i < n, got "${v}"`, 'e.g. --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT');
  }
  return { index, count };
}

export const command: Command = {
  summary: 'decode a video dataset into the uint8 frame store the loader reads',
  usage: [
    'vhssl prepare --dataset <ucf101|k400|ssv2|imagenet|folder|csv|moving-mnist> --src PATH --out PATH [options]',
    '',
    '  --size N              shortest side N pixels, aspect kept      --width W --height H   exact size',
    '  --fps F               resample to F frames/s (default native)',
    '  --split S             ucf101: official split 1|2|3 (default 1); others: comma list of splits to keep',
    '  --jobs N              videos decoded in parallel (default: CPU count)',
    '  --shard i/n           prepare only videos k with k mod n = i (0-based; array jobs may share --out)',
    '  --shard-mb M          shard file size (default 256)        --timeout S   stall timeout per video (default 60)',
    '  --verify              re-check the CRC of every video already in the store before resuming',
    '  moving-mnist (no --src): --videos N (default 400) --frames F (default 20) --size S (default 64) --seed N',
    '                         --digit D   digit side in pixels (default 28·S/64, the classic proportions)',
  ].join('\n'),
  async run(argv) {
    const { values: v } = parseCommandArgs('prepare', argv, options);
    const dataset = requireOption('prepare', v.dataset, 'dataset') as Dataset;
    if (!(DATASETS as readonly string[]).includes(dataset)) {
      throw new UserError('--dataset', `unknown dataset "${dataset}"`, `expected one of ${DATASETS.join(', ')}`);
    }
    const out = requireOption('prepare', v.out, 'out');
    checkOutputDir(out, '--out');
    const common = {
      out,
      fps: positiveOption('fps', v.fps),
      jobs: intOption('jobs', v.jobs, 1) ?? availableParallelism(),
      shard: shardSpec(v.shard),
      shardBytes: (intOption('shard-mb', v['shard-mb'], 1) ?? 256) * 2 ** 20,
      verify: v.verify ?? false,
      timeoutMs: (positiveOption('timeout', v.timeout) ?? 60) * 1000,
      progress: process.stderr.isTTY === true,
    };
    const log = (line: string) => console.error(`vhssl prepare: ${line}`);
    let work: () => Promise<Summary>;
    if (dataset === 'moving-mnist') {
      for (const k of ['src', 'width', 'height', 'fps'] as const) {
        if (v[k] !== undefined) throw new UserError(`--${k}`, 'does not apply to moving-mnist', 'it is generated: use --videos, --frames, --size, --seed, --digit');
      }
      const size = intOption('size', v.size, 16) ?? 64;
      if (size % 2 !== 0) throw new UserError('--size', `moving-mnist needs an even size for H.264, got ${size}`);
      const generate = {
        videos: intOption('videos', v.videos, 1) ?? 400,
        frames: intOption('frames', v.frames, 2) ?? 20,
        size,
        seed: intOption('seed', v.seed, 0) ?? 0,
        digit: intOption('digit', v.digit, 4),
        jobs: common.jobs,
        fps: 10,
      };
      work = async () => {
        const csv = await generateMovingMnist(join(out, 'videos'), generate);
        return prepare(dataset, readLayout('csv', csv), { ...common, size: { kind: 'native' } }, log);
      };
    } else {
      for (const k of ['videos', 'frames', 'seed', 'digit'] as const) {
        if (v[k] !== undefined) throw new UserError(`--${k}`, 'applies only to --dataset moving-mnist');
      }
      const src = requireOption('prepare', v.src, 'src');
      const size = sizeSpec(v);
      const layout = readLayout(dataset, src, v.split);
      work = () => prepare(dataset, layout, { ...common, size }, log);
    }
    const summary = await writingInto(out, work);
    const splits = Object.entries(summary.splits).map(([s, c]) => `${s} ${c.videos}`).join(', ');
    console.log(
      `prepared ${summary.done}/${summary.selected} videos into ${out} (${splits || 'none'}; ${summary.alreadyDone} already done, ` +
        `${summary.failed} unreadable${summary.failed ? `, see report${summary.shard ? `-${summary.shard.replace('/', 'of')}` : ''}.jsonl` : ''})`,
    );
    return 0;
  },
};
