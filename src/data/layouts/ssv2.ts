// Something-Something v2: labels.json ({ template: "index" }), train.json / validation.json ([{ id, template }],
// brackets removed from the template to find its label), test.json ([{ id }]) with optional test-answers.csv
// ("id;template"); videos are "<id>.webm" anywhere under --src.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../../errors.ts';
import { byId, walk, type Entry, type Layout } from './types.ts';

const PARTS: [string, string][] = [['train.json', 'train'], ['validation.json', 'val'], ['test.json', 'test']];

function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new UserError(path, `unreadable JSON: ${(e as Error).message}`);
  }
}

export function ssv2(src: string, splits?: string[]): Layout {
  const found = walk(src, /^(labels|train|validation|test)\.json$|^test-answers\.csv$/);
  const find = (name: string) => found.find((f) => basename(f) === name);
  const labelsFile = find('labels.json');
  if (!labelsFile) throw new UserError(src, 'no labels.json found', 'expected the Something-Something v2 label files');
  const labels = readJson<Record<string, string>>(join(src, labelsFile));
  const classes: string[] = [];
  for (const [template, i] of Object.entries(labels)) classes[Number(i)] = template;
  const index = new Map(classes.map((c, i) => [c, i]));
  const plain = (t: string) => t.replace(/[[\]]/g, '');
  const videos = new Map(walk(src, /\.webm$/i).map((f) => [basename(f, '.webm'), join(src, f)]));
  const answersFile = find('test-answers.csv');
  const answers = new Map<string, string>();
  if (answersFile) {
    for (const l of readFileSync(join(src, answersFile), 'utf8').split(/\r?\n/)) {
      const k = l.indexOf(';');
      if (k > 0) answers.set(l.slice(0, k), l.slice(k + 1).trim());
    }
  }
  const entries: Entry[] = [];
  for (const [file, split] of PARTS) {
    const rel = find(file);
    if (!rel || (splits && !splits.includes(split))) continue;
    for (const v of readJson<{ id: string | number; template?: string }[]>(join(src, rel))) {
      const id = String(v.id);
      const template = v.template !== undefined ? plain(v.template) : answers.get(id);
      const label = template === undefined ? -1 : (index.get(template) ?? NaN);
      if (Number.isNaN(label)) throw new UserError(join(src, rel), `video ${id}: template "${template}" is not in labels.json`);
      entries.push({ id, src: videos.get(id) ?? join(src, `${id}.webm`), label, split });
    }
  }
  if (entries.length === 0) throw new UserError(src, 'no partition file (train.json, validation.json, test.json) found');
  return { classes, entries: entries.sort(byId) };
}
