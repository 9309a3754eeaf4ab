// A small RGBA canvas that pngjs encodes: rectangles, lines, alpha-blended discs and text in a built-in 5×7 pixel
// font (printable ASCII, descenders two rows below the baseline) drawn at an integer scale, so PNG pictures carry their
// title, axes and legend without a font file or native code.
import { PNG } from 'pngjs';

/** Rows top to bottom ('#' ink); rows 0-6 stand on the baseline, rows 7-8 hang below it. Each glyph is 5 wide. */
const GLYPHS: Record<string, string> = {
  ' ': '',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '"': '.#.#. .#.#.',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  '$': '..#.. .#### #.#.. .###. ..#.# ####. ..#..',
  '%': '##... ##..# ...#. ..#.. .#... #..## ...##',
  '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
  "'": '..#.. ..#..',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '*': '..... ..#.. #.#.# .###. #.#.# ..#.. .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  ',': '..... ..... ..... ..... ..... .##.. .##.. ..#.. .#...',
  '-': '..... ..... ..... .###. ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  '/': '..... ....# ...#. ..#.. .#... #.... .....',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. .##.. ..#.. .#...',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  '@': '.###. #...# ....# .##.# #.#.# #.#.# .###.',
  A: '.###. #...# #...# ##### #...# #...# #...#',
  B: '####. #...# #...# ####. #...# #...# ####.',
  C: '.###. #...# #.... #.... #.... #...# .###.',
  D: '###.. #..#. #...# #...# #...# #..#. ###..',
  E: '##### #.... #.... ####. #.... #.... #####',
  F: '##### #.... #.... ####. #.... #.... #....',
  G: '.###. #...# #.... #.### #...# #...# .####',
  H: '#...# #...# #...# ##### #...# #...# #...#',
  I: '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  J: '..### ...#. ...#. ...#. ...#. #..#. .##..',
  K: '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  L: '#.... #.... #.... #.... #.... #.... #####',
  M: '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  N: '#...# #...# ##..# #.#.# #..## #...# #...#',
  O: '.###. #...# #...# #...# #...# #...# .###.',
  P: '####. #...# #...# ####. #.... #.... #....',
  Q: '.###. #...# #...# #...# #.#.# #..#. .##.#',
  R: '####. #...# #...# ####. #.#.. #..#. #...#',
  S: '.#### #.... #.... .###. ....# ....# ####.',
  T: '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  U: '#...# #...# #...# #...# #...# #...# .###.',
  V: '#...# #...# #...# #...# #...# .#.#. ..#..',
  W: '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  X: '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  Y: '#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..',
  Z: '##### ....# ...#. ..#.. .#... #.... #####',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  '\\': '..... #.... .#... ..#.. ...#. ....# .....',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '^': '..#.. .#.#. #...#',
  _: '..... ..... ..... ..... ..... ..... ..... #####',
  '`': '.#... ..#..',
  a: '..... ..... .###. ....# .#### #...# .####',
  b: '#.... #.... #.##. ##..# #...# #...# ####.',
  c: '..... ..... .###. #.... #.... #...# .###.',
  d: '....# ....# .##.# #..## #...# #...# .####',
  e: '..... ..... .###. #...# ##### #.... .###.',
  f: '..##. .#..# .#... ###.. .#... .#... .#...',
  g: '..... ..... .#### #...# #...# #...# .#### ....# .###.',
  h: '#.... #.... #.##. ##..# #...# #...# #...#',
  i: '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  j: '...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..',
  k: '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  l: '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  m: '..... ..... ##.#. #.#.# #.#.# #.#.# #.#.#',
  n: '..... ..... #.##. ##..# #...# #...# #...#',
  o: '..... ..... .###. #...# #...# #...# .###.',
  p: '..... ..... ####. #...# #...# #...# ####. #.... #....',
  q: '..... ..... .#### #...# #...# #...# .#### ....# ....#',
  r: '..... ..... #.##. ##..# #.... #.... #....',
  s: '..... ..... .###. #.... .###. ....# ####.',
  t: '.#... .#... ###.. .#... .#... .#..# ..##.',
  u: '..... ..... #...# #...# #...# #..## .##.#',
  v: '..... ..... #...# #...# #...# .#.#. ..#..',
  w: '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  x: '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  y: '..... ..... #...# #...# #...# #...# .#### ....# .###.',
  z: '..... ..... ##### ...#. ..#.. .#... #####',
  '{': '...## ..#.. ..#.. ##... ..#.. ..#.. ...##',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  '}': '##... ..#.. ..#.. ...## ..#.. ..#.. ##...',
  '~': '..... ..... .#... #.#.# ...#. ..... .....',
};

