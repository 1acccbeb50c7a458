import { existsSync, linkSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { entryFromStats, type Entry } from '../src/sync/entry.js';
import { heldBlocks, holdBlocks, HOLDS_ON, releaseBlocks } from '../src/sync/free-later.js';
import { statfsType } from '../src/sync/fs-type.js';
import { syncOnce } from '../src/sync/sync-once.js';
import { buildTree, compareTrees, fifo, file, symlink, tempDir } from './_tree.js';

const T = Date.UTC(2024, 0, 2);
const entryOf = (path: string): Entry => entryFromStats(path.split('/').pop()!, lstatSync(path, { bigint: true }));
/** Wait until every handle held so far is closed (the closes run on libuv's thread pool). */
async function allClosed(): Promise<void> {
  while (heldBlocks().open > 0) await new Promise((r) => setImmediate(r));
}

describe('blocks of replaced and removed replica files are freed beside the pass (issue 16, free-later.ts)', () => {
  it('a pass holds each non-empty file it replaces or removes, and closes every handle it took', async () => {
    const src = buildTree(tempDir(), { a: 'new a, longer', b: 'new b, longer', c: 'new c, longer', empty: '', keep: file('same', { mtime: T }) });
    const dst = buildTree(tempDir(), {
      a: 'old a',
      b: 'old b',
      c: 'old c',
      empty: 'was not empty',
      gone1: 'x',
      gone2: 'y',
      gone3: '',
      keep: file('same', { mtime: T }),
    });
    await allClosed();
    const before = heldBlocks().closed;
    const r = await syncOnce(src, dst, { logger: createLogger([]) });
    expect(r.exitCode).toBe(0);
    await allClosed();
    // a, b, c, empty (its old copy had data) replaced; gone1, gone2 removed; gone3 is empty: nothing to free.
    expect(heldBlocks().closed - before).toBe(6);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(readFileSync(join(dst, 'a'), 'utf8')).toBe('new a, longer');
  });

  it('holds nothing for what frees nothing: empty files, files with another link, folders, links', () => {
    const root = buildTree(tempDir(), { f: 'data', e: '', l: symlink('f'), d: { x: '1' } });
    linkSync(join(root, 'f'), join(root, 'f2'));
    for (const name of ['f', 'e', 'l', 'd']) expect(holdBlocks(join(root, name), entryOf(join(root, name))), name).toBeUndefined();
    expect(holdBlocks(join(root, 'f'), undefined)).toBeUndefined();
  });

  it('never opens the file itself: a FIFO or a link swapped in for a listed file is not held, not read, not followed', () => {
    const root = buildTree(tempDir(), { data: 'bytes', p: fifo(), l: symlink('data') });
    const listed = { ...entryOf(join(root, 'data')) }; // what the listing said: a file with data
    expect(holdBlocks(join(root, 'p'), listed)).toBeUndefined(); // returns at once: a FIFO opened for reading would wait
    expect(holdBlocks(join(root, 'l'), listed)).toBeUndefined(); // the link frees nothing, its target is not ours
    expect(holdBlocks(join(root, 'missing'), listed)).toBeUndefined(); // could not be had: the change goes ahead as before
    const fd = holdBlocks(join(root, 'data'), listed);
    expect(fd).toBeTypeOf('number');
    releaseBlocks(fd);
  });

  // On NFS a file still referenced (an O_PATH handle is enough) is silly-renamed to .nfsXXXX instead of removed
  // until its last close: a removed folder's rmdir then fails (not empty). Only local disk file systems are held on.
  it('holds only on local disk file systems: never on NFS; not on tmpfs (the file system here that is not on the list)', () => {
    expect(HOLDS_ON.has('nfs')).toBe(false); // NFS (fs-type.ts names statfs types)
    expect(HOLDS_ON.has('ext4')).toBe(true); // ext2/3/4 (one statfs type)
    if (!existsSync('/dev/shm') || statfsType('/dev/shm') !== 'tmpfs') return;
    const dir = mkdtempSync('/dev/shm/fs-free-later-');
    try {
      writeFileSync(join(dir, 'f'), 'data');
      expect(holdBlocks(join(dir, 'f'), entryOf(join(dir, 'f')))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
