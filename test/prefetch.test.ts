import { join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listDir, type Entry } from '../src/sync/entry.js';
import { decodeListing, encodeListing, visitOrder } from '../src/sync/prefetch-shared.js';
import { runCli } from './_cli.js';
import { buildTree, bytes, compareTrees, dir, fifo, file, inodeMap, symlink, tempDir } from './_tree.js';

const p = (...parts: string[]): string => parts.join(sep);

describe('replica prefetch: visiting order', () => {
  const cases: [string, string, number][] = [
    ['', '', 0],
    ['', 'a', -1],
    ['a', '', 1],
    ['a', p('a', 'b'), -1], // a folder before its contents
    [p('a', 'z'), 'b', -1], // everything below a before b
    [p('a', 'b'), 'a b', -1], // component order, not string order ('/' vs ' ')
    ['B', 'a', -1], // code-unit order, like the merge-join
    [p('a', 'b'), p('a', 'b'), 0],
  ];
  for (const [a, b, want] of cases) {
    it(`${JSON.stringify(a)} vs ${JSON.stringify(b)}`, () => {
      expect(Math.sign(visitOrder(a, b))).toBe(want);
      expect(Math.sign(visitOrder(b, a))).toBe(-want || 0);
    });
  }
});

describe('replica prefetch: listings survive the trip between threads', () => {
  it('encodes and decodes every kind of entry exactly', () => {
    const root = buildTree(tempDir(), {
      'a file': file('x', { mode: 0o640, mtime: Date.UTC(2024, 1, 2, 3, 4, 5, 678) }),
      'd\nir': dir({}, { mode: 0o750 }),
      link: symlink('../some where'),
      dangling: symlink(''.padEnd(200, 'x')),
      pipe: fifo(),
      é: file(''),
    });
    const entries = listDir(root).entries;
    expect(entries.length).toBe(6);
    expect(decodeListing(encodeListing(entries))).toEqual(entries);
    expect(decodeListing(encodeListing([]))).toEqual([]);
  });
});

describe('replica prefetch: the lister thread (built engine)', () => {
  it('hands over listings in visiting order, skips folders the pass does not visit, never guesses', async () => {
    const { ReplicaPrefetch } = (await import('../dist/sync/prefetch.js')) as unknown as typeof import('../src/sync/prefetch.js');
    const root = buildTree(tempDir(), {
      a: dir({ x: dir({ f: file('1') }), y: dir() }),
      b: dir({ g: file('2') }),
      c: dir({ h: file('3') }),
    });
    const names = (es: { entries: Entry[] } | undefined): string[] | undefined => es?.entries.map((e) => e.name);
    const pf = ReplicaPrefetch.start(root);
    expect(pf).toBeDefined();
    try {
      // The pass never waits for the lister: until its first listing arrives, take says "list it yourself".
      let first: { entries: Entry[] } | undefined;
      for (let i = 0; i < 200 && !first; i++) {
        first = pf?.take('');
        if (!first) await new Promise((r) => setTimeout(r, 25));
      }
      expect(names(first)).toEqual(['a', 'b', 'c']);
      // Poll rather than sleep a fixed time: on a loaded machine the lister can take longer than any fixed pause.
      const posted = async (rel: string): Promise<{ entries: Entry[] } | undefined> => {
        let got: { entries: Entry[] } | undefined;
        for (let i = 0; i < 400 && !got; i++) {
          got = pf?.take(rel);
          if (!got) await new Promise((r) => setTimeout(r, 25));
        }
        return got;
      };
      expect(names(await posted(join('a', 'y')))).toEqual([]); // 'a' and 'a/x' skipped
      expect(pf?.take('bb')).toBeUndefined(); // not in the lister's walk: the pass lists it itself
      expect(names(await posted('c'))).toEqual(['h']); // ... and the lister's later folders are still there
      expect(pf?.take('d')).toBeUndefined(); // past the end
    } finally {
      await pf?.close();
    }
  });
});

describe('replica prefetch in a real pass (built CLI, lister started at once)', () => {
  const env = { FOLDER_SYNC_PREFETCH_AFTER_MS: '0' };
  it('mirrors creations, edits, removals, type changes and metadata exactly, and a second pass changes nothing', async () => {
    const T = Date.UTC(2024, 3, 4);
    const src = buildTree(tempDir(), {
      a: dir({ keep: file('same', { mtime: T }), edit: file('new text', { mtime: T }), sub: dir({ deep: file(bytes(70_000)) }) }),
      b: dir({ 'now a file': file('f'), 'now a dir': dir({ x: file('x') }), link: symlink('../a/keep') }),
      c: dir({}, { mode: 0o750, mtime: T }),
      top: file('t', { mode: 0o600 }),
    });
    const dst = buildTree(tempDir(), {
      a: dir({ keep: file('same', { mtime: T }), edit: file('old', { mtime: T - 5000 }), extra: dir({ junk: file('j') }) }),
      b: dir({ 'now a file': dir({ y: file('y') }), 'now a dir': file('was a file'), link: file('not a link') }),
      c: dir({ gone: file('g') }, { mode: 0o700 }),
      zz: dir({ z: dir({ z: file('z') }) }),
    });
    const first = await runCli(['sync-once', src, dst, '--quiet'], { env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    const before = inodeMap(dst);
    const second = await runCli(['sync-once', src, dst], { env });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/created 0, updated 0, removed 0, failed 0/);
    expect(inodeMap(dst)).toEqual(before);
  });
});