/** Ink pixels (column, row from the top of the cell) of each glyph. */
const INK = new Map<string, [number, number][]>(Object.entries(GLYPHS).map(([c, rows]) => [c, rows.split(' ').flatMap((row, y) => [...row].flatMap((p, x) => (p === '#' ? [[x, y] as [number, number]] : [])))]));

/** Cell advance and ascent of the font at scale 1, in pixels. */
export const GLYPH_ADVANCE = 6;
export const GLYPH_ASCENT = 7;

const SUBSTITUTES: Record<string, string> = { '×': 'x', '–': '-', '—': '-', '−': '-', '…': '...', '·': '.', '’': "'", '‘': "'", '“': '"', '”': '"', '²': '2', '≈': '~' };

/** The text in the font's characters: accents dropped, a few typographic signs spelled plainly, the rest '?'. */
export function fontText(s: string): string {
  return [...s.normalize('NFD').replace(/[\u0300-\u036f]/g, '')].map((c) => (INK.has(c) ? c : SUBSTITUTES[c] ?? '?')).join('');
}

export const textWidth = (s: string, scale: number): number => Math.max(0, fontText(s).length * GLYPH_ADVANCE - 1) * scale;

export type Rgb = readonly [number, number, number];

export function hexRgb(hex: string): Rgb {
  return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
}

export interface TextOptions {
  scale?: number;
  anchor?: 'start' | 'middle' | 'end';
  /** read bottom to top (a y-axis label); (x, y) is then the baseline's point on the left of the rotated text */
  vertical?: boolean;
}

export class Raster {
  private readonly png: PNG;

  constructor(readonly width: number, readonly height: number) {
    this.png = new PNG({ width, height });
    this.png.data.fill(255);
  }

  /** Blends `colour` over pixel (x, y) with opacity `alpha`; pixels off the canvas are ignored. */
  pixel(x: number, y: number, colour: Rgb, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const k = (y * this.width + x) * 4;
    const d = this.png.data;
    for (let c = 0; c < 3; c++) d[k + c] = Math.round(alpha * colour[c]! + (1 - alpha) * d[k + c]!);
    d[k + 3] = 255;
  }

  rect(x: number, y: number, w: number, h: number, colour: Rgb): void {
    for (let j = Math.round(y); j < Math.round(y + h); j++) for (let i = Math.round(x); i < Math.round(x + w); i++) this.pixel(i, j, colour);
  }

  /** A line `width` pixels thick (square pen), by stepping along its longer axis. */
  line(x0: number, y0: number, x1: number, y1: number, colour: Rgb, width = 1): void {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const h = Math.floor((width - 1) / 2);
    for (let s = 0; s <= n; s++) {
      const [x, y] = [Math.round(x0 + ((x1 - x0) * s) / n), Math.round(y0 + ((y1 - y0) * s) / n)];
      for (let j = -h; j < width - h; j++) for (let i = -h; i < width - h; i++) this.pixel(x + i, y + j, colour);
    }
  }

  disc(cx: number, cy: number, r: number, colour: Rgb, alpha = 1): void {
    const [x, y] = [Math.round(cx), Math.round(cy)];
    for (let j = -r; j <= r; j++) for (let i = -r; i <= r; i++) if (i * i + j * j <= r * r) this.pixel(x + i, y + j, colour, alpha);
  }

  /** Text with its baseline at y. */
  text(x: number, y: number, s: string, colour: Rgb, o: TextOptions = {}): void {
    const scale = o.scale ?? 2;
    const w = textWidth(s, scale);
    const shift = o.anchor === 'middle' ? w / 2 : o.anchor === 'end' ? w : 0;
    const top = -GLYPH_ASCENT * scale;
    [...fontText(s)].forEach((c, k) => {
      for (const [gx, gy] of INK.get(c)!) {
        // (u, v): the pixel's place along and across the text, from the start of its baseline
        const [u, v] = [Math.round(k * GLYPH_ADVANCE * scale + gx * scale - shift), top + gy * scale];
        for (let j = 0; j < scale; j++) {
          for (let i = 0; i < scale; i++) {
            if (o.vertical) this.pixel(Math.round(x) + v + j, Math.round(y) - u - i, colour);
            else this.pixel(Math.round(x) + u + i, Math.round(y) + v + j, colour);
          }
        }
      }
    });
  }

  encode(): Buffer {
    return PNG.sync.write(this.png);
  }
}
