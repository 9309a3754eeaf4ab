// Plots as standalone SVG text (scatter of 2-D features coloured by class; line charts of training curves) and PNG
// scatter images (pngjs). No fonts are needed for the PNG: it carries points only, its legend is in the SVG/HTML.
import { PNG } from 'pngjs';
import type { Points } from './embed2d.ts';

const TAB10 = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** A distinct colour per class: tab10, then evenly spaced hues. */
export function classColour(c: number, classes: number): string {
  if (classes <= TAB10.length) return TAB10[c % TAB10.length]!;
  return hslHex((c * 360) / classes, 0.65, c % 2 ? 0.42 : 0.55);
}

function hslHex(h: number, s: number, l: number): string {
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    const v = l - s * Math.min(l, 1 - l) * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(255 * v).toString(16).padStart(2, '0');
  };
  return `#${f(0)}${f(8)}${f(4)}`;
}

export const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2));

interface Box { x0: number; y0: number; x1: number; y1: number }

function bounds(xs: ArrayLike<number>, ys: ArrayLike<number>): Box {
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i]!) || !Number.isFinite(ys[i]!)) continue;
    x0 = Math.min(x0, xs[i]!);
    x1 = Math.max(x1, xs[i]!);
    y0 = Math.min(y0, ys[i]!);
    y1 = Math.max(y1, ys[i]!);
  }
  if (!Number.isFinite(x0)) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  return { x0, y0, x1, y1 };
}

export interface ScatterOptions {
  title: string;
  classes: readonly string[];
  width?: number;
  height?: number;
}

/** Points (n, 2) coloured by label, with a legend naming each class. */
export function scatterSvg(points: Points, labels: ArrayLike<number>, o: ScatterOptions): string {
  const [W, H] = [o.width ?? 640, o.height ?? 480];
  const legendW = 150;
  const pad = 30;
  const n = labels.length;
  const xs = Array.from({ length: n }, (_, i) => points[2 * i]!);
  const ys = Array.from({ length: n }, (_, i) => points[2 * i + 1]!);
  const b = bounds(xs, ys);
  const sx = (v: number) => pad + ((v - b.x0) / (b.x1 - b.x0)) * (W - legendW - 2 * pad);
  const sy = (v: number) => H - pad - ((v - b.y0) / (b.y1 - b.y0)) * (H - 2 * pad - 20);
  const K = o.classes.length;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${pad}" y="18" font-size="14">${escapeXml(o.title)}</text>`,
    `<g class="points">`,
  ];
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(xs[i]!) || !Number.isFinite(ys[i]!)) continue;
    out.push(`<circle cx="${sx(xs[i]!).toFixed(1)}" cy="${sy(ys[i]!).toFixed(1)}" r="3" fill="${classColour(labels[i]!, K)}" fill-opacity="0.8"><title>${escapeXml(o.classes[labels[i]!] ?? String(labels[i]))}</title></circle>`);
  }
  out.push('</g>', '<g class="legend">');
  const shown = o.classes.slice(0, Math.floor((H - 40) / 16));
  shown.forEach((name, c) => {
    const y = 40 + c * 16;
    out.push(`<rect x="${W - legendW + 5}" y="${y - 9}" width="10" height="10" fill="${classColour(c, K)}"/>`, `<text x="${W - legendW + 20}" y="${y}">${escapeXml(name)}</text>`);
  });
  if (shown.length < K) out.push(`<text x="${W - legendW + 5}" y="${40 + shown.length * 16}">… ${K - shown.length} more</text>`);
  out.push('</g>', '</svg>');
  return out.join('\n');
}

function hexRgb(hex: string): [number, number, number] {
  return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
}

