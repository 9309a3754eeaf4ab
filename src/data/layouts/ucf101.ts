// UCF101: classInd.txt ("1 ApplyEyeMakeup"), trainlistNN.txt ("Class/v_Class_gXX_cXX.avi 1") and testlistNN.txt
// ("Class/v_Class_gXX_cXX.avi", label from the folder, matched without case: HandstandPushups vs HandStandPushups).
// The videos are in the first of VIDEO_DIRS holding any listed file; a listed file missing there reaches the decoder.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../../errors.ts';
import { readText, type Entry, type Layout } from './types.ts';

const LIST_DIRS = ['ucfTrainTestlist', 'UCF101TrainTestSplits-RecognitionTask/ucfTrainTestlist', '.'];
const VIDEO_DIRS = ['UCF-101', 'UCF101', 'videos', '.'];

const lines = (file: string) => readText(file).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);

export function ucf101(src: string, split = '1'): Layout {
  if (!/^[123]$/.test(split)) throw new UserError('--split', `UCF101 has official splits 1, 2 and 3, got "${split}"`);
  const listDir = LIST_DIRS.map((d) => join(src, d)).find((d) => existsSync(join(d, 'classInd.txt')));
  if (!listDir) throw new UserError(src, 'no classInd.txt found', `expected it in ${LIST_DIRS.map((d) => join(src, d)).join(' or ')}`);
  const classes: string[] = [];
  for (const l of lines(join(listDir, 'classInd.txt'))) {
    const [n, name] = l.split(/\s+/);
    const i = Number(n) - 1;
    if (!Number.isInteger(i) || i < 0 || !name) throw new UserError(join(listDir, 'classInd.txt'), `bad line "${l}"`, 'expected "<1-based index> <class>"');
    classes[i] = name;
  }
  const byLower = new Map(classes.map((c, i) => [c.toLowerCase(), i]));
  const entries: Entry[] = [];
  for (const [part, file] of [['train', `trainlist0${split}.txt`], ['test', `testlist0${split}.txt`]] as const) {
    const path = join(listDir, file);
    if (!existsSync(path)) throw new UserError(path, 'no such split file');
    for (const l of lines(path)) {
      const [rel, n] = l.split(/\s+/);
      const folder = rel!.split('/')[0]!;
      const label = n !== undefined ? Number(n) - 1 : (byLower.get(folder.toLowerCase()) ?? NaN);
      if (!(label >= 0 && label < classes.length)) throw new UserError(`${path}`, `unknown class for "${l}"`);
      entries.push({ id: basename(rel!).replace(/\.[^.]+$/, ''), src: rel!, label, split: part });
    }
  }
  const root = VIDEO_DIRS.map((d) => join(src, d)).find((d) => entries.some((e) => existsSync(join(d, e.src)))) ?? src;
  for (const e of entries) e.src = join(root, e.src);
  return { classes, entries, skipped: [] };
}
