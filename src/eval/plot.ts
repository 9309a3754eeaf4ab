// Plots: line charts of training curves (SVG) and scatters of 2-D features coloured by class, as SVG and as PNG (drawn
// by raster.ts). A scatter's layout (plot box, ticks, legend) is computed once and rendered to either, so the PNG carries
// the same title, axes and legend as the SVG.
import type { Points } from './embed2d.ts';
import { GLYPH_ADVANCE, GLYPH_ASCENT, hexRgb, Raster, textWidth } from './raster.ts';

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

interface Range { lo: number; hi: number }

/** [min, max] of the finite values; an empty range becomes [0, 1], a single value v becomes [v - 1, v + 1]. */
function extent(vs: Iterable<number>): Range {
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of vs) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!Number.isFinite(lo)) return { lo: 0, hi: 1 };
  return hi > lo ? { lo, hi } : { lo: lo - 1, hi: hi + 1 };
}

/** A round tick step (1, 2 or 5 × 10^k) giving about `count` intervals over `span`; at least 1 when `integer`. */
export function niceStep(span: number, count: number, integer = false): number {
  const raw = span / Math.max(count, 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const err = raw / mag;
  const step = mag * (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.sqrt(2) ? 2 : 1);
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** Multiples of a nice step inside [lo, hi]. */
export function linearTicks(lo: number, hi: number, o: { count?: number; integer?: boolean } = {}): number[] {
  const step = niceStep(hi - lo, o.count ?? 6, o.integer);
  if (!(hi > lo) || !Number.isFinite(hi - lo) || !(step > 0)) return [];
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + 1e-9 * step; k++) out.push(+(k * step).toPrecision(12));
  return out;
}

/**
 * Ticks of a log axis over [lo, hi] (lo > 0) that is `pixels` long: the first of 10^k, 1-2-5 × 10^k, 1…9 × 10^k and
 * 1, 1.5, 2, 2.5, 3…9 × 10^k that puts at least four inside, thinned so that no two lie closer than `gap` pixels
 * (powers of ten kept first, then 5s and 2s).
 */
export function logTicks(lo: number, hi: number, pixels = 300, gap = 24): number[] {
  const [a, b] = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
  if (!(lo > 0) || !(hi > lo) || !Number.isFinite(a) || !Number.isFinite(b)) return [];
  const inside = (v: number) => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  const sets = [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]];
  let candidates: { v: number; rank: number }[] = [];
  for (const mults of sets) {
    candidates = [];
    for (let e = a; e <= b; e++) for (const m of mults) candidates.push({ v: +(m * 10 ** e).toPrecision(12), rank: m === 1 ? 0 : m === 5 ? 1 : m === 2 ? 2 : 3 });
    candidates = candidates.filter((c) => inside(c.v));
    if (candidates.length >= 4) break;
  }
  const px = (v: number) => (Math.log10(v) / (Math.log10(hi) - Math.log10(lo))) * pixels;
  const kept: number[] = [];
  for (const c of [...candidates].sort((p, q) => p.rank - q.rank || q.v - p.v)) if (kept.every((k) => Math.abs(px(k) - px(c.v)) >= gap)) kept.push(c.v);
  return kept.sort((p, q) => p - q);
}

/** One number for a label: plain when 0.001 ≤ |v| < 1e5 (at most 4 significant digits), else with an exponent. */
export function formatNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace(/\.0e/, 'e').replace('e+', 'e');
  return String(+v.toPrecision(4));
}

/** Labels of linear ticks: as many decimals as the step needs, thousands as `k` when every tick is a multiple of 1000. */
export function tickLabels(ticks: readonly number[]): string[] {
  if (ticks.length < 2) return ticks.map(formatNumber);
  const step = Math.abs(ticks[1]! - ticks[0]!);
  const max = Math.max(...ticks.map(Math.abs));
  if (max >= 1e6 || (max > 0 && max < 1e-3)) return ticks.map(formatNumber);
  if (step >= 1000 && ticks.every((t) => t % 1000 === 0)) return ticks.map((t) => (t === 0 ? '0' : `${t / 1000}k`));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return ticks.map((t) => t.toFixed(Math.min(decimals, 6)).replace(/^-(0\.?0*)$/, '$1'));
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
  /** x values are counts (steps, epochs): ticks at integers only */
  integerX?: boolean;
  width?: number;
  /** height of the plot area; the legend below it adds to the picture's height */
  plotHeight?: number;
}

