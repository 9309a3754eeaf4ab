// Canvas drawing for the page: a line chart with axes and tick labels (linear or log y) and a scatter of class-coloured
// marks, each sized to its element's CSS box at the device's pixel ratio; a legend as an HTML list. No dependencies.

/** The report's class colours (src/eval/plot.ts): tab10, then evenly spaced hues. */
const TAB10 = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
export const UNLABELLED = '#9a9a9a';

export function classColour(c: number, classes: number): string {
  if (c < 0) return UNLABELLED;
  if (classes <= TAB10.length) return TAB10[c % TAB10.length]!;
  return `hsl(${((c * 360) / classes).toFixed(1)} 65% ${c % 2 ? 42 : 55}%)`;
}

const FONT = '12px system-ui, sans-serif';
const AXIS = '#555';
const GRID = '#e6e6e6';
const MARGIN = { left: 58, right: 14, top: 12, bottom: 36 };

interface Box { x0: number; y0: number; x1: number; y1: number }

/** Sizes the canvas's bitmap to its CSS box × devicePixelRatio; returns a context in CSS pixels and the box's size. */
function fit(canvas: HTMLCanvasElement): { g: CanvasRenderingContext2D; width: number; height: number } {
  const ratio = globalThis.devicePixelRatio || 1;
  const width = Math.max(1, canvas.clientWidth);
  const height = Math.max(1, canvas.clientHeight);
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext('2d');
  if (!g) throw new Error(`#${canvas.id}: no 2-D canvas context`);
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  g.font = FONT;
  return { g, width, height };
}

/** 1, 2 or 5 × 10^k, the step that gives about `count` ticks over [lo, hi]. */
function niceStep(lo: number, hi: number, count: number): number {
  const raw = (hi - lo) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m >= 5 ? 10 : m >= 2 ? 5 : m >= 1 ? 2 : 1) * p;
}

function linearTicks(lo: number, hi: number, count: number): number[] {
  const step = niceStep(lo, hi, count);
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k * step);
  return out;
}