/** The same scatter as a PNG (points only, white background). */
export function scatterPng(points: Points, labels: ArrayLike<number>, classes: number, o: { width?: number; height?: number } = {}): Buffer {
  const [W, H] = [o.width ?? 480, o.height ?? 480];
  const png = new PNG({ width: W, height: H });
  png.data.fill(255);
  const n = labels.length;
  const xs = Array.from({ length: n }, (_, i) => points[2 * i]!);
  const ys = Array.from({ length: n }, (_, i) => points[2 * i + 1]!);
  const b = bounds(xs, ys);
  const pad = 8;
  const r = 3;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(xs[i]!) || !Number.isFinite(ys[i]!)) continue;
    const cx = Math.round(pad + ((xs[i]! - b.x0) / (b.x1 - b.x0)) * (W - 2 * pad));
    const cy = Math.round(H - pad - ((ys[i]! - b.y0) / (b.y1 - b.y0)) * (H - 2 * pad));
    const [R, G, B] = hexRgb(classColour(labels[i]!, classes));
    for (let y = cy - r; y <= cy + r; y++) {
      for (let x = cx - r; x <= cx + r; x++) {
        if (x < 0 || y < 0 || x >= W || y >= H || (x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
        const k = (y * W + x) * 4;
        png.data[k] = R;
        png.data[k + 1] = G;
        png.data[k + 2] = B;
        png.data[k + 3] = 255;
      }
    }
  }
  return PNG.sync.write(png);
}

export interface Series {
  name: string;
  x: number[];
  y: number[];
}

export interface LineOptions {
  title: string;
  xLabel: string;
  yLabel?: string;
  /** log-scale y when every value is positive */
  logY?: boolean;
  width?: number;
  height?: number;
}

/** Nice tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** Line chart of several series, with axes, ticks and a legend. */
export function lineChartSvg(series: readonly Series[], o: LineOptions): string {
  const [W, H] = [o.width ?? 560, o.height ?? 300];
  const [left, right, top, bottom] = [60, 160, 28, 40];
  const allY = series.flatMap((s) => s.y).filter(Number.isFinite);
  const log = o.logY === true && allY.length > 0 && allY.every((v) => v > 0);
  const ty = (v: number) => (log ? Math.log10(v) : v);
  const b = bounds(series.flatMap((s) => s.x), allY.map(ty));
  const sx = (v: number) => left + ((v - b.x0) / (b.x1 - b.x0)) * (W - left - right);
  const sy = (v: number) => H - bottom - ((ty(v) - b.y0) / (b.y1 - b.y0)) * (H - top - bottom);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="16" font-size="13">${escapeXml(o.title)}</text>`,
    `<g class="axes" stroke="#444">`,
    `<line x1="${left}" y1="${H - bottom}" x2="${W - right}" y2="${H - bottom}"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${H - bottom}"/>`,
    '</g>',
    '<g class="ticks" fill="#444">',
  ];
  for (const v of ticks(b.x0, b.x1)) out.push(`<text x="${sx(v).toFixed(1)}" y="${H - bottom + 14}" text-anchor="middle">${fmt(v)}</text>`);
  for (const t of ticks(b.y0, b.y1)) {
    const v = log ? 10 ** t : t;
    out.push(`<text x="${left - 4}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${log ? v.toPrecision(2) : fmt(v)}</text>`, `<line x1="${left}" x2="${W - right}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#eee"/>`);
  }
  out.push('</g>', `<text x="${(left + W - right) / 2}" y="${H - 6}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  if (o.yLabel) out.push(`<text transform="translate(14 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}${log ? ' (log)' : ''}</text>`);
  out.push('<g class="series" fill="none" stroke-width="1.5">');
  series.forEach((s, i) => {
    const pts = s.x.map((x, k) => [x, s.y[k]!] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!log || y > 0));
    const colour = classColour(i, series.length);
    out.push(`<polyline stroke="${colour}" points="${pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"><title>${escapeXml(s.name)}</title></polyline>`);
    if (pts.length === 1) out.push(`<circle cx="${sx(pts[0]![0]).toFixed(1)}" cy="${sy(pts[0]![1]).toFixed(1)}" r="3" fill="${colour}"/>`);
  });
  out.push('</g>', '<g class="legend">');
  series.forEach((s, i) => {
    const y = top + 10 + i * 15;
    out.push(`<line x1="${W - right + 10}" x2="${W - right + 28}" y1="${y - 4}" y2="${y - 4}" stroke="${classColour(i, series.length)}" stroke-width="2"/>`, `<text x="${W - right + 32}" y="${y}">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>', '</svg>');
  return out.join('\n');
}
