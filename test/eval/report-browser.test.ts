// RUN_DIR/report.html of a real short run (tiny config on Moving MNIST, k-NN every epoch, a probe, the pictures), opened
// by headless Chromium through file:// as a researcher would: no console message of level error and no page error;
// every chart and picture has an accessible name, plots marks with non-degenerate extents and paints more than a
// background; at a 1400 px wide window the curves sit two per row, about 680 px each, with nothing wider than the
// window. Chromium is Debian's (apt-get install chromium; .ci/run installs it), found at $VHSSL_CHROMIUM, else
// /usr/bin/chromium or /usr/bin/chromium-browser; without it the tests skip, except in CI (CI set), where they fail. VHSSL_REPORT_SCREENSHOT=FILE
// keeps a full-page screenshot to look at.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { PNG } from 'pngjs';
import type { Browser, Page } from 'puppeteer-core';
import { chromiumHere, launchChromium, NO_CHROMIUM, watchProblems } from '../browser.ts';
import { vhssl } from '../cli/run.ts';
import { movingMnist } from '../fixtures.ts';
import { tempDir } from '../temp.ts';


describe('report.html in a headless browser', () => {
  const tmp = tempDir('report-browser');
  const run = join(tmp.dir, 'run');
  let browser: Browser | undefined;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    if (!chromiumHere()) return;
    const data = movingMnist();
    const trained = vhssl(['train', '--config', 'tiny', '--set', `data.root=${data}`, '--set', 'train.batch_size=8', '--set', 'train.epochs=3', '--set', 'train.steps_per_epoch=4', '--set', 'train.log_every=1', '--set', 'eval.knn.every=1', '--out', run]);
    assert.equal(trained.status, 0, trained.stderr);
    const probe = vhssl(['eval', 'probe', '--run', run, '--epochs', '2']);
    assert.equal(probe.status, 0, probe.stderr);
    const report = vhssl(['eval', 'report', '--run', run, '--max-points', '200']);
    assert.equal(report.status, 0, report.stderr);
    browser = await launchChromium(tmp.dir);
    page = await browser.newPage();
    watchProblems(page, problems);
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(pathToFileURL(join(run, 'report.html')).href, { waitUntil: 'load', timeout: 120_000 });
  });

  after(async () => {
    try {
      await browser?.close();
    } finally {
      tmp.cleanup();
    }
  });

  test('opens without console or page errors', (t) => {
    if (!browser) return t.skip(NO_CHROMIUM);
    assert.deepEqual(problems, []);
  });

  test('every chart and picture is named and draws marks with real extents', async (t) => {
    if (!browser) return t.skip(NO_CHROMIUM);
    const figures = await page.$$('figure');
    const ids = await Promise.all(figures.map((f) => f.evaluate((e) => e.id)));
    for (const id of ['loss-space', 'loss-time', 'lr', 'grad-norm', 'monitor', 'knn', 'erank', 'level-std', 'speed', 'picture-pca-embedding-test', 'picture-tsne-embedding-test', 'picture-umap-embedding-test']) {
      assert.ok(ids.includes(id), `the report has #${id} (has ${ids.join(', ')})`);
    }
    for (const [k, figure] of figures.entries()) {
      const id = ids[k]!;
      const svg = (await figure.$('svg'))!;
      const name = (await page.accessibility.snapshot({ root: svg, interestingOnly: false }))?.name ?? '';
      assert.ok(name.length > 5, `#${id}: accessible name "${name}"`);
      const marks = await svg.evaluate((s) => {
        const view = s.viewBox.baseVal;
        const g = s.querySelector('g.series, g.points') as SVGGElement | null;
        if (!g) return null;
        const box = g.getBBox();
        const shapes = [...g.querySelectorAll('polyline, circle')] as SVGGraphicsElement[];
        const outside = shapes.filter((e) => {
          const b = e.getBBox();
          return b.x < -1 || b.y < -1 || b.x + b.width > view.width + 1 || b.y + b.height > view.height + 1;
        }).length;
        return { shapes: shapes.length, width: box.width, height: box.height, view: [view.width, view.height], outside };
      });
      assert.ok(marks, `#${id}: a g.series or g.points group`);
      assert.ok(marks.shapes > 0, `#${id}: plotted marks`);
      assert.ok(marks.width > 0.25 * marks.view[0]! && marks.height > 0.1 * marks.view[1]!, `#${id}: marks span ${marks.width.toFixed(0)}×${marks.height.toFixed(0)} of ${marks.view.join('×')}`);
      assert.equal(marks.outside, 0, `#${id}: marks inside the picture`);
      // Painted, not only laid out: the chart's pixels hold more than the background and the text's grey.
      const png = PNG.sync.read(Buffer.from(await svg.screenshot({ type: 'png' })));
      const colours = new Set<number>();
      for (let i = 0; i < png.data.length; i += 4) {
        const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
        if (Math.max(r, g, b) - Math.min(r, g, b) > 60) colours.add((r >> 4) * 256 + (g >> 4) * 16 + (b >> 4));
      }
      assert.ok(colours.size >= 2, `#${id}: ${colours.size} saturated colours painted`);
    }
  });

  test('at 1400 px the curves sit two per row, about 680 px wide, and nothing is wider than the window', async (t) => {
    if (!browser) return t.skip(NO_CHROMIUM);
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      boxes: [...document.querySelectorAll('#curves figure')].map((f) => {
        const r = f.getBoundingClientRect();
        return { left: r.left, top: r.top, width: r.width, height: r.height };
      }),
    }));
    assert.ok(layout.scrollWidth <= 1400, `page ${layout.scrollWidth} px wide`);
    const rows = new Map<number, typeof layout.boxes>();
    for (const b of layout.boxes) rows.set(Math.round(b.top), [...(rows.get(Math.round(b.top)) ?? []), b]);
    const counts = [...rows.values()].map((r) => r.length);
    assert.ok(counts.slice(0, -1).every((c) => c === 2) && counts.at(-1)! <= 2, `figures per row: ${counts.join(', ')}`);
    for (const b of layout.boxes) {
      assert.ok(b.width >= 640 && b.width <= 700, `a chart ${b.width} px wide`);
      assert.ok(b.height >= 380, `a chart ${b.height} px high`);
    }
    const file = join(tmp.dir, 'report.png');
    writeFileSync(file, await page.screenshot({ fullPage: true, type: 'png' }));
    if (process.env.VHSSL_REPORT_SCREENSHOT) copyFileSync(file, process.env.VHSSL_REPORT_SCREENSHOT);
  });

  test('the evaluations table lists the probe with its settings; a final evaluation, when recorded, comes first', async (t) => {
    if (!browser) return t.skip(NO_CHROMIUM);
    const evals = readFileSync(join(run, 'eval.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; final?: boolean });
    const rows = await page.$$eval('#evaluation tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    assert.ok(rows.some((r) => r[0] === 'probe' && /views 1x1 \/ 3x1/.test(r[2]!)), JSON.stringify(rows));
    const order = await page.evaluate(() => ['summary', 'final', 'curves', 'evaluation'].map((id) => document.getElementById(id)?.getBoundingClientRect().top ?? null));
    if (evals.some((e) => e.final === true)) assert.ok(order[1]! > order[0]! && order[1]! < order[2]!, `the final evaluation between the summary and the curves: ${order}`);
    else assert.equal(order[1], null);
  });
});
