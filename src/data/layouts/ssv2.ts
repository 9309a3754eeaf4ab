// Something-Something v2: labels.json ({ template: "index" }), train.json / validation.json ([{ id, template }],
// brackets removed from the template to find its label), test.json ([{ id }]) with optional test-answers.csv
// ("id;template"); videos are "<id>.webm" anywhere under --src. A video found under --src but unreadable there (a
// dangling link, ...) is reported under its id; a video not found at all reaches the decoder.
import { basename, join } from 'node:path';
import { UserError } from '../../errors.ts';
import { byId, readText, skippedOf, walk, type Entry, type Layout, type Skipped } from './types.ts';

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
  const videos = new Map(tree.files.filter((f) => WEBM.test(f)).map((f) => [stem(f)!, join(src, f)]));
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
  const { skipped, claimed } = skippedOf(src, tree.problems, stem, new Set(rows.map((r) => r.id).filter((id) => !videos.has(id))));
  const entries: Entry[] = [];
  const failed: Skipped[] = [];
  for (const r of rows) {
    const bad = claimed.get(r.id);
    if (bad) failed.push(bad);
    else entries.push({ id: r.id, src: videos.get(r.id) ?? join(src, `${r.id}.webm`), label: r.label, split: r.split });
  }
  return { classes, entries: entries.sort(byId), skipped: [...skipped, ...failed] };
}
