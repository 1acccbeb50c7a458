/**
 * Files copied into a folder being built (issue 16, session 15; src/sync/walk-build.ts, copy-file.ts
 * `ownedAsSource`, copy-batch.ts `copyOne`): the folder is this user's and 0700, so no one else can move it to
 * another parent, and the per-file check of its ".." is not made; and a new file there is already owned as its
 * source is when both are the pass user's and group's, so no chown is made that would change nothing. Seen
 * through the pass's real system calls (strace), run as root, as the scheduled pass of a system backup is.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoCli } from './_cli.js';
import { mountFs } from './_mounts.js';
import { buildTree, compareTrees, file, isRoot, tempDir, type Spec } from './_tree.js';

const OLD = 1_500_000_000_000;

/** `n` files, enough for a batch on both threads (copy-batch.ts) as well as the pass's own copies. */
function files(n: number): Spec {
  const out: Spec = {};
  for (let i = 0; i < n; i++) out[`f${i}.dat`] = file(`file ${i}\n`, { mtime: OLD + i, mode: 0o640 });
  return out;
}

/** A pass under strace (-ff: one file per thread): its chown calls and its lookups of a folder's "..". */
function traced(src: string, dst: string, env: Record<string, string> = {}): { chowns: number; parents: number } {
  const trace = join(tempDir(), 'trace');
  const r = spawnSync(
    'strace',
    ['-ff', '-qq', '-e', 'trace=fchown,chown,lchown,fchownat,statx,newfstatat,lstat', '-o', trace, process.execPath, repoCli, 'sync-once', src, dst],
    { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env } },
  );
  expect(r.status, r.stderr).toBe(0);
  const lines = readdirSync(dirname(trace))
    .filter((n) => n.startsWith('trace.'))
    .flatMap((n) => readFileSync(join(dirname(trace), n), 'utf8').split('\n'));
  return {
    chowns: lines.filter((l) => /^f?chown\w*\(/.test(l)).length,
    parents: lines.filter((l) => /^(statx|newfstatat|lstat)\(.*"(?:[^"]*\/)?\.\."/.test(l)).length,
  };
}

describe('copies into a folder being built (issue 16, session 15)', () => {
  it.runIf(isRoot)("make no chown that would change nothing and no per-file check of the folder's parent; the copy is exact", () => {
    const src = buildTree(tempDir(), { dnew: files(60) });
    const dst = join(tempDir(), 'replica');
    const built = traced(src, dst);
    expect(compareTrees(src, dst)).toEqual([]);
    // Without the build (each file through a temporary in a folder made under its own name): one of each per file.
    const plain = traced(src, join(tempDir(), 'replica-plain'), { FOLDER_SYNC_BUILD: '0' });
    expect(plain.chowns).toBeGreaterThanOrEqual(60);
    expect(plain.parents).toBeGreaterThanOrEqual(60);
    expect(built.chowns).toBeLessThan(5); // the folders' own, not the files'
    expect(built.parents).toBeLessThan(10); // once per batch, not per file
  });

  it.runIf(isRoot)("but where others can write the folder it is built in (0777), its '..' is checked before each file again", () => {
    // Anyone can move the folder being built out of a 0777 folder (walk-replica.ts `Place.movable`).
    const src = buildTree(tempDir(), { open: {} });
    chmodSync(join(src, 'open'), 0o777);
    const dst = join(tempDir(), 'replica');
    traced(src, dst); // the replica's `open` is 0777 too now
    buildTree(join(src, 'open'), { dnew: files(60) });
    const built = traced(src, dst);
    expect(built.parents).toBeGreaterThanOrEqual(60);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it.runIf(isRoot)("still gives each copy its source's owner and group when they are not the pass's (root mirrors owners)", () => {
    const src = buildTree(tempDir(), { dnew: files(40) });
    for (let i = 0; i < 40; i++) chownSync(join(src, 'dnew', `f${i}.dat`), 4242, i % 2 === 0 ? 4243 : 0);
    const dst = join(tempDir(), 'replica');
    const { chowns } = traced(src, dst);
    expect(chowns).toBeGreaterThanOrEqual(40);
    for (let i = 0; i < 40; i++) {
      const st = lstatSync(join(dst, 'dnew', `f${i}.dat`));
      expect([st.uid, st.gid]).toEqual([4242, i % 2 === 0 ? 4243 : 0]);
    }
  });

  it.runIf(isRoot)("on a file system whose new entries take their folder's group (xfs, grpid), still sets the source's group", () => {
    // Under grpid a new folder takes its parent's group (4244) without a setgid bit, so it is built (this user's,
    // 0700); a new file in it takes 4244 too, not the pass's group: the chown is needed although the source is
    // root's own. (A setgid replica folder is not built at all: its new folder is not 0700, walk-build.ts.)
    const m = mountFs('xfs', { options: 'grpid' });
    const src = buildTree(tempDir(), { shared: { dnew: files(40) } });
    const dst = join(m.path, 'replica');
    mkdirSync(join(dst, 'shared'), { recursive: true });
    chownSync(join(dst, 'shared'), 0, 4244);
    chownSync(join(src, 'shared'), 0, 4244);
    const probe = join(dst, 'shared', 'probe');
    writeFileSync(probe, '');
    expect(lstatSync(probe).gid).toBe(4244); // grpid is in effect
    unlinkSync(probe);
    const r = spawnSync(process.execPath, [repoCli, 'sync-once', src, dst, '--verbose'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/new folders? built under a temporary name/);
    for (let i = 0; i < 40; i++) expect(lstatSync(join(dst, 'shared', 'dnew', `f${i}.dat`)).gid).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});
