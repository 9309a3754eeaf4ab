// Something-Something v2: labels.json ({ template: "index" }), train.json / validation.json ([{ id, template }],
// brackets removed from the template to find its label), test.json ([{ id }]) with optional test-answers.csv
// ("id;template"); videos are "<id>.webm" anywhere under --src. A video found under --src but unreadable there (a
// dangling link, ...) is reported under its id; a video not found at all reaches the decoder.
import { basename, join } from 'node:path';
import { UserError } from '../../errors.ts';
import { listedEntries, readText, walk, type Layout } from './types.ts';

const PARTS: [string, string][] = [['train.json', 'train'], ['validation.json', 'val'], ['test.json', 'test']];
const META = /^(labels|train|validation|test)\.json$|^test-answers\.csv$/;
const WEBM = /\.webm$/i;

function readJson<T>(path: string): T {
  const text = readText(path);
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new UserError(path, `unreadable JSON: ${(e as Error).message}`);
  }
}

export function ssv2(src: string, splits?: string[]): Layout {
  const tree = walk(src, { test: (name) => META.test(name) || WEBM.test(name) });
  const find = (name: string) => tree.files.find((f) => basename(f) === name);
  const labelsFile = find('labels.json');
  if (!labelsFile) throw new UserError(src, 'no labels.json found', 'expected the Something-Something v2 label files');
  const labels = readJson<Record<string, string>>(join(src, labelsFile));
  const classes: string[] = [];
  for (const [template, i] of Object.entries(labels)) classes[Number(i)] = template;
  const index = new Map(classes.map((c, i) => [c, i]));
  const plain = (t: string) => t.replace(/[[\]]/g, '');
  const stem = (path: string) => (WEBM.test(path) ? basename(path).replace(WEBM, '') : undefined);
  const answersFile = find('test-answers.csv');
  const answers = new Map<string, string>();
  if (answersFile) {
    for (const l of readText(join(src, answersFile)).split(/\r?\n/)) {
      const k = l.indexOf(';');
      if (k > 0) answers.set(l.slice(0, k), l.slice(k + 1).trim());
    }
  }
  const rows: { id: string; split: string; label: number }[] = [];
  for (const [file, split] of PARTS) {
    const rel = find(file);
    if (!rel || (splits && !splits.includes(split))) continue;
    const list = readJson<{ id: string | number; template?: string }[]>(join(src, rel));
    if (!Array.isArray(list)) throw new UserError(join(src, rel), 'expected a JSON array of { id, template }');
    for (const v of list) {
      const id = String(v.id);
      const template = v.template !== undefined ? plain(v.template) : answers.get(id);
      const label = template === undefined ? -1 : (index.get(template) ?? NaN);
      if (Number.isNaN(label)) throw new UserError(join(src, rel), `video ${id}: template "${template}" is not in labels.json`);
      rows.push({ id, split, label });
    }
  }
  if (rows.length === 0) throw new UserError(src, 'no partition file (train.json, validation.json, test.json) found');
  return { classes, ...listedEntries(src, tree, stem, rows, (r) => join(src, `${r.id}.webm`)) };
}