/** Two series coincide when they have the same x and equal y up to float rounding (relative 1e-6). */
function coincide(a: Series, b: Series): boolean {
  if (a.x.length === 0 || a.x.length !== b.x.length) return false;
  for (let i = 0; i < a.x.length; i++) {
    const [p, q] = [a.y[i]!, b.y[i]!];
    if (a.x[i] !== b.x[i] || !(Math.abs(p - q) <= 1e-6 * Math.max(Math.abs(p), Math.abs(q)))) return false;
  }
  return true;
}

/**
 * Groups of series that coincide (a group total equal to its single term, two levels that are the same tensor): each
 * series' place in its group and the others' names. A group is drawn as a wide solid line (the first series) under
 * ever thinner dashed ones, so every colour stays visible, and the legend says which names are equal.
 */
export function coincidences(series: readonly Series[]): { rank: number; size: number; same: string[] }[] {
  const group = series.map((_, i) => i);
  for (let i = 0; i < series.length; i++) for (let j = 0; j < i; j++) if (group[j] === j && coincide(series[j]!, series[i]!)) { group[i] = j; break; }
  return series.map((_, i) => {
    const members = group.flatMap((g, k) => (g === group[i] ? [k] : []));
    return { rank: members.indexOf(i), size: members.length, same: members.filter((k) => k !== i).map((k) => series[k]!.name) };
  });
}

const FONT = 13;
/** A conservative width of sans-serif text at `size` px (no font metrics in SVG text that is not rendered yet). */
const approxWidth = (s: string, size = FONT) => s.length * size * 0.6;

