// Dataset name -> layout parser.
import { existsSync } from 'node:fs';
import { UserError } from '../../errors.ts';
import { csv } from './csv.ts';
import { folder } from './folder.ts';
import { k400 } from './k400.ts';
import { ssv2 } from './ssv2.ts';
import { IMAGE_EXT, VIDEO_EXT, type Layout } from './types.ts';
import { ucf101 } from './ucf101.ts';

export const DATASETS = ['ucf101', 'k400', 'ssv2', 'imagenet', 'folder', 'csv', 'moving-mnist'] as const;
export type Dataset = (typeof DATASETS)[number];

/** `split` is the UCF101 split number, or for the other layouts a comma list of the splits to keep. */
export function readLayout(dataset: Exclude<Dataset, 'moving-mnist'>, src: string, split?: string): Layout {
  if (!existsSync(src)) throw new UserError(src, 'no such file or directory', '--src must point at the dataset');
  const splits = split?.split(',').map((s) => s.trim()).filter(Boolean);
  switch (dataset) {
    case 'ucf101':
      return ucf101(src, split);
    case 'k400':
      return k400(src, splits);
    case 'ssv2':
      return ssv2(src, splits);
    case 'imagenet':
      return folder(src, IMAGE_EXT, splits);
    case 'folder':
      return folder(src, new RegExp(`${VIDEO_EXT.source}|${IMAGE_EXT.source}`, 'i'), splits);
    case 'csv':
      return csv(src, splits);
  }
}
