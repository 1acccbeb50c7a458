/**
 * Issue 11 point 5: modification times before 1970 and after 2106 (where doubles get coarser than a
 * microsecond) are mirrored to the millisecond, and a second pass finds nothing to do.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSync } from '../_cli.js';
import { buildTree, compareTrees, tempDir } from '../_tree.js';

/** The millisecond a file's mtime falls in (floored, exact from the nanoseconds). */
function mtimeMs(path: string): bigint {
  const ns = lstatSync(path, { bigint: true }).mtimeNs;
  const ms = ns / 1_000_000n;
  return ns < 0n && ms * 1_000_000n !== ns ? ms - 1n : ms;
}

const cases: [string, string][] = [
  ['pre-1970', '1950-06-01 12:00:00.123456789 UTC'],
  ['just before the epoch', '1969-12-31 23:59:59.999500000 UTC'],
  ['year 2112', '2112-03-04 05:06:07.891234567 UTC'],
  ['year 2200', '2200-01-01 00:00:00.999999999 UTC'],
];

describe('times far from now', () => {
  it('are mirrored to the millisecond (files and folders), and a second pass changes nothing', async () => {
    const spec: Record<string, string | Record<string, string>> = {};
    for (const [name] of cases) spec[name] = `content of ${name}`;
    for (const [name] of cases) spec[`dir ${name}`] = { inner: 'x' };
    const src = buildTree(tempDir('fs-times-src-'), spec);
    for (const [name, when] of cases) {
      execFileSync('touch', ['-m', '-d', when, join(src, name)]);
      execFileSync('touch', ['-m', '-d', when, join(src, `dir ${name}`)]);
    }
    const dst = join(tempDir('fs-times-dst-'), 'replica');
    const first = await runSync(src, dst);
    expect(first.code, first.stderr).toBe(0);
    for (const [name] of cases) {
      expect(mtimeMs(join(dst, name)), name).toBe(mtimeMs(join(src, name)));
      expect(mtimeMs(join(dst, `dir ${name}`)), `dir ${name}`).toBe(mtimeMs(join(src, `dir ${name}`)));
    }
    expect(compareTrees(src, dst, { ignoreRoot: true })).toEqual([]);
    const second = await runSync(src, dst);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/created 0, updated 0, removed 0, failed 0/);
  });
});
