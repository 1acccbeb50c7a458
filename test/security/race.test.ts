/**
 * Issue 11 point 1, for real: root passes (the built CLI) over a source and a replica that the unprivileged test
 * user can write, while that user exchanges folders on both sides with symlinks to a root-only sentinel folder
 * (renameat2 RENAME_EXCHANGE, in a loop). After every pass: the sentinel is byte for byte and mode for mode
 * untouched, and nothing of it (names or contents) is in the replica. Bounded by a number of passes, not time.
 * The passes run with the look-ahead thread (lookahead.ts), which lists both trees by path beside the pass.
 */
import { lstatSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSync } from '../_cli.js';
import { buildTree, bytes, compareTrees, giveToTestUser, snapshotTree, tempDir, type Spec } from '../_tree.js';
import { makeSentinel, startSwapper } from './_race.js';

const PASSES = 12;

/** Every name and every file's contents below `root` (not following links; run with the swapper paused). */
function everything(root: string): { names: string[]; contents: string[] } {
  const names: string[] = [];
  const contents: string[] = [];
  const walk = (dir: string): void => {
    let list: string[];
    try {
      list = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of list) {
      names.push(name);
      const path = join(dir, name);
      try {
        const st = lstatSync(path);
        if (st.isDirectory()) walk(path);
        else if (st.isFile()) contents.push(readFileSync(path, 'latin1'));
      } catch {
        // unreadable: nothing to compare
      }
    }
  };
  walk(root);
  return { names, contents };
}

function userSpec(): Spec {
  const spec: Spec = {};
  for (let i = 0; i < 40; i++) spec[`f${String(i).padStart(2, '0')}`] = bytes(2000 + i, i);
  spec['sub'] = { a: 'a', b: { c: 'c', d: bytes(50_000, 3) } };
  return spec;
}

describe('root passes while a user swaps folders for links to a root-only folder', () => {
  it(`${PASSES} passes: the sentinel is untouched and nothing of it reaches the replica`, async () => {
    const sentinel = makeSentinel();
    const before = snapshotTree(sentinel);
    const secret = everything(sentinel);

    // The user's home holds the source and the replica (both writable by the user), and links to the sentinel.
    const home = tempDir('fs-race-home-', { forUser: true });
    const src = join(home, 'src');
    const rep = join(home, 'rep');
    buildTree(home, { src: { shared: userSpec(), other: userSpec(), top: 'top' }, decoy: { planted: "the user's decoy" } });
    symlinkSync(sentinel, join(home, 'evil-src'));
    symlinkSync(sentinel, join(home, 'evil-rep'));
    giveToTestUser(home);
    const first = await runSync(src, rep);
    expect(first.code, first.stderr).toBe(0);
    giveToTestUser(rep); // as if the replica mirrored the user's ownership: the user can rename in it

    const swapper = await startSwapper(
      [
        [join(src, 'shared'), join(home, 'evil-src')], // a source folder <-> a link to the sentinel
        [join(rep, 'shared'), join(home, 'evil-rep')], // a replica folder <-> a link to the sentinel
        [join(rep, 'other', 'sub'), join(home, 'decoy')], // a replica folder <-> a folder outside the replica
      ],
      tempDir('fs-race-ctl-', { forUser: true }),
    );
    const codes: (number | null)[] = [];
    let swaps = 0;
    try {
      for (let pass = 0; pass < PASSES; pass++) {
        // --max-delete: the counting walk runs under the swaps too. Every other pass, the look-ahead thread
        // (issue 16) walks the whole tree under the swaps before the pass does (it runs beside it in the others).
        const env = pass % 2 === 1 ? { FOLDER_SYNC_TEST_LOOKAHEAD: 'first' } : {};
        const r = await runSync(src, rep, ['--max-delete', '1000000'], { timeoutMs: 120_000, env });
        codes.push(r.code);
        expect(r.stderr, `pass ${pass}`).not.toMatch(/unexpected error|\n\s+at /);
        expect([0, 1], `pass ${pass}: ${r.stderr}`).toContain(r.code);
        expect(compareTrees(before, snapshotTree(sentinel)), `pass ${pass}`).toEqual([]);
        // Checked after every pass (a later pass would remove a leaked copy as an extra), all over the user's
        // home (the swaps move replica folders to the links' places and back), with the swapper held still:
        // this check reads by path, and must not be the one that follows a swapped-in link.
        await swapper.pause();
        const seen = everything(home);
        swapper.resume();
        expect(
          seen.names.filter((n) => secret.names.includes(n)),
          `pass ${pass}`,
        ).toEqual([]);
        expect(
          seen.contents.filter((c) => secret.contents.includes(c)),
          `pass ${pass}`,
        ).toEqual([]);
      }
    } finally {
      swaps = await swapper.stop();
    }
    expect(compareTrees(before, snapshotTree(sentinel))).toEqual([]);
    expect(codes).toHaveLength(PASSES);
    expect(swaps).toBeGreaterThan(0);
  }, 600_000);
});
