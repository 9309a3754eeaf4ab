// A small real dataset shared by the end-to-end tests: Moving MNIST videos encoded by ffmpeg and prepared by
// `vhssl prepare`, made once per test run (in its private temporary folder, see test/run.mjs) and reused by every file.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vhssl } from './cli/run.ts';

/** 80 videos (64 train, 16 test: 10 per motion class) of 8 frames at 32×32. */
export function movingMnist(): string {
  const dir = join(tmpdir(), 'vhssl-test-cache', 'moving-mnist-80v8f32d14');
  if (existsSync(join(dir, 'summary.json'))) return dir;
  const r = vhssl(['prepare', '--dataset', 'moving-mnist', '--out', dir, '--videos', '80', '--frames', '8', '--size', '32', '--seed', '3']);
  if (r.status !== 0) throw new Error(`preparing the test dataset failed: ${r.stderr}`);
  return dir;
}
