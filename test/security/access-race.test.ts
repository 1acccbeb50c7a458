/**
 * The access layer under a real race: the unprivileged test user exchanges a folder with a symlink to a
 * root-only sentinel folder (renameat2 RENAME_EXCHANGE, in a loop) while this root process opens, lists,
 * reads, creates, renames, removes and chmods through OpenFolder handles. Whatever the interleaving, nothing of
 * the sentinel is read and nothing in it changes. Bounded by a number of rounds, not by time.
 */
import { closeSync, readSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenFolder, setAccessMode, type AccessMode } from '../../src/sync/access.js';
import { unpinWorkingFolder } from '../../src/sync/working-folder.js';
import { EntryChangedError } from '../../src/sync/handles.js';
import { allowChdirListing } from '../../src/sync/entry.js';
import { buildTree, compareTrees, giveToTestUser, snapshotTree, tempDir } from '../_tree.js';
import { makeSentinel, startSwapper } from './_race.js';

const ROUNDS = 1500;

afterEach(() => {
  unpinWorkingFolder();
  setAccessMode(process.env['FOLDER_SYNC_ACCESS'] === 'path' ? 'path' : 'fd');
  allowChdirListing(false);
});

// 'fd' both as the CLI (pinned working folder) and as an embedder (names through /proc/self/fd only); 'path' as
// the CLI runs it (checked, pinned working folder). 'path' for an embedder is weaker by design (docs/security.md).
const configs: [AccessMode, boolean][] = [
  ['fd', true],
  ['fd', false],
  ['path', true],
];

describe.each(configs)('OpenFolder while a folder is swapped with a link (%s mode, working folder pinned: %s)', (mode, pinning) => {
  it(`${ROUNDS} rounds: the sentinel is never read, written, removed or chmodded`, async () => {
    setAccessMode(mode);
    allowChdirListing(pinning);
    const sentinel = makeSentinel();
    const before = snapshotTree(sentinel);
    const home = tempDir('fs-race-home-', { forUser: true });
    buildTree(home, { d: { mine: "the user's own file", sub: { deeper: 'x' } } });
    symlinkSync(sentinel, join(home, 'l'));
    giveToTestUser(home);
    const swapper = await startSwapper([[join(home, 'd'), join(home, 'l')]], tempDir('fs-race-ctl-', { forUser: true }));

    const seen = new Set<string>();
    let changed = 0;
    let worked = 0;
    const buf = Buffer.alloc(256);
    const top = OpenFolder.openRoot(home);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        let d: OpenFolder | undefined;
        try {
          d = top.openChild('d');
          const listing = d.list();
          for (const e of listing.entries) seen.add(e.name);
          const file = d.openFile('mine');
          const n = readSync(file.fd, buf, 0, buf.length, 0);
          closeSync(file.fd);
          seen.add(buf.subarray(0, n).toString());
          const tmp = d.createTemp();
          writeSync(tmp.fd, 'written by root');
          closeSync(tmp.fd);
          d.rename(tmp.name, 'made-by-root');
          d.rename('made-by-root', 'moved-up', top); // between two opened folders
          top.unlink('moved-up');
          d.setFileMeta('mine', undefined, { mode: 0o644, atimeMs: 0, mtimeMs: 1000 });
          d.setMode(0o755);
          d.setTimes(0, 2000);
          worked++;
        } catch (error) {
          // A swap caught mid-round: refused (a link, another folder) or not found; never followed.
          const code = (error as NodeJS.ErrnoException).code;
          if (!(error instanceof EntryChangedError) && code !== 'ENOENT' && code !== 'ELOOP' && code !== 'ENOTDIR') throw error;
          changed++;
        } finally {
          d?.close();
        }
      }
    } finally {
      top.close();
      await swapper.stop();
    }
    expect(worked + changed).toBe(ROUNDS);
    expect([...seen].filter((s) => /secret|root only|inner|key/.test(s))).toEqual([]);
    expect(compareTrees(before, snapshotTree(sentinel))).toEqual([]);
  });
});
