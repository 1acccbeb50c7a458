/**
 * Issue 11 point 2: ownership like `rsync -a`. Run as root, numeric owner and group are mirrored (links
 * included, lchown), and a setuid/setgid copy is only ever owned by the source file's owner. Not root, the
 * setuid/setgid bits are dropped from copies (with a debug line) and the next pass sees nothing to do.
 */
import { chmodSync, chownSync, lchownSync, lstatSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ops, runSync, userTempDir } from '../_cli.js';
import { buildTree, compareTrees, dir, file, giveToTestUser, isRoot, tempDir, testUser } from '../_tree.js';

const owner = (path: string): [number, number] => {
  const st = lstatSync(path);
  return [st.uid, st.gid];
};

// Owners can only be given away by root: these run when the suite does (CI runs as root), and show as skipped otherwise.
describe.runIf(isRoot)('as root', () => {
  it('owners and groups are mirrored (files, folders, links); a changed owner is fixed in place', async () => {
    const { uid, gid } = testUser();
    const src = buildTree(tempDir('fs-own-src-'), { mine: 'user file', d: dir({ inner: 'x' }), rootfile: 'root file' });
    symlinkSync('mine', join(src, 'link'));
    for (const p of ['mine', 'd', 'd/inner']) chownSync(join(src, p), uid, gid);
    lchownSync(join(src, 'link'), uid, gid);
    chownSync(join(src, 'rootfile'), 0, gid); // owner root, group the user's
    const dst = join(tempDir('fs-own-dst-'), 'replica');
    const r = await runSync(src, dst);
    expect(r.code, r.stderr).toBe(0);
    for (const p of ['mine', 'd', 'd/inner', 'link', 'rootfile']) expect(owner(join(dst, p)), p).toEqual(owner(join(src, p)));
    const again = await runSync(src, dst);
    expect(ops(again.stdout)).toEqual([]);
    chownSync(join(src, 'rootfile'), uid, gid);
    const fix = await runSync(src, dst);
    // A new owner is never given in place (plan.ts metaStep): the file is copied again, and the line says why.
    expect(ops(fix.stdout)).toEqual(['updated file "rootfile" (metadata: owner; copied again, not changed in place)']);
    expect(owner(join(dst, 'rootfile'))).toEqual([uid, gid]);
  });

  it('a setuid file whose other mode bits change keeps its setuid bit in place (owner unchanged), and the next pass is quiet', async () => {
    const src = buildTree(tempDir('fs-own-src-'), { tool: file('#!/bin/sh\necho hi\n', { mode: 0o4755 }) });
    chmodSync(join(src, 'tool'), 0o4755);
    const dst = join(tempDir('fs-own-dst-'), 'replica');
    expect((await runSync(src, dst)).code).toBe(0);
    expect(lstatSync(join(dst, 'tool')).mode & 0o7777).toBe(0o4755);
    chmodSync(join(src, 'tool'), 0o4750);
    const r = await runSync(src, dst);
    expect(ops(r.stdout)).toEqual(['updated file "tool" (metadata: mode)']);
    expect(lstatSync(join(dst, 'tool')).mode & 0o7777).toBe(0o4750);
    expect(ops((await runSync(src, dst)).stdout)).toEqual([]);
  });

  it("a user's setuid/setgid file is copied setuid/setgid owned by that user, never by root", async () => {
    const { uid, gid } = testUser();
    const src = buildTree(tempDir('fs-own-src-'), { tool: file('#!/bin/sh\necho hi\n', { mode: 0o6755 }) });
    chownSync(join(src, 'tool'), uid, gid);
    chmodSync(join(src, 'tool'), 0o6755); // chown cleared the bits
    const dst = join(tempDir('fs-own-dst-'), 'replica');
    const r = await runSync(src, dst);
    expect(r.code, r.stderr).toBe(0);
    const st = lstatSync(join(dst, 'tool'));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([uid, gid, 0o6755]);
  });
});

describe('not root', () => {
  it('setuid/setgid bits are dropped from copies with a debug line; the next pass changes nothing', async () => {
    const src = buildTree(userTempDir('fs-own-src-'), { tool: file('bin', { mode: 0o4755 }), group: file('g', { mode: 0o2750 }), plain: 'p' });
    giveToTestUser(src);
    chmodSync(join(src, 'tool'), 0o4755);
    chmodSync(join(src, 'group'), 0o2750);
    const dst = join(userTempDir('fs-own-dst-'), 'replica');
    const r = await runSync(src, dst, ['--verbose'], { asUser: true });
    expect(r.code, r.stderr).toBe(0);
    expect(lstatSync(join(dst, 'tool')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(dst, 'group')).mode & 0o7777).toBe(0o750);
    expect(r.stdout + r.stderr).toMatch(/"tool": setuid\/setgid bits not copied \(its owner is not mirrored/);
    expect(compareTrees(src, dst, { ignore: (p) => p === 'tool' || p === 'group', ignoreRoot: true })).toEqual([]);
    const again = await runSync(src, dst, [], { asUser: true });
    expect(again.code, again.stderr).toBe(0);
    expect(ops(again.stdout)).toEqual([]);
  });
});