/** Line chart of several series: axes with round ticks, a grid, a legend below the plot naming equal series. */
export function lineChartSvg(series: readonly Series[], o: LineOptions): string {
  const W = o.width ?? 680;
  const plotH = o.plotHeight ?? 300;
  const points = series.map((s) => s.x.map((x, k) => [x, s.y[k]!] as const).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
  const allY = points.flatMap((p) => p.map(([, y]) => y));
  const log = o.logY === true && allY.length > 0 && allY.every((v) => v > 0);
  const xr = extent(points.flatMap((p) => p.map(([x]) => x)));
  let yr = extent(allY);
  let yTicks: number[];
  let yText: string[];
  if (log) {
    // 4% margins in log space, so that no curve runs along the frame (one value: a decade either side)
    const { lo: a, hi: b } = extent(allY.map(Math.log10));
    const pad = Math.max((b - a) * 0.04, 0.01);
    yr = { lo: 10 ** (a - pad), hi: 10 ** (b + pad) };
    yTicks = logTicks(yr.lo, yr.hi, plotH);
    yText = yTicks.map(formatNumber);
  } else {
    // the axis runs from tick to tick
    const step = niceStep(yr.hi - yr.lo, 6);
    const [k0, k1] = [Math.floor(yr.lo / step + 1e-9), Math.ceil(yr.hi / step - 1e-9)];
    yr = { lo: k0 * step, hi: k1 * step };
    yTicks = Array.from({ length: k1 - k0 + 1 }, (_, k) => +((k0 + k) * step).toPrecision(12));
    yText = tickLabels(yTicks);
  }
  const xTicks = linearTicks(xr.lo, xr.hi, { count: 8, integer: o.integerX });
  const xText = tickLabels(xTicks);
  const ty = (v: number) => (log ? Math.log10(v) : v);
  const [ylo, yhi] = [ty(yr.lo), ty(yr.hi)];

  const left = (o.yLabel ? 30 : 8) + Math.max(...yText.map((t) => approxWidth(t, 12)), 10) + 10;
  const [right, top] = [20, 40];
  const bottom = top + plotH;
  const sx = (v: number) => left + ((v - xr.lo) / (xr.hi - xr.lo)) * (W - left - right);
  const sy = (v: number) => bottom - ((ty(v) - ylo) / (yhi - ylo)) * plotH;

  const same = coincidences(series);
  const labels = series.map((s, i) => (same[i]!.size > 1 ? `${s.name} (= ${same[i]!.same.join(', ')})` : s.name));
  const entryW = Math.max(...labels.map((l) => 34 + approxWidth(l)), 60) + 16;
  const cols = Math.max(1, Math.floor((W - 2 * 16) / entryW));
  const legendTop = bottom + 62;
  const H = legendTop + Math.ceil(series.length / cols) * 20 + 6;
  const width = (i: number) => 2.5 + 3 * (same[i]!.size - 1 - same[i]!.rank);
  const dash = (i: number) => (same[i]!.rank > 0 ? ' stroke-dasharray="8 6"' : '');

  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="${FONT}">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="16" y="24" font-size="16" font-weight="bold">${escapeXml(o.title)}</text>`,
    '<g class="grid" stroke="#e6e6e6">',
    ...yTicks.map((v) => `<line x1="${left}" x2="${W - right}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}"/>`),
    ...xTicks.map((v) => `<line x1="${sx(v).toFixed(1)}" x2="${sx(v).toFixed(1)}" y1="${top}" y2="${bottom}"/>`),
    '</g>',
    '<g class="axes" stroke="#444">',
    `<line x1="${left}" y1="${bottom}" x2="${W - right}" y2="${bottom}"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}"/>`,
    '</g>',
    '<g class="ticks" fill="#333" font-size="12">',
    ...xTicks.map((v, k) => `<text x="${sx(v).toFixed(1)}" y="${bottom + 18}" text-anchor="middle">${xText[k]}</text>`),
    ...yTicks.map((v, k) => `<text x="${left - 6}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${yText[k]}</text>`),
    '</g>',
    `<text class="x-label" x="${((left + W - right) / 2).toFixed(1)}" y="${bottom + 40}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`,
  ];
  if (o.yLabel) out.push(`<text class="y-label" transform="translate(20 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(o.yLabel)}${log ? ' (log scale)' : ''}</text>`);
  out.push('<g class="series" fill="none" stroke-linejoin="round" stroke-linecap="round">');
  series.forEach((s, i) => {
    const pts = points[i]!.filter(([, y]) => !log || y > 0);
    const colour = classColour(i, series.length);
    out.push(`<polyline stroke="${colour}" stroke-width="${width(i)}"${dash(i)} points="${pts.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ')}"><title>${escapeXml(s.name)}</title></polyline>`);
    // Markers where the points are few (validations, short runs): one point alone is visible, and so is each epoch.
    if (pts.length <= 40) for (const [x, y] of pts) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="${(width(i) / 2 + 1.5).toFixed(1)}" fill="${colour}" stroke="none"/>`);
  });
  out.push('</g>', '<g class="legend">');
  series.forEach((_, i) => {
    const [x, y] = [16 + (i % cols) * entryW, legendTop + Math.floor(i / cols) * 20];
    out.push(`<line x1="${x}" x2="${x + 28}" y1="${y - 4}" y2="${y - 4}" stroke="${classColour(i, series.length)}" stroke-width="${width(i)}"${dash(i)}/>`, `<text x="${x + 32}" y="${y}">${escapeXml(labels[i]!)}</text>`);
  });
  out.push('</g>', '</svg>');
  return out.join('\n');
}

export interface ScatterOptions {
  title: string;
  /** a second title line: what the points are (videos, clips, views) */
  subtitle?: string;
  classes: readonly string[];
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
}

/** How text is measured and sized for one renderer. */
interface TextMetrics {
  width(s: string, role: Role): number;
  /** distance between baselines of consecutive lines of `role` */
  line(role: Role): number;
}

type Role = 'title' | 'subtitle' | 'label' | 'tick' | 'legend';

interface ScatterLayout {
  W: number;
  H: number;
  box: { x0: number; y0: number; x1: number; y1: number };
  sx: (v: number) => number;
  sy: (v: number) => number;
  xTicks: { at: number; text: string }[];
  yTicks: { at: number; text: string }[];
  title: { x: number; y: number; text: string };
  subtitle?: { x: number; y: number; text: string };
  xLabel?: { x: number; y: number; text: string };
  yLabel?: { x: number; y: number; text: string };
  legend: { x: number; y: number; swatch: number; colour: string; text: string }[];
}

function scatterLayout(xs: number[], ys: number[], o: ScatterOptions, W: number, H: number, m: TextMetrics): ScatterLayout {
  const K = o.classes.length;
  const pad = 14;
  const title = { x: pad, y: pad + m.line('title') * 0.8, text: o.title };
  const subtitle = o.subtitle === undefined ? undefined : { x: pad, y: title.y + m.line('subtitle'), text: o.subtitle };
  const top = (subtitle ?? title).y + m.line('tick');
  const legendW = Math.min(Math.max(...o.classes.map((c) => m.width(c, 'legend')), m.width('… 000 more', 'legend')) + m.line('legend') + 8, W * 0.3);
  const xr = extent(xs);
  const yr = extent(ys);
  const xTicks = linearTicks(xr.lo, xr.hi, { count: 5 });
  const yTicks = linearTicks(yr.lo, yr.hi, { count: 5 });
  const [xText, yText] = [tickLabels(xTicks), tickLabels(yTicks)];
  const x0 = pad + (o.yLabel ? m.line('label') + 4 : 0) + Math.max(...yText.map((t) => m.width(t, 'tick'))) + 8;
  const y1 = H - pad - (o.xLabel ? m.line('label') + 4 : 0) - m.line('tick') - 4;
  const box = { x0, y0: top, x1: W - pad - legendW - 12, y1 };
  // 3% inside the frame, so that no point sits on an axis
  const [mx, my] = [(xr.hi - xr.lo) * 0.03, (yr.hi - yr.lo) * 0.03];
  const sx = (v: number) => box.x0 + ((v - xr.lo + mx) / (xr.hi - xr.lo + 2 * mx)) * (box.x1 - box.x0);
  const sy = (v: number) => box.y1 - ((v - yr.lo + my) / (yr.hi - yr.lo + 2 * my)) * (box.y1 - box.y0);
  const rowH = m.line('legend');
  const rows = Math.max(1, Math.floor((H - top - pad) / rowH));
  const shown = K > rows ? rows - 1 : K;
  const legend = o.classes.slice(0, shown).map((text, c) => ({ x: W - pad - legendW, y: top + rowH * (c + 0.8), swatch: rowH * 0.7, colour: classColour(c, K), text }));
  if (shown < K) legend.push({ x: W - pad - legendW, y: top + rowH * (shown + 0.8), swatch: 0, colour: '#444444', text: `… ${K - shown} more` });
  return {
    W, H, box, sx, sy, title, subtitle, legend,
    xTicks: xTicks.map((v, k) => ({ at: sx(v), text: xText[k]! })),
    yTicks: yTicks.map((v, k) => ({ at: sy(v), text: yText[k]! })),
    xLabel: o.xLabel === undefined ? undefined : { x: (box.x0 + box.x1) / 2, y: H - pad, text: o.xLabel },
    yLabel: o.yLabel === undefined ? undefined : { x: pad + m.line('label') * 0.75, y: (box.y0 + box.y1) / 2, text: o.yLabel },
  };
}

const columns = (points: Points, n: number) => [Array.from({ length: n }, (_, i) => points[2 * i]!), Array.from({ length: n }, (_, i) => points[2 * i + 1]!)] as const;

const SVG_SIZE: Record<Role, number> = { title: 16, subtitle: 13, label: 13, tick: 12, legend: 13 };
const svgMetrics: TextMetrics = { width: (s, role) => approxWidth(s, SVG_SIZE[role]), line: (role) => SVG_SIZE[role] * 1.45 };

/** Points (n, 2) coloured by label, with a title, axes and a legend naming each class. */
export function scatterSvg(points: Points, labels: ArrayLike<number>, o: ScatterOptions): string {
  const n = labels.length;
  const [xs, ys] = columns(points, n);
  const L = scatterLayout(xs, ys, o, o.width ?? 680, o.height ?? 520, svgMetrics);
  const { W, H, box } = L;
  const K = o.classes.length;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="${FONT}">`,
    `<title>${escapeXml(o.title)}${o.subtitle ? `: ${escapeXml(o.subtitle)}` : ''}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L.title.x}" y="${L.title.y.toFixed(1)}" font-size="${SVG_SIZE.title}" font-weight="bold">${escapeXml(L.title.text)}</text>`,
  ];
  if (L.subtitle) out.push(`<text x="${L.subtitle.x}" y="${L.subtitle.y.toFixed(1)}" font-size="${SVG_SIZE.subtitle}" fill="#444">${escapeXml(L.subtitle.text)}</text>`);
  out.push(
    `<rect class="frame" x="${box.x0.toFixed(1)}" y="${box.y0.toFixed(1)}" width="${(box.x1 - box.x0).toFixed(1)}" height="${(box.y1 - box.y0).toFixed(1)}" fill="none" stroke="#444"/>`,
    `<g class="ticks" fill="#333" font-size="${SVG_SIZE.tick}">`,
    ...L.xTicks.map((t) => `<text x="${t.at.toFixed(1)}" y="${(box.y1 + SVG_SIZE.tick + 4).toFixed(1)}" text-anchor="middle">${t.text}</text>`),
    ...L.yTicks.map((t) => `<text x="${(box.x0 - 6).toFixed(1)}" y="${(t.at + 4).toFixed(1)}" text-anchor="end">${t.text}</text>`),
    '</g>',
  );
  if (L.xLabel) out.push(`<text class="x-label" x="${L.xLabel.x.toFixed(1)}" y="${L.xLabel.y.toFixed(1)}" text-anchor="middle">${escapeXml(L.xLabel.text)}</text>`);
  if (L.yLabel) out.push(`<text class="y-label" transform="translate(${L.yLabel.x.toFixed(1)} ${L.yLabel.y.toFixed(1)}) rotate(-90)" text-anchor="middle">${escapeXml(L.yLabel.text)}</text>`);
  out.push('<g class="points">');
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(xs[i]!) || !Number.isFinite(ys[i]!)) continue;
    out.push(`<circle cx="${L.sx(xs[i]!).toFixed(1)}" cy="${L.sy(ys[i]!).toFixed(1)}" r="3.5" fill="${classColour(labels[i]!, K)}" fill-opacity="0.8"><title>${escapeXml(o.classes[labels[i]!] ?? String(labels[i]))}</title></circle>`);
  }
  out.push('</g>', '<g class="legend">');
  for (const e of L.legend) {
    if (e.swatch > 0) out.push(`<rect x="${e.x.toFixed(1)}" y="${(e.y - e.swatch + 1).toFixed(1)}" width="${e.swatch.toFixed(1)}" height="${e.swatch.toFixed(1)}" fill="${e.colour}"/>`);
    out.push(`<text x="${(e.x + (e.swatch > 0 ? e.swatch + 6 : 0)).toFixed(1)}" y="${e.y.toFixed(1)}">${escapeXml(e.text)}</text>`);
  }
  out.push('</g>', '</svg>');
  return out.join('\n');
}

