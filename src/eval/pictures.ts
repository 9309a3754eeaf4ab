// Feature pictures: one level's features of a split, reduced to 2-D by PCA, t-SNE and UMAP, written as SVG and PNG
// (each with a title, axes and a class legend) into a folder: `<method>-<level>-<split>.svg|png`. Views of one video
// whose features coincide (a video no longer than a clip gives the same clip at every temporal position) are drawn
// once, and the subtitle counts videos, clips and the points drawn.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EMBEDDING } from '../graph/names.ts';
import { embed2d, subsample, type Method, METHODS } from './embed2d.ts';
import type { Features, LevelFeatures } from './features.ts';
import { levelOf } from './features.ts';
import { scatterPng, scatterSvg } from './plot.ts';

export interface PictureOptions {
  level?: string;
  methods?: readonly Method[];
  /** at most this many points (a seeded sample of the distinct views), default 1500 */
  maxPoints?: number;
  seed?: number;
  png?: boolean;
}

export interface Picture {
  method: Method;
  svg: string;
  png?: string;
  points: number;
  videos: number;
}

export const METHOD_TITLES: Record<Method, string> = { pca: 'PCA', tsne: 't-SNE', umap: 'UMAP' };
const AXES: Record<Method, string> = { pca: 'principal component', tsne: 't-SNE dimension', umap: 'UMAP dimension' };

/** Rows whose features equal those of an earlier row of the same video (to 1e-5 of the row's largest value) left out. */
export function distinctViews(l: LevelFeatures, videos: Int32Array, count: number): Int32Array {
  const kept = new Map<number, number[]>();
  const out: number[] = [];
  const row = (r: number) => l.data.subarray(r * l.dim, (r + 1) * l.dim);
  for (let r = 0; r < count; r++) {
    const a = row(r);
    const scale = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const same = (kept.get(videos[r]!) ?? []).some((k) => row(k).every((v, d) => Math.abs(v - a[d]!) <= 1e-5 * scale));
    if (same) continue;
    kept.set(videos[r]!, [...(kept.get(videos[r]!) ?? []), r]);
    out.push(r);
  }
  return Int32Array.from(out);
}

/** "16 videos, 48 clips (3 views each), 16 distinct points": what a picture's points are. */
export function pointsText(videos: Int32Array, count: number, distinct: number, drawn: number): string {
  const perVideo = new Map<number, number>();
  for (let r = 0; r < count; r++) perVideo.set(videos[r]!, (perVideo.get(videos[r]!) ?? 0) + 1);
  const views = [...perVideo.values()];
  const [lo, hi] = [Math.min(...views), Math.max(...views)];
  const each = lo === hi ? `${lo} view${lo === 1 ? '' : 's'} each` : `${lo}-${hi} views per video`;
  const parts = [`${perVideo.size} video${perVideo.size === 1 ? '' : 's'}`, `${count} clips (${each})`];
  if (drawn < distinct) parts.push(`a sample of ${drawn} of ${distinct}${distinct < count ? ' distinct' : ''} points`);
  else if (distinct < count) parts.push(`${distinct} distinct points`);
  return parts.join(', ');
}

export function writePictures(f: Features, dir: string, o: PictureOptions = {}): Picture[] {
  const level = o.level ?? EMBEDDING;
  const l = levelOf(f, level);
  const distinct = distinctViews(l, f.videos, f.count);
  const pick = Array.from(subsample(distinct.length, o.maxPoints ?? 1500, o.seed), (i) => distinct[i]!);
  const n = pick.length;
  const x = new Float32Array(n * l.dim);
  const labels = new Int32Array(n);
  pick.forEach((r, i) => {
    x.set(l.data.subarray(r * l.dim, (r + 1) * l.dim), i * l.dim);
    labels[i] = f.labels[r]!;
  });
  const classes = f.classes.length ? f.classes : Array.from({ length: Math.max(...labels) + 1 }, (_, i) => String(i));
  const subtitle = pointsText(f.videos, f.count, distinct.length, n);
  const videos = new Set(pick.map((r) => f.videos[r]!)).size;
  mkdirSync(dir, { recursive: true });
  return (o.methods ?? METHODS).map((method) => {
    const points = embed2d(method, x, n, l.dim, o.seed);
    const base = `${method}-${level}-${f.split}`;
    const plot = { title: `${METHOD_TITLES[method]} of ${level} features, ${f.split} split`, subtitle, classes, xLabel: `${AXES[method]} 1`, yLabel: `${AXES[method]} 2` };
    const svg = join(dir, `${base}.svg`);
    writeFileSync(svg, scatterSvg(points, labels, plot));
    let png: string | undefined;
    if (o.png !== false) {
      png = join(dir, `${base}.png`);
      writeFileSync(png, scatterPng(points, labels, plot));
    }
    return { method, svg, png, points: n, videos };
  });
}
