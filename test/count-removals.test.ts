/**
 * --max-delete's count (count-removals.ts) is read-only and follows the pass's own plan: for each tree it gives
 * the number a hand count gives, and the number of "removed" lines a dry run of the pass logs.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { countRemovals } from '../src/sync/count-removals.js';
import { syncOnce } from '../src/sync/sync-once.js';
import { buildTree, compareTrees, dir, snapshotTree, symlink, tempDir, type Spec } from './_tree.js';

const TEMP = '.folder-sync-partial-0123456789abcdef';

const cases: { name: string; src: Spec; dst: Spec; removed: number }[] = [
  { name: 'nothing to remove', src: { a: 'a', d: dir({ b: 'b' }) }, dst: { a: 'old', d: dir({}) }, removed: 0 },
  {
    name: 'extras: a file, and a folder with everything below it',
    src: { keep: 'k' },
    dst: { keep: 'k', a: 'a', b: dir({ c: 'c', d: dir({ e: 'e' }) }) },
    removed: 5, // a, b/c, b/d/e, b/d, b
  },
  {
    name: 'entries of another type in the way',
    src: { f2d: dir({ x: 'x' }), d2f: 'now a file', f2l: symlink('target') },
    dst: { f2d: 'a file', d2f: dir({ y: 'y', z: 'z' }), f2l: 'a file' },
    removed: 5, // f2d, d2f/y, d2f/z, d2f, f2l
  },
  {
    name: 'leftover temporaries are not counted, on their own or inside a removed folder',
    src: { a: 'a' },
    dst: { a: 'a', [TEMP]: 'debris', extra: dir({ x: 'x', [TEMP]: 'debris' }) },
    removed: 2, // extra/x, extra
  },
  {
    name: 'extras deep inside folders both sides have',
    src: { d: dir({ keep: 'k', e: dir({}) }) },
    dst: { d: dir({ keep: 'k', gone: dir({ z: 'z' }), e: dir({ old: 'o' }) }) },
    removed: 3, // d/e/old, d/gone/z, d/gone
  },
];

describe('countRemovals', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const src = buildTree(tempDir(), c.src);
      const dst = buildTree(tempDir(), c.dst);
      const before = snapshotTree(dst);
      expect(countRemovals(src, dst)).toEqual({ removed: c.removed });
      expect(compareTrees(before, snapshotTree(dst)), 'counting changes nothing').toEqual([]);
      const dry = await syncOnce(src, dst, { dryRun: true, logger: createLogger([]) });
      expect(dry.removed, "the dry run's removals").toBe(c.removed);
    });
  }
});
