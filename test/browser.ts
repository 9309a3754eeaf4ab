// Headless Chromium for the tests that open a page: Debian's binary (apt-get install chromium; .ci/run installs it),
// $VHSSL_CHROMIUM when set, driven by puppeteer-core (no browser download). Without it the tests skip, except in CI
// (CI set), where they fail.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** $VHSSL_CHROMIUM when set (a missing file: none), else Debian's binary. */
export const CHROMIUM = (process.env.VHSSL_CHROMIUM ? [process.env.VHSSL_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser']).find((p) => existsSync(p));
export const NO_CHROMIUM = 'no Chromium: apt-get install chromium';

/** Throws in CI when there is no Chromium; elsewhere says whether the tests can run. */
export function chromiumHere(): boolean {
  if (!CHROMIUM && process.env.CI) throw new Error(`${NO_CHROMIUM} (.ci/run installs it; VHSSL_CHROMIUM names another binary)`);
  return CHROMIUM !== undefined;
}

/** A busy machine can take long to start a browser: generous limits, and the profile inside the test's folder. */
export function launchChromium(dir: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    userDataDir: join(dir, 'profile'),
    timeout: 180_000,
    protocolTimeout: 600_000,
  });
}

/** Collects into `problems` every console error, page error and failed request of `page`. */
export function watchProblems(page: Page, problems: string[]): void {
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`console error: ${m.text()}`)));
  page.on('pageerror', (e) => void problems.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on('requestfailed', (r) => void problems.push(`request failed: ${r.url()}`));
}