/** Decades, with 2 and 5 between when the range spans few of them; linear ticks inside one decade. */
function logTicks(lo: number, hi: number): number[] {
  const [a, b] = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
  if (b - a <= 1 && hi / lo < 4) return linearTicks(lo, hi, 5).filter((v) => v > 0);
  const mult = b - a <= 2 ? [1, 2, 5] : [1];
  const out: number[] = [];
  for (let e = a; e <= b; e++) for (const m of mult) if (m * 10 ** e >= lo * (1 - 1e-9) && m * 10 ** e <= hi * (1 + 1e-9)) out.push(m * 10 ** e);
  return out;
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

/** [lo, hi] of the finite values, widened when empty or a single value. */
function extent(vs: ArrayLike<number>, log = false): [number, number] {
  let [lo, hi] = [Infinity, -Infinity];
  for (let i = 0; i < vs.length; i++) {
    const v = vs[i]!;
    if (Number.isFinite(v) && (!log || v > 0)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  }
  if (lo > hi) return log ? [0.1, 10] : [0, 1];
  if (lo === hi) return log ? [lo / 2, hi * 2] : [lo - (Math.abs(lo) || 1) * 0.5, hi + (Math.abs(hi) || 1) * 0.5];
  return [lo, hi];
}

function axes(g: CanvasRenderingContext2D, box: Box, xTicks: number[], yTicks: number[], sx: (v: number) => number, sy: (v: number) => number, xLabel: string, yLabel: string): void {
  g.lineWidth = 1;
  g.strokeStyle = GRID;
  g.fillStyle = AXIS;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (const t of yTicks) {
    const y = Math.round(sy(t)) + 0.5;
    g.beginPath();
    g.moveTo(box.x0, y);
    g.lineTo(box.x1, y);
    g.stroke();
    g.fillText(formatTick(t), box.x0 - 6, y);
  }
  g.textAlign = 'center';
  g.textBaseline = 'top';
  for (const t of xTicks) {
    const x = Math.round(sx(t)) + 0.5;
    g.beginPath();
    g.moveTo(x, box.y0);
    g.lineTo(x, box.y1);
    g.stroke();
    g.fillText(formatTick(t), x, box.y1 + 5);
  }
  g.strokeStyle = AXIS;
  g.strokeRect(box.x0 + 0.5, box.y0 + 0.5, box.x1 - box.x0, box.y1 - box.y0);
  g.fillText(xLabel, (box.x0 + box.x1) / 2, box.y1 + 20);
  g.save();
  g.translate(13, (box.y0 + box.y1) / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = 'middle';
  g.fillText(yLabel, 0, 0);
  g.restore();
}

function emptyNote(g: CanvasRenderingContext2D, box: Box, text: string): void {
  g.fillStyle = '#888';
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(text, (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2);
}

export interface LineOptions {
  xLabel: string;
  yLabel: string;
  /** a log y axis when every value is positive */
  logY?: boolean;
  colour?: string;
  /** drawn in the middle while there are no points */
  empty?: string;
}

/** y against x as one polyline. */
export function lineChart(canvas: HTMLCanvasElement, xs: ArrayLike<number>, ys: ArrayLike<number>, o: LineOptions): void {
  const { g, width, height } = fit(canvas);
  const box: Box = { x0: MARGIN.left, y0: MARGIN.top, x1: width - MARGIN.right, y1: height - MARGIN.bottom };
  let positive = ys.length > 0;
  for (let i = 0; i < ys.length; i++) if (!(ys[i]! > 0) && Number.isFinite(ys[i]!)) positive = false;
  const log = (o.logY ?? false) && positive;
  const [xlo, xhi] = extent(xs);
  const [ylo, yhi] = extent(ys, log);
  const f = log ? Math.log10 : (v: number) => v;
  const [flo, fhi] = log ? [f(ylo) - 0.02 * (f(yhi) - f(ylo)), f(yhi) + 0.02 * (f(yhi) - f(ylo))] : [ylo - 0.04 * (yhi - ylo), yhi + 0.04 * (yhi - ylo)];
  const sx = (v: number) => box.x0 + ((v - xlo) / (xhi - xlo)) * (box.x1 - box.x0);
  const sy = (v: number) => box.y1 - ((f(v) - flo) / (fhi - flo)) * (box.y1 - box.y0);
  const yTicks = log ? logTicks(10 ** flo, 10 ** fhi) : linearTicks(flo, fhi, 5);
  const xTicks = linearTicks(xlo, xhi, Math.max(2, Math.floor((box.x1 - box.x0) / 90))).filter((t) => Number.isInteger(t) || xhi - xlo < 10);
  axes(g, box, xTicks, yTicks, sx, sy, o.xLabel, log ? `${o.yLabel} (log)` : o.yLabel);
  if (xs.length === 0) return emptyNote(g, box, o.empty ?? 'no data yet');
  g.save();
  g.beginPath();
  g.rect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
  g.clip();
  g.strokeStyle = o.colour ?? TAB10[0]!;
  g.lineWidth = 1.5;
  g.lineJoin = 'round';
  g.beginPath();
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const [x, y] = [xs[i]!, ys[i]!];
    if (!Number.isFinite(y) || (log && !(y > 0))) {
      pen = false;
      continue;
    }
    if (pen) g.lineTo(sx(x), sy(y));
    else g.moveTo(sx(x), sy(y));
    pen = true;
  }
  if (xs.length === 1) g.arc(sx(xs[0]!), sy(ys[0]!), 2, 0, 2 * Math.PI);
  g.stroke();
  g.restore();
}

export type Mark = 'dot' | 'ring' | 'star';

export interface ScatterPoint { x: number; y: number; colour: string; mark: Mark }

function drawMark(g: CanvasRenderingContext2D, p: ScatterPoint, x: number, y: number): void {
  g.beginPath();
  if (p.mark === 'star') {
    for (let k = 0; k < 10; k++) {
      const r = k % 2 ? 4.5 : 11;
      const a = -Math.PI / 2 + (k * Math.PI) / 5;
      g.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
    }
    g.closePath();
    g.fillStyle = p.colour;
    g.fill();
    g.lineWidth = 2;
    g.strokeStyle = '#fff';
    g.stroke();
    g.lineWidth = 1;
    g.strokeStyle = '#000';
    g.stroke();
    return;
  }
  g.arc(x, y, 4, 0, 2 * Math.PI);
  if (p.mark === 'dot') {
    g.fillStyle = p.colour;
    g.globalAlpha = 0.8;
    g.fill();
    g.globalAlpha = 1;
  } else {
    g.strokeStyle = p.colour;
    g.lineWidth = 1.8;
    g.stroke();
  }
}

/** Points, each axis fitted to its own range (16 px inside the box); stars are drawn last, on top. */
export function scatter(canvas: HTMLCanvasElement, points: ScatterPoint[], o: { xLabel: string; yLabel: string; empty?: string }): void {
  const { g, width, height } = fit(canvas);
  const box: Box = { x0: MARGIN.left, y0: MARGIN.top, x1: width - MARGIN.right, y1: height - MARGIN.bottom };
  const [xlo, xhi] = extent(points.map((p) => p.x));
  const [ylo, yhi] = extent(points.map((p) => p.y));
  const [kx, ky] = [(xhi - xlo) / (box.x1 - box.x0 - 32), (yhi - ylo) / (box.y1 - box.y0 - 32)];
  const sx = (v: number) => box.x0 + 16 + (v - xlo) / kx;
  const sy = (v: number) => box.y1 - 16 - (v - ylo) / ky;
  const count = (px: number) => Math.max(2, Math.floor(px / 90));
  axes(g, box, linearTicks(xlo - 16 * kx, xhi + 16 * kx, count(box.x1 - box.x0)), linearTicks(ylo - 16 * ky, yhi + 16 * ky, count(box.y1 - box.y0)), sx, sy, o.xLabel, o.yLabel);
  if (points.length === 0) return emptyNote(g, box, o.empty ?? 'no data yet');
  for (const p of points) if (p.mark !== 'star') drawMark(g, p, sx(p.x), sy(p.y));
  for (const p of points) if (p.mark === 'star') drawMark(g, p, sx(p.x), sy(p.y));
}

export interface LegendEntry { label: string; colour: string; mark: Mark }

/** Replaces the list's items with one swatch and label per entry. */
export function legend(list: HTMLElement, entries: LegendEntry[]): void {
  list.replaceChildren(...entries.map((e) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch ${e.mark}`;
    swatch.style.setProperty('--colour', e.colour);
    swatch.setAttribute('aria-hidden', 'true');
    item.append(swatch, e.label);
    return item;
  }));
}
