// Kinetics-400: CSV rows "label,youtube_id,time_start,time_end,split[,is_cc]" (any *.csv under --src, e.g.
// annotations/train.csv, validate.csv); the clip is the file "<youtube_id>_<start:06>_<end:06>.<ext>" anywhere under
// --src. Classes: the sorted set of labels. A split without labels (test) gets label −1. A kept row whose clip is found
// only as an unreadable name (a dangling link, ...) is reported under the row's id; one not found at all reaches the
// decoder, which reports it missing.
import { basename, join } from 'node:path';
import { UserError } from '../../errors.ts';
import { csvFields, listedEntries, readText, VIDEO_EXT, walk, type Layout } from './types.ts';

const SPLIT_NAMES: Record<string, string> = { validate: 'val', validation: 'val', valid: 'val' };
const CSV = /\.csv$/i;

export function k400(src: string, splits?: string[]): Layout {
  const tree = walk(src, { test: (name) => CSV.test(name) || VIDEO_EXT.test(name) });
  const csvs = tree.files.filter((f) => CSV.test(f));
  if (csvs.length === 0) throw new UserError(src, 'no annotation CSV found', 'expected files with "label,youtube_id,time_start,time_end,split"');
  const rows: { label: string; id: string; split: string }[] = [];
  for (const csv of csvs) {
    const path = join(src, csv);
    const [header, ...body] = readText(path).split(/\r?\n/).filter((l) => l.trim() !== '');
    const cols = csvFields(header ?? '');
    const at = (name: string) => cols.indexOf(name);
    if (at('youtube_id') < 0 || at('time_start') < 0 || at('time_end') < 0) {
      throw new UserError(path, `not a Kinetics annotation CSV (header "${header}")`, 'expected label,youtube_id,time_start,time_end,split');
    }
    const fallback = basename(csv).replace(/\.csv$/i, '');
    for (const line of body) {
      const f = csvFields(line);
      const pad = (s: string) => String(Math.round(Number(s))).padStart(6, '0');
      const raw = (at('split') >= 0 ? f[at('split')] : fallback) ?? fallback;
      rows.push({
        label: at('label') >= 0 ? (f[at('label')] ?? '') : '',
        id: `${f[at('youtube_id')]}_${pad(f[at('time_start')]!)}_${pad(f[at('time_end')]!)}`,
        split: SPLIT_NAMES[raw] ?? raw,
      });
    }
  }
  const classes = [...new Set(rows.map((r) => r.label).filter(Boolean))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const stem = (path: string) => (VIDEO_EXT.test(path) ? basename(path).replace(VIDEO_EXT, '') : undefined);
  const selected = rows.filter((r) => !splits || splits.includes(r.split)).map((r) => ({ id: r.id, label: index.get(r.label) ?? -1, split: r.split }));
  return { classes, ...listedEntries(src, tree, stem, selected, (r) => join(src, r.split, `${r.id}.mp4`)) };
}
