// A CSV of "path,label[,split]" (header optional; paths relative to the CSV's folder). Labels that are all
// non-negative integers are used as they are; otherwise class names, indexed in sorted order.
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { UserError } from '../../errors.ts';
import { byId, csvFields, type Entry, type Layout } from './types.ts';

export function csv(src: string, splits?: string[]): Layout {
  const file = statSync(src).isDirectory() ? join(src, 'labels.csv') : src;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(file, 'no such CSV file', 'pass --src FILE.csv, or a folder holding labels.csv');
  }
  const rows = text.split(/\r?\n/).filter((l) => l.trim() !== '').map((l) => csvFields(l));
  if (rows[0]?.[0] === 'path') rows.shift();
  const bad = rows.findIndex((r) => r.length < 2 || r[0] === '');
  if (bad >= 0) throw new UserError(`${file}:${bad + 1}`, `expected "path,label[,split]", got "${rows[bad]!.join(',')}"`);
  const numeric = rows.every((r) => /^\d+$/.test(r[1]!));
  const classes = numeric ? [] : [...new Set(rows.map((r) => r[1]!))].sort();
  if (numeric) for (const r of rows) classes[Number(r[1])] = r[1]!;
  const index = new Map(classes.map((c, i) => [c, i]));
  const base = dirname(file);
  const entries: Entry[] = rows
    .map((r) => ({
      id: r[0]!.replace(/\.[^./]+$/, ''),
      src: isAbsolute(r[0]!) ? r[0]! : join(base, r[0]!),
      label: numeric ? Number(r[1]) : index.get(r[1]!)!,
      split: r[2] || 'train',
    }))
    .filter((e) => !splits || splits.includes(e.split));
  for (let i = 0; i < classes.length; i++) classes[i] ??= String(i);
  return { classes, entries: entries.sort(byId), skipped: [] };
}