/** The pixel font at scale 2: 12 px per character, 14 px capitals. */
const PNG_SCALE = 2;
const pngMetrics: TextMetrics = { width: (text) => textWidth(text, PNG_SCALE), line: () => (GLYPH_ASCENT + 5) * PNG_SCALE };

/** The same scatter as a PNG: title, framed axes with ticks and labels, points, legend. */
export function scatterPng(points: Points, labels: ArrayLike<number>, o: ScatterOptions): Buffer {
  const n = labels.length;
  const [xs, ys] = columns(points, n);
  const L = scatterLayout(xs, ys, o, o.width ?? 960, o.height ?? 720, pngMetrics);
  const { box } = L;
  const K = o.classes.length;
  const c = new Raster(L.W, L.H);
  const [ink, grey] = [hexRgb('#222222'), hexRgb('#444444')];
  c.text(L.title.x, L.title.y, L.title.text, ink);
  if (L.subtitle) c.text(L.subtitle.x, L.subtitle.y, L.subtitle.text, grey);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(xs[i]!) || !Number.isFinite(ys[i]!)) continue;
    c.disc(L.sx(xs[i]!), L.sy(ys[i]!), 4, hexRgb(classColour(labels[i]!, K)), 0.8);
  }
  c.line(box.x0, box.y0, box.x1, box.y0, grey);
  c.line(box.x0, box.y1, box.x1, box.y1, grey);
  c.line(box.x0, box.y0, box.x0, box.y1, grey);
  c.line(box.x1, box.y0, box.x1, box.y1, grey);
  const tickH = GLYPH_ASCENT * PNG_SCALE;
  for (const t of L.xTicks) {
    c.line(t.at, box.y1, t.at, box.y1 + 4, grey);
    c.text(t.at, box.y1 + 8 + tickH, t.text, grey, { anchor: 'middle' });
  }
  for (const t of L.yTicks) {
    c.line(box.x0 - 4, t.at, box.x0, t.at, grey);
    c.text(box.x0 - 8, t.at + tickH / 2, t.text, grey, { anchor: 'end' });
  }
  if (L.xLabel) c.text(L.xLabel.x, L.xLabel.y, L.xLabel.text, ink, { anchor: 'middle' });
  if (L.yLabel) c.text(L.yLabel.x, L.yLabel.y, L.yLabel.text, ink, { anchor: 'middle', vertical: true });
  for (const e of L.legend) {
    if (e.swatch > 0) c.rect(e.x, e.y - tickH, tickH, tickH, hexRgb(e.colour));
    c.text(e.x + (e.swatch > 0 ? tickH + GLYPH_ADVANCE * PNG_SCALE : 0), e.y, e.text, ink);
  }
  return c.encode();
}
