/**
 * Permission cases, run as the unprivileged user `folder-sync-test` (root ignores file permissions), also in CI.
 * Trees are built as root and handed to that user; the CLI runs as that user via runuser.
 */
import { chmodSync, existsSync, lchownSync, lstatSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, runSync, userTempDir } from './_cli.js';
import {
  buildTree,
  compareTrees,
  dir,
  file,
  giveToTestUser,
  inodeChanges,
  msToTimeSpec,
  snapshotTree,
  symlink,
  tempDir,
  testUser,
  type Spec,
} from './_tree.js';

const OLD = 1_500_000_000_000;

/** A tree owned by the test user (modes applied as in the spec). */
function userTree(spec: Spec): string {
  const root = buildTree(userTempDir(), spec);
  giveToTestUser(root);
  return root;
}

const syncAsUser = (src: string, dst: string, ...flags: string[]) => runSync(src, dst, flags, { asUser: true });

/** Every leftover temporary below a folder (there must never be one after a pass). */
function temps(root: string): string[] {
  return [...snapshotTree(root).keys()].filter((p) => p.split('/').at(-1)?.startsWith('.folder-sync-partial-'));
}

describe('permissions (as the unprivileged user)', () => {
  it('the CLI really runs unprivileged', async () => {
    const r = await runCli(['--version'], { asUser: true });
    expect(r.code, r.stderr).toBe(0);
    if (process.getuid?.() === 0) {
      // Proof that permission checks apply: the test user cannot read a root-only file.
      const probe = buildTree(tempDir(), { secret: file('x', { mode: 0o600 }) });
      const r2 = await runCli(['sync-once', probe, join(userTempDir(), 'r')], { asUser: true });
      expect(r2.code).toBe(2); // the source folder (owned by root, 0700) cannot be read by the test user
    }
  });

  it('an unreadable source file is logged as failed (exit 1) and the replica keeps its copy', async () => {
    const src = userTree({
      ok: 'ok',
      secret: file('new secret', { mode: 0o000 }),
      conflict: file('cannot read me', { mode: 0o000 }),
      sub: dir({ secret2: file('write only', { mode: 0o200 }), fine: 'fine' }),
    });
    const dst = userTree({ secret: 'old copy', conflict: dir({ keep: 'kept' }), sub: dir({ secret2: 'old 2' }) });
    const log = join(userTempDir(), 'pass.log');
    giveToTestUser(join(log, '..'));
    const r = await syncAsUser(src, dst, '--log', log);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: failed file "secret": permission denied \(EACCES\)$/m);
    expect(r.stderr).toMatch(/^error: failed file "sub\/secret2": permission denied \(EACCES\)$/m);
    expect(r.stderr).toMatch(/^error: failed file "conflict": permission denied/m);
    expect(r.stdout).toMatch(/pass finished: .*failed 3,/);
    expect(readFileSync(log, 'utf8')).toMatch(/Z ERROR failed file "secret": permission denied \(EACCES\)\n/);
    // The replica's copies stay, even the folder where the source now has an unreadable file.
    expect(readFileSync(join(dst, 'secret'), 'utf8')).toBe('old copy');
    expect(readFileSync(join(dst, 'sub', 'secret2'), 'utf8')).toBe('old 2');
    expect(readFileSync(join(dst, 'conflict', 'keep'), 'utf8')).toBe('kept');
    // Everything else was mirrored, and no temporary was left behind.
    expect(readFileSync(join(dst, 'ok'), 'utf8')).toBe('ok');
    expect(readFileSync(join(dst, 'sub', 'fine'), 'utf8')).toBe('fine');
    expect(temps(dst)).toEqual([]);
  });

  it('an unreadable source folder keeps its replica copy and everything below it', async () => {
    const src = userTree({
      locked: dir({ a: 'new' }, { mode: 0o000 }),
      'locked-new': dir({ x: 'x' }, { mode: 0o000 }),
      'locked-over-file': dir({ y: 'y' }, { mode: 0o000 }),
      open: dir({ b: 'b' }),
    });
    const dst = userTree({
      locked: dir({ a: 'old', deeper: dir({ c: 'c' }) }, { mode: 0o750 }),
      'locked-over-file': 'the replica had a file here',
      extra: 'e',
    });
    const lockedBefore = snapshotTree(join(dst, 'locked'));
    const r = await syncAsUser(src, dst);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: failed dir "locked": permission denied \(EACCES\)$/m);
    expect(r.stderr).toMatch(/^error: failed dir "locked-new": permission denied/m);
    expect(r.stderr).toMatch(/^error: failed dir "locked-over-file": permission denied/m);
    const lockedAfter = snapshotTree(join(dst, 'locked'));
    expect(compareTrees(lockedBefore, lockedAfter)).toEqual([]);
    expect(inodeChanges(lockedBefore, lockedAfter)).toEqual([]);
    expect(readFileSync(join(dst, 'locked-over-file'), 'utf8')).toBe('the replica had a file here');
    expect(existsSync(join(dst, 'locked-new'))).toBe(false);
    expect(existsSync(join(dst, 'extra'))).toBe(false);
    expect(readFileSync(join(dst, 'open', 'b'), 'utf8')).toBe('b');
  });

  it('a source folder that can be listed but not searched (r--): its entries fail, their replica copies stay', async () => {
    const src = userTree({ listable: dir({ a: 'new a', b: 'new b' }, { mode: 0o444 }), fine: 'fine' });
    const dst = userTree({ listable: dir({ a: 'old a', b: 'old b', gone: 'not in the source' }, { mode: 0o755 }) });
    const r = await syncAsUser(src, dst);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: failed entry "listable\/a": permission denied \(EACCES\)$/m);
    expect(readFileSync(join(dst, 'listable', 'a'), 'utf8')).toBe('old a');
    expect(readFileSync(join(dst, 'listable', 'b'), 'utf8')).toBe('old b');
    // A name the source listing does not have is a true extra, even there.
    expect(existsSync(join(dst, 'listable', 'gone'))).toBe(false);
  });

  it('a replica folder that can be listed but not searched (r--) is opened and mirrored', async () => {
    const src = userTree({ d: dir({ a: 'new a', c: 'c' }, { mode: 0o755, mtime: OLD }) });
    const dst = userTree({ d: dir({ a: 'old', extra: dir({ x: 'x' }) }, { mode: 0o444 }), gone: dir({ y: 'y' }, { mode: 0o444 }) });
    const r = await syncAsUser(src, dst);
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst, { ignoreRoot: true })).toEqual([]);
  });

  it('read-only files and folders in the replica are replaced and removed; a dry run leaves them alone', async () => {
    const src = userTree({
      changed: 'new content',
      d: dir({ f: 'new', 'added.txt': 'added' }, { mode: 0o755 }),
      keep: file('k', { mtime: OLD }),
      'now-a-file': 'was a read-only folder',
    });
    const dst = userTree({
      changed: file('old', { mode: 0o444 }),
      d: dir(
        {
          f: file('old', { mode: 0o444, mtime: OLD }), // same size as the source's 'new': the older mtime is what marks it changed
          extra: file('x', { mode: 0o444 }),
          ro: dir({ y: file('y', { mode: 0o444 }) }, { mode: 0o555 }),
        },
        { mode: 0o555 },
      ),
      keep: file('k', { mtime: OLD, mode: 0o444 }),
      gone: dir({ z: file('z', { mode: 0o444 }), locked: dir({ w: 'w' }, { mode: 0o000 }) }, { mode: 0o555 }),
      'gone-000': dir({ q: 'q' }, { mode: 0o000 }),
      'now-a-file': dir({ inner: file('i', { mode: 0o400 }) }, { mode: 0o500 }),
    });
    chmodSync(dst, 0o555);

    const before = snapshotTree(dst);
    const dry = await syncAsUser(src, dst, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^removed dir "gone-000" \(contents not listed, dry run\)$/m);
    expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
    expect(inodeChanges(before, snapshotTree(dst))).toEqual([]);

    const r = await syncAsUser(src, dst);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(compareTrees(src, dst)).toEqual([]);
    expect(r.stdout).toMatch(/^removed dir "gone\/locked"$/m);
    expect(r.stdout).toMatch(/^updated file "keep" \(metadata: mode\)$/m);
    expect(temps(dst)).toEqual([]);
  });

  it('a replica root the user cannot even list (mode 0000) is opened, mirrored and given the source mode', async () => {
    const src = userTree({ a: 'a', d: dir({ b: 'b' }) });
    chmodSync(src, 0o750);
    const dst = userTree({ stale: 'x' });
    chmodSync(dst, 0o000);
    const r = await syncAsUser(src, dst);
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('a source folder with mode 0555 is mirrored, and mirrored into again after it changes', async () => {
    const src = userTree({ ro: dir({ f: file('f', { mode: 0o444 }), sub: dir({}, { mode: 0o555 }) }, { mode: 0o555, mtime: OLD }) });
    const dst = join(userTempDir(), 'replica');
    const first = await syncAsUser(src, dst);
    expect(first.code, first.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    // Change the source inside its read-only folders (as root, or by opening them), keeping their modes.
    chmodSync(join(src, 'ro'), 0o755);
    chmodSync(join(src, 'ro', 'sub'), 0o755);
    writeFileSync(join(src, 'ro', 'sub', 'new'), 'new');
    writeFileSync(join(src, 'ro', 'g'), 'g');
    giveToTestUser(src);
    chmodSync(join(src, 'ro', 'sub'), 0o555);
    chmodSync(join(src, 'ro'), 0o555);
    utimesSync(join(src, 'ro'), msToTimeSpec(OLD), msToTimeSpec(OLD));
    const second = await syncAsUser(src, dst);
    expect(second.code, second.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(readdirSync(join(dst, 'ro', 'sub'))).toEqual(['new']);
  });

  it('--checksum re-copies a same-size same-mtime edit inside a read-only replica folder', async () => {
    const src = userTree({ ro: dir({ a: file('jello', { mtime: OLD }) }, { mode: 0o555, mtime: OLD }) });
    const dst = userTree({ ro: dir({ a: file('hello', { mtime: OLD }) }, { mode: 0o555, mtime: OLD }) });
    const quick = await syncAsUser(src, dst);
    expect(quick.code, quick.stderr).toBe(0);
    expect(readFileSync(join(dst, 'ro', 'a'), 'utf8')).toBe('hello');
    const r = await syncAsUser(src, dst, '--checksum');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^updated file "ro\/a"$/m);
    expect(compareTrees(src, dst, { ignoreRoot: true })).toEqual([]);
  });

  it('--checksum with an unreadable replica copy re-copies it', async () => {
    const src = userTree({ a: file('fresh', { mtime: OLD }) });
    const dst = userTree({ a: file('stale', { mtime: OLD, mode: 0o000 }) });
    const r = await syncAsUser(src, dst, '--checksum');
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(dst, 'a'), 'utf8')).toBe('fresh');
  });

  it('--max-delete refuses when a replica folder to be removed cannot be counted', async () => {
    const src = userTree({ a: 'a' });
    const dst = userTree({ a: 'a', hidden: dir({ b: 'b', c: 'c' }, { mode: 0o000 }) });
    const before = snapshotTree(dst);
    const r = await syncAsUser(src, dst, '--max-delete', '1');
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/cannot count what the pass would remove in "hidden"/);
    expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
    const ok = await syncAsUser(src, dst, '--max-delete', '3');
    // Still uncountable without opening it: refused the same way, whatever the limit.
    expect(ok.code).toBe(2);
    const free = await syncAsUser(src, dst);
    expect(free.code, free.stderr).toBe(0);
    expect(existsSync(join(dst, 'hidden'))).toBe(false);
  });

  it('a replica folder that has to be opened to be listed (mode 0) still reports the names it cannot open', async () => {
    const src = userTree({ ok: 'ok', d: dir({ a: 'a' }) });
    const dst = userTree({ ok: 'ok', d: dir({ a: 'a' }) });
    // A name that is not valid UTF-8, which Node cannot open again by name: it can be neither mirrored nor removed.
    const bad = Buffer.concat([Buffer.from(`${join(dst, 'd')}/`), Buffer.from([0x62, 0xfe, 0x32])]);
    writeFileSync(bad, 'latin-1 name in the replica');
    const { uid, gid } = testUser();
    lchownSync(bad, uid, gid);
    chmodSync(join(dst, 'd'), 0o000);
    const r = await syncAsUser(src, dst);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: failed entry "d\/b\ufffd2": the name is not valid UTF-8/m);
    expect(readdirSync(join(dst, 'd'))).toContain('b\ufffd2'); // still there: reported, not silently kept
  });

  it('a replacement that cannot be installed logs no removal: the replica entry it would replace stays', async () => {
    const src = userTree({ d: dir({ x: symlink('elsewhere') }) });
    const dst = userTree({ d: dir({ x: 'the old file' }) });
    // A sticky folder and a file the test user does not own: the rename over it fails (EPERM) after the link is made.
    lchownSync(join(dst, 'd', 'x'), 0, 0);
    lchownSync(join(dst, 'd'), 0, 0);
    chmodSync(join(dst, 'd'), 0o1777);
    const r = await syncAsUser(src, dst);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: failed symlink "d\/x": operation not permitted \(EPERM\)$/m);
    expect(r.stdout).not.toMatch(/removed file "d\/x"/);
    expect(r.stdout).toMatch(/pass finished: .*, removed 0, /);
    expect(lstatSync(join(dst, 'd', 'x')).isFile()).toBe(true);
    expect(readFileSync(join(dst, 'd', 'x'), 'utf8')).toBe('the old file');
    expect(temps(dst)).toEqual([]);
  });

  describe('guards', () => {
    it('an unreadable source folder is refused (exit 2), nothing touched', async () => {
      const src = userTree({ a: 'a' });
      chmodSync(src, 0o000);
      const dst = userTree({ old: 'old' });
      const before = snapshotTree(dst);
      const r = await syncAsUser(src, dst);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^folder-sync: source folder cannot be read: .*permission denied \(EACCES\)\n$/);
      expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
    });

    it('a replica that cannot be created is refused (exit 2)', async () => {
      const src = userTree({ a: 'a' });
      const rootOwned = tempDir(); // owned by root when running as root (else by you): read-only for the runner
      chmodSync(rootOwned, 0o555);
      const r = await syncAsUser(src, join(rootOwned, 'sub', 'replica'));
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^folder-sync: replica folder cannot be created: .*permission denied \(EACCES\)\n$/);
      expect(readdirSync(rootOwned)).toEqual([]);
    });

    it('a log file that cannot be opened for appending is refused (exit 2), nothing touched', async () => {
      const src = userTree({ a: 'a' });
      const dst = userTree({ old: 'old' });
      const logDir = userTempDir();
      const log = join(logDir, 'readonly.log');
      writeFileSync(log, 'existing\n');
      giveToTestUser(logDir);
      chmodSync(log, 0o444);
      const before = snapshotTree(dst);
      const r = await syncAsUser(src, dst, '--log', log);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^folder-sync: log file cannot be opened for appending: .*readonly\.log: permission denied \(EACCES\)\n$/);
      expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
      expect(readFileSync(log, 'utf8')).toBe('existing\n');
    });
  });
});
