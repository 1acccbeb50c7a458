/**
 * Fault: a replica the unprivileged user cannot write, in whole or in part. (Unreadable source files and
 * folders, and read-only replica files and folders owned by the user, are covered by ../permissions.test.ts.)
 * Runs as `folder-sync-test` via runuser, also in CI.
 */
import { chmodSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, userTempDir } from '../_cli.js';
import { buildTree, compareTrees, file, giveToTestUser, isRoot, snapshotTree, tempDir } from '../_tree.js';
import { tempsIn } from './_faults.js';

const syncAsUser = (src: string, dst: string) => runCli(['sync-once', src, dst], { asUser: true });

describe('a replica the user cannot write (as the unprivileged user)', () => {
  it('a replica folder owned by someone else, not writable: refused up front (exit 2, one line), nothing changed', async () => {
    const src = buildTree(userTempDir(), { a: 'new', sub: { b: 'b' } });
    giveToTestUser(src);
    const dst = buildTree(tempDir('fs-perm-dst-'), { a: 'old', extra: 'extra' }); // owned by root
    chmodSync(dst, 0o755);
    const before = snapshotTree(dst);
    const r = await syncAsUser(src, dst);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^folder-sync: replica folder cannot be written by this user: .*permission denied \(EACCES\)/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
  });

  it('a replica subfolder owned by someone else: its entries fail by name (exit 1), everything else is mirrored, no temporaries', async () => {
    const src = buildTree(userTempDir(), { a: 'new a', locked: { x: 'new x', y: 'y' }, z: 'z' });
    giveToTestUser(src);
    // The replica's x is older: same size as the source's, so only its mtime tells the quick check they differ.
    const dst = buildTree(userTempDir(), { a: 'old', locked: { x: file('old x', { mtime: Date.now() - 60_000 }), gone: 'extra' }, stale: 'extra' });
    giveToTestUser(dst);
    if (isRoot) chownSync(join(dst, 'locked'), 0, 0);
    chmodSync(join(dst, 'locked'), 0o755);
    const r = await syncAsUser(src, dst);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/failed file "locked\/x": permission denied \(EACCES\)/);
    expect(r.stderr).toMatch(/failed file "locked\/y": permission denied \(EACCES\)/);
    expect(r.stderr).toMatch(/failed file "locked\/gone": permission denied \(EACCES\)/);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(tempsIn(dst)).toEqual([]);
    const diffs = compareTrees(src, dst, { ignoreRoot: true }).filter((d) => !d.startsWith('"locked'));
    expect(diffs).toEqual([]);
    // The locked folder is as it was: nothing half-done inside it.
    const inside = snapshotTree(join(dst, 'locked'));
    expect([...inside.keys()].sort()).toEqual(['.', 'gone', 'x']);
  });
});
