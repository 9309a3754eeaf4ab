// The output-path checks on their own: a directory that is there, one to be made, a file to write or replace pass and
// leave nothing behind; a file where a directory goes, a directory where a file goes, a broken link, and places
// nothing can be created in (/proc, /sys: refused even to root) are one-line UserErrors naming the path.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkOutputDir, checkOutputFile } from '../src/out-path.ts';
import { tempDir } from './temp.ts';

describe('output-path checks', () => {
  const tmp = tempDir('out-path');
  const file = join(tmp.dir, 'a-file');
  writeFileSync(file, 'x');
  after(() => tmp.cleanup());

  test('writable places pass, and a check creates nothing', () => {
    checkOutputDir(tmp.dir, '--out');
    checkOutputDir(join(tmp.dir, 'new', 'deeper'), '--out');
    checkOutputFile(join(tmp.dir, 'new', 'model.onnx'), '--out');
    checkOutputFile(file, '--out');
    assert.deepEqual(readdirSync(tmp.dir), ['a-file'], 'no directory made, no probe left');
  });

  test('a file, a directory or a broken link in the way', () => {
    assert.throws(() => checkOutputDir(file, '--out'), { name: 'UserError', message: `${file}: exists and is not a directory (--out takes a directory; choose another path)` });
    assert.throws(() => checkOutputDir(join(file, 'sub'), '--out'), { message: `${join(file, 'sub')}: cannot create it: ${file} is a file, not a directory (choose another --out)` });
    assert.throws(() => checkOutputFile(tmp.dir, '--out'), { message: `${tmp.dir}: is a directory (--out takes the path of a file to write)` });
    const link = join(tmp.dir, 'dangling');
    symlinkSync(join(tmp.dir, 'nowhere'), link);
    assert.throws(() => checkOutputDir(join(link, 'run'), '--out'), { message: `${join(link, 'run')}: ${link} is a broken symbolic link (remove it or choose another path)` });
    assert.ok(!existsSync(join(tmp.dir, 'nowhere')));
  });

  test('/proc and /sys take no new directories, not even from root: refused before any mkdir -p', () => {
    assert.throws(() => checkOutputDir('/proc/vhssl-test/run', '--out'), {
      message: '/proc/vhssl-test/run: cannot create it in /proc: ENOENT, this file system takes no new files (choose another --out, somewhere you can write)',
    });
    assert.throws(() => checkOutputFile('/sys/vhssl-test.onnx', '--out', 'try another disk'), /^UserError: \/sys\/vhssl-test\.onnx: cannot create it in \/sys: (EPERM|EACCES|EROFS), [\w ]+ \(try another disk\)$/);
  });
});
