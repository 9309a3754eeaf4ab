// Feature pictures: one level's features of a split, reduced to 2-D by PCA, t-SNE and UMAP, written as SVG (with a
// class legend) and PNG (points only) into a folder: `<method>-<level>-<split>.svg|png`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EMBEDDING } from '../graph/names.ts';
import { embed2d, subsample, type Method, METHODS } from './embed2d.ts';
import type { Features } from './features.ts';
import { levelOf } from './features.ts';
import { scatterPng, scatterSvg } from './plot.ts';

export interface PictureOptions {
  level?: string;
  methods?: readonly Method[];
  /** at most this many clips (a seeded sample), default 1500 */
  maxPoints?: number;
  seed?: number;
  png?: boolean;
}

export interface Picture {
  method: Method;
  svg: string;
  png?: string;
  points: number;
}

export const METHOD_TITLES: Record<Method, string> = { pca: 'PCA', tsne: 't-SNE', umap: 'UMAP' };

export function writePictures(f: Features, dir: string, o: PictureOptions = {}): Picture[] {
  const level = o.level ?? EMBEDDING;
  const l = levelOf(f, level);
  const pick = subsample(f.count, o.maxPoints ?? 1500, o.seed);
  const n = pick.length;
  const x = new Float32Array(n * l.dim);
  const labels = new Int32Array(n);
  pick.forEach((r, i) => {
    x.set(l.data.subarray(r * l.dim, (r + 1) * l.dim), i * l.dim);
    labels[i] = f.labels[r]!;
  });
  const classes = f.classes.length ? f.classes : Array.from({ length: Math.max(...labels) + 1 }, (_, i) => String(i));
  mkdirSync(dir, { recursive: true });
  return (o.methods ?? METHODS).map((method) => {
    const points = embed2d(method, x, n, l.dim, o.seed);
    const base = `${method}-${level}-${f.split}`;
    const title = `${METHOD_TITLES[method]} of ${level} features, ${f.split} split (${n} clips)`;
    const svg = join(dir, `${base}.svg`);
    writeFileSync(svg, scatterSvg(points, labels, { title, classes }));
    let png: string | undefined;
    if (o.png !== false) {
      png = join(dir, `${base}.png`);
      writeFileSync(png, scatterPng(points, labels, classes.length));
    }
    return { method, svg, png, points: n };
  });
}
