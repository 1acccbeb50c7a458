/**
 * End-to-end: the built CLI mirrors real trees. Every case builds folders in temp dirs, runs
 * `folder-sync sync-once`, and compares source and replica entry by entry.
 */
import { chmodSync, existsSync, lstatSync, readFileSync, realpathSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReplicaLock } from '../src/sync/lock.js';
import { tempName } from '../src/sync/temp.js';
import { ops, runCli, runSync, type CliResult } from './_cli.js';
import {
  buildTree,
  bytes,
  compareTrees,
  dir,
  fifo,
  file,
  hardlink,
  inodeChanges,
  inodeMap,
  msToTimeSpec,
  nested,
  snapshotTree,
  symlink,
  tempDir,
  type Spec,
} from './_tree.js';

const OLD = 1_500_000_000_000; // 2017-07-14
const OLDER = 1_400_000_000_000;

const sync = (src: string, dst: string, ...flags: string[]): Promise<CliResult> => runSync(src, dst, flags);

/** Names a pass run with state folder `state` makes for its temporaries (their tag is keyed by that folder). */
function ownTempNames(state: string, count: number): string[] {
  const saved = process.env['FOLDER_SYNC_STATE_DIR'];
  process.env['FOLDER_SYNC_STATE_DIR'] = state;
  try {
    return Array.from({ length: count }, () => tempName());
  } finally {
    if (saved === undefined) delete process.env['FOLDER_SYNC_STATE_DIR'];
    else process.env['FOLDER_SYNC_STATE_DIR'] = saved;
  }
}

function setMtime(path: string, ms: number): void {
  utimesSync(path, msToTimeSpec(ms), msToTimeSpec(ms));
}

const awkward: Spec = {
  'with space.txt': 'spaces',
  "quote\"s and 'single'.txt": 'quotes',
  'new\nline.txt': 'a newline in the name',
  'back\\slash\ttab.txt': 'escapes',
  '100%.txt': 'percent',
  '%s%n%d': 'printf',
  'caf\u00e9.txt': 'NFC',
  'cafe\u0301.txt': 'NFD',
  ['a'.repeat(255)]: '255 ascii bytes',
  ['\u00e9'.repeat(127) + 'b']: '255 utf-8 bytes',
  '日本語 ✓ 🎉': 'unicode',
  '-starts-with-dash': 'dash',
  empty: file(''),
  'big-64k-plus-1': file(bytes(64 * 1024 + 1, 7)),
  'big-3m': file(bytes(3 * 1024 * 1024 + 13, 9), { mtime: OLD + 0.7 }),
  'mode-600': file('private', { mode: 0o600, mtime: OLD + 123.456 }),
  'mode-755': file('#!/bin/sh\n', { mode: 0o755 }),
  'mode-444': file('read only', { mode: 0o444 }),
  'empty-dir': dir({}, { mtime: OLDER }),
  'dir-700': dir({ inner: file('x', { mtime: OLD }) }, { mode: 0o700, mtime: OLD + 5 }),
  'dir-555': dir({ 'ro-file': file('y', { mode: 0o444 }) }, { mode: 0o555, mtime: OLD + 9 }),
  'link-relative': symlink('with space.txt'),
  'link-absolute': symlink('/etc/hostname'),
  'link-dangling': symlink('does/not/exist'),
  'link-to-dir': symlink('dir-700'),
  'link-dot-dot': symlink('../../outside'),
  'loop-a': symlink('loop-b'),
  'loop-b': symlink('loop-a'),
  'loop-self': symlink('loop-self'),
  'link-odd-target': symlink('odd\ntarget "with" %s'),
  hl1: file('hard linked content'),
  hl2: hardlink('hl1'),
  pipe: fifo(),
  deep: dir(nested(40, 'n', { leaf: file('at the bottom', { mtime: OLD }) })),
};

describe('sync-once mirrors exactly', () => {
  it('an awkward tree, then a no-op second pass that rewrites nothing', async () => {
    const src = buildTree(tempDir(), awkward);
    chmodSync(src, 0o750);
    setMtime(src, OLD + 1);
    const dst = join(tempDir(), 'parent', 'replica');
    const sourceBefore = snapshotTree(src);

    const first = await sync(src, dst);
    expect(first.code, first.stderr).toBe(0);
    // The source is never modified.
    expect(compareTrees(sourceBefore, snapshotTree(src))).toEqual([]);
    expect(inodeChanges(sourceBefore, snapshotTree(src))).toEqual([]);
    expect(compareTrees(src, dst, { ignore: (p) => p === 'pipe' })).toEqual([]);
    // The FIFO is skipped with a warning naming it, and not created.
    expect(existsSync(join(dst, 'pipe'))).toBe(false);
    expect(first.stderr).toMatch(/^warning: skipped fifo "pipe": /m);
    // Hard links in the source become separate files with the same content.
    const hl1 = statSync(join(dst, 'hl1'));
    const hl2 = statSync(join(dst, 'hl2'));
    expect(hl1.ino).not.toBe(hl2.ino);
    expect(hl1.nlink).toBe(1);
    expect(readFileSync(join(dst, 'hl2'), 'utf8')).toBe('hard linked content');
    // Parents of a missing replica are created with the usual mode, not the source's.
    expect(statSync(join(dst, '..')).mode & 0o777).toBe(0o755);
    expect(ops(first.stdout)).toContain('created file "new\\nline.txt"');

    const before = snapshotTree(dst);
    const second = await sync(src, dst);
    expect(second.code, second.stderr).toBe(0);
    expect(ops(second.stdout)).toEqual([]);
    const after = snapshotTree(dst);
    expect(inodeChanges(before, after)).toEqual([]);
    expect(compareTrees(before, after)).toEqual([]);
    expect(second.stdout).toMatch(/pass finished: created 0, updated 0, removed 0, failed 0, skipped 1,/);
  });

  it('a replica pre-filled with conflicting types and extra entries', async () => {
    const outside = buildTree(tempDir(), { sentinel: dir({ 'keep.txt': 'keep me' }), 'sentinel.txt': 'keep me too' });
    const sentinelDir = join(outside, 'sentinel');
    const sentinelFile = join(outside, 'sentinel.txt');
    const outsideBefore = snapshotTree(outside);
    const src = buildTree(tempDir(), {
      'dir-over-file': dir({ a: 'a' }, { mtime: OLD }),
      'dir-over-link': dir({ 'keep.txt': 'written into the replica, not the sentinel' }, { mtime: OLD }),
      'dir-over-fifo': dir({}, { mtime: OLD }),
      'file-over-dir': 'was a folder',
      'file-over-link': 'was a link',
      'file-over-fifo': 'was a fifo',
      'link-over-file': symlink('target-1'),
      'link-over-dir': symlink('target-2'),
      'link-other-target': symlink('new-target'),
      same: dir({ 'stays.txt': file('same', { mtime: OLD }) }, { mtime: OLD }),
    });
    const dst = buildTree(tempDir(), {
      'dir-over-file': 'a file',
      'dir-over-link': symlink(sentinelDir),
      'dir-over-fifo': fifo(),
      'file-over-dir': dir({ deep: dir({ x: 'x', y: symlink(sentinelFile) }) }),
      'file-over-link': symlink(sentinelFile),
      'file-over-fifo': fifo(),
      'link-over-file': 'a file',
      'link-over-dir': dir({ z: 'z' }),
      'link-other-target': symlink('old-target'),
      same: dir({ 'stays.txt': file('same', { mtime: OLD }), 'extra-inside.txt': 'x' }),
      'extra.txt': 'extra',
      'extra-dir': dir({ sub: dir({ f: 'f' }), g: 'g' }),
      'extra-link': symlink(sentinelDir),
      'extra-fifo': fifo(),
    });
    const stays = lstatSync(join(dst, 'same', 'stays.txt')).ino;
    setMtime(src, OLD); // the replica root then always needs its mtime fixed

    const r = await sync(src, dst);
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    // Nothing was written or removed through a replica symlink.
    expect(compareTrees(outsideBefore, snapshotTree(outside))).toEqual([]);
    expect(inodeChanges(outsideBefore, snapshotTree(outside))).toEqual([]);
    // An unchanged file inside a folder that also lost an extra entry is not rewritten.
    expect(lstatSync(join(dst, 'same', 'stays.txt')).ino).toBe(stays);
    const lines = ops(r.stdout);
    for (const want of [
      'removed file "dir-over-file"',
      'created dir "dir-over-file"',
      'removed symlink "dir-over-link"',
      'created dir "dir-over-link"',
      'removed fifo "dir-over-fifo"',
      'removed file "file-over-dir/deep/x"',
      'removed symlink "file-over-dir/deep/y"',
      'removed dir "file-over-dir/deep"',
      'removed dir "file-over-dir"',
      'created file "file-over-dir"',
      'removed symlink "file-over-link"',
      'created file "file-over-link"',
      'removed file "link-over-file"',
      'created symlink "link-over-file"',
      'removed dir "link-over-dir"',
      'updated symlink "link-other-target"',
      'removed file "same/extra-inside.txt"',
      'removed file "extra.txt"',
      'removed dir "extra-dir"',
      'removed symlink "extra-link"',
      'removed fifo "extra-fifo"',
    ]) {
      expect(lines).toContain(want);
    }
    // Removals inside a folder come after its copies; a folder's contents go before the folder.
    expect(lines.indexOf('removed file "extra.txt"')).toBeGreaterThan(lines.indexOf('created file "file-over-fifo"'));
    expect(lines.indexOf('removed dir "extra-dir"')).toBeGreaterThan(lines.indexOf('removed file "extra-dir/sub/f"'));
    // The summary counts exactly the lines logged (root and "same" get mtime fixes: they were just built).
    const count = (action: string): number => lines.filter((l) => l.startsWith(`${action} `)).length;
    expect([count('created'), count('updated'), count('removed')]).toEqual([10, 3, 20]);
    expect(r.stdout).toMatch(/pass finished: created 10, updated 3, removed 20, failed 0, skipped 0,/);
  });

  it('folder mtimes are restored after changes inside them, the root included', async () => {
    const src = buildTree(tempDir(), { d: dir({ a: 'a', sub: dir({ b: 'b' }, { mtime: OLD }) }, { mtime: OLD }) });
    setMtime(src, OLD);
    const dst = join(tempDir(), 'r');
    expect((await sync(src, dst)).code).toBe(0);
    // Change inside d and d/sub, then put the source folders' mtimes back: the replica must follow exactly.
    writeFileSync(join(src, 'd', 'new'), 'n');
    unlinkSync(join(src, 'd', 'sub', 'b'));
    writeFileSync(join(src, 'top'), 't');
    setMtime(join(src, 'd', 'sub'), OLD + 1);
    setMtime(join(src, 'd'), OLD + 2);
    setMtime(src, OLD + 3);
    const r = await sync(src, dst);
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    // Walk order: a folder's contents, then the folder's own metadata; a removal inside after the copies.
    expect(ops(r.stdout)).toEqual([
      'created file "d/new"',
      'removed file "d/sub/b"',
      'updated dir "d/sub" (metadata: mtime)',
      'updated dir "d" (metadata: mtime)',
      'created file "top"',
      'updated dir "." (metadata: mtime)',
    ]);
  });

  it('root folder metadata: a new replica gets the source root mode and mtime; an existing one is fixed', async () => {
    const src = buildTree(tempDir(), { f: 'f' });
    chmodSync(src, 0o711);
    setMtime(src, OLD);
    const dst = join(tempDir(), 'r');
    expect((await sync(src, dst)).code).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    chmodSync(dst, 0o755);
    const r = await sync(src, dst);
    expect(ops(r.stdout)).toEqual(['updated dir "." (metadata: mode)']);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('quick check misses a same-size same-mtime edit; --checksum re-copies it', async () => {
    const src = buildTree(tempDir(), { a: file('hello', { mtime: OLD }), b: file('other', { mtime: OLD }) });
    const dst = join(tempDir(), 'r');
    expect((await sync(src, dst)).code).toBe(0);
    writeFileSync(join(src, 'a'), 'jello');
    setMtime(join(src, 'a'), OLD);
    const quick = await sync(src, dst);
    expect(ops(quick.stdout)).toEqual([]);
    expect(readFileSync(join(dst, 'a'), 'utf8')).toBe('hello');
    const bIno = lstatSync(join(dst, 'b')).ino;
    const full = await sync(src, dst, '--checksum');
    expect(full.code, full.stderr).toBe(0);
    expect(ops(full.stdout)).toEqual(['updated file "a"']);
    expect(full.stdout).toMatch(/mode checksum/);
    expect(readFileSync(join(dst, 'a'), 'utf8')).toBe('jello');
    expect(lstatSync(join(dst, 'b')).ino).toBe(bIno); // equal contents are not re-copied
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('metadata-only differences are fixed in place, not re-copied', async () => {
    const src = buildTree(tempDir(), { a: file('same', { mtime: OLD }), b: file('same', { mtime: OLD }) });
    const dst = join(tempDir(), 'r');
    expect((await sync(src, dst)).code).toBe(0);
    const ino = inodeMap(dst);
    chmodSync(join(src, 'a'), 0o600);
    const r = await sync(src, dst);
    expect(ops(r.stdout)).toEqual(['updated file "a" (metadata: mode)']);
    expect(inodeMap(dst).get('a')).toBe(ino.get('a'));
    // With --checksum an mtime-only difference of equal contents is a metadata fix too.
    setMtime(join(src, 'b'), OLD + 60_000);
    chmodSync(join(src, 'b'), 0o640);
    const c = await sync(src, dst, '--checksum');
    expect(ops(c.stdout)).toEqual(['updated file "b" (metadata: mode, mtime)']);
    expect(inodeMap(dst).get('b')).toBe(ino.get('b'));
    expect(compareTrees(src, dst)).toEqual([]);
    // Without --checksum an mtime difference means a re-copy (quick check cannot know the bytes are equal).
    setMtime(join(src, 'b'), OLD + 120_000);
    const q = await sync(src, dst);
    expect(ops(q.stdout)).toEqual(['updated file "b"']);
    expect(inodeMap(dst).get('b')).not.toBe(ino.get('b'));
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it("leftover temporaries (named by this user's passes) are purged quietly; look-alikes are user entries; a source file with such a name is mirrored", async () => {
    const state = tempDir('fs-state-');
    const env = { FOLDER_SYNC_STATE_DIR: state };
    const mine = ownTempNames(state, 4);
    const srcTemp = '.folder-sync-partial-fedcba9876543210';
    const lookAlike = '.folder-sync-partial-0123456789abcdef0123456789abcdef';
    const src = buildTree(tempDir(), { [srcTemp]: 'real data', d: dir({ f: 'f' }) });
    const dst = buildTree(tempDir(), {
      [mine[0] as string]: 'half written',
      d: dir({ [mine[1] as string]: 'half', f: 'f' }),
      '.folder-sync-partial-0123456789abcdef': "a user file named like an older version's temporary",
      [lookAlike]: "a user file with a temporary's shape but no valid tag",
      '.folder-sync-partial-not-ours': 'a user file that only looks similar',
      [mine[3] as string]: dir({ inside: 'a user folder with a valid tag, but not as a pass makes one (0700)' }),
    });
    const r = await runSync(src, dst, [], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst, { ignoreDirMtimes: true, ignoreRoot: true })).toEqual([]);
    expect(readFileSync(join(dst, srcTemp), 'utf8')).toBe('real data');
    // Our own debris is housekeeping (not counted); user files, whatever their names, are ordinary extras.
    expect(ops(r.stdout)).toContain('removed file ".folder-sync-partial-not-ours"');
    expect(ops(r.stdout)).toContain('removed file ".folder-sync-partial-0123456789abcdef"');
    expect(ops(r.stdout)).toContain(`removed file "${lookAlike}"`);
    expect(ops(r.stdout).filter((l) => l.includes(mine[0] as string) || l.includes(mine[1] as string))).toEqual([]);
    expect(ops(r.stdout)).toContain(`removed dir "${mine[3]}"`);
    expect(r.stdout).toMatch(/removed 5,/);
    const again = await runSync(src, dst, [], { env });
    expect(ops(again.stdout)).toEqual([]);
    expect(existsSync(join(dst, srcTemp))).toBe(true);
    // Debris is not a deletion for --max-delete 0, and --verbose shows its removal as a debug line.
    writeFileSync(join(dst, 'd', mine[2] as string), 'more debris');
    const strict = await runSync(src, dst, ['--max-delete', '0', '--verbose'], { env });
    expect(strict.code, strict.stderr).toBe(0);
    expect(strict.stdout).toContain(`removed leftover temporary "d/${mine[2]}"`);
    expect(existsSync(join(dst, 'd', mine[2] as string))).toBe(false);
    // A user file with an older version's temporary name counts for --max-delete like any other.
    writeFileSync(join(dst, '.folder-sync-partial-0123456789abcdef'), 'user data');
    const refused = await runSync(src, dst, ['--max-delete', '0'], { env });
    expect(refused.code).toBe(2);
    expect(readFileSync(join(dst, '.folder-sync-partial-0123456789abcdef'), 'utf8')).toBe('user data');
  });

  it('--dry-run changes nothing and logs the same lines, marked as a dry run', async () => {
    const src = buildTree(tempDir(), { new: 'n', changed: 'changed!', d: dir({ x: 'x' }), conflict: dir({}) });
    const dst = buildTree(tempDir(), { changed: 'old', extra: dir({ y: 'y' }), conflict: 'file', d: dir({ x: 'x' }) });
    const before = snapshotTree(dst);
    const dry = await sync(src, dst, '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
    expect(inodeChanges(before, snapshotTree(dst))).toEqual([]);
    const dryLines = ops(dry.stdout);
    expect(dryLines.length).toBeGreaterThan(0);
    for (const line of dryLines) expect(line).toMatch(/\(.*dry run\)$/);
    expect(dry.stdout).toMatch(/^pass started \(dry run\)/m);
    expect(dry.stdout).toMatch(/^pass finished \(dry run\)/m);

    const real = await sync(src, dst);
    expect(real.code, real.stderr).toBe(0);
    const unmark = (l: string): string => l.replace(/, dry run\)$/, ')').replace(/ \(dry run\)$/, '');
    expect(dryLines.map(unmark)).toEqual(ops(real.stdout));
  });

  it('--dry-run into a missing replica creates nothing', async () => {
    const src = buildTree(tempDir(), { a: 'a', d: dir({ b: 'b' }) });
    const dst = join(tempDir(), 'not', 'there');
    const r = await sync(src, dst, '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dst, '..'))).toBe(false);
    expect(ops(r.stdout)).toEqual([
      'created dir "." (dry run)',
      'created file "a" (dry run)',
      'created dir "d" (dry run)',
      'created file "d/b" (dry run)',
    ]);
  });

  it('names that are not valid UTF-8 are reported as failed on either side, not silently dropped', async () => {
    const src = buildTree(tempDir(), { ok: 'ok' });
    const dst = buildTree(tempDir(), { ok: 'ok', d: dir({}) });
    const bad = (dir: string, tail: number[]): Buffer => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(tail)]);
    writeFileSync(bad(src, [0x62, 0xff, 0x31]), 'latin-1 name in the source');
    writeFileSync(bad(join(dst, 'd'), [0x62, 0xfe, 0x32]), 'latin-1 name in the replica');
    const r = await sync(src, dst);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: failed entry "b\ufffd1": the name is not valid UTF-8/m);
    expect(r.stderr).toMatch(/^error: failed entry "d\/b\ufffd2": the name is not valid UTF-8/m);
    // The replica folder holding such a name stays (its entry could not be removed by name).
    expect(existsSync(join(dst, 'd'))).toBe(true);
  });

  it('a source that changes type between passes', async () => {
    const src = buildTree(tempDir(), { x: dir({ y: 'y' }) });
    const dst = join(tempDir(), 'r');
    expect((await sync(src, dst)).code).toBe(0);
    rmSync(join(src, 'x'), { recursive: true });
    writeFileSync(join(src, 'x'), 'now a file');
    const r = await sync(src, dst);
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});

describe('sync-once guards that look at the plan', () => {
  it('--max-delete refuses before any change when the plan removes more', async () => {
    const src = buildTree(tempDir(), { keep: 'k', 'new-file': 'would be copied', conflict: dir({}) });
    const dst = buildTree(tempDir(), { keep: 'k', a: 'a', b: dir({ c: 'c' }), conflict: 'file' });
    // removals: a, b/c, b, conflict (replaced by a folder) = 4
    const before = snapshotTree(dst);
    const r = await sync(src, dst, '--max-delete', '3');
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/would remove 4 entries, more than --max-delete 3/);
    expect(r.stdout).toBe('');
    expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
    expect(inodeChanges(before, snapshotTree(dst))).toEqual([]);
    const ok = await sync(src, dst, '--max-delete', '4');
    expect(ok.code, ok.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('--max-delete 0 allows a pass that only adds', async () => {
    const src = buildTree(tempDir(), { a: 'a', d: dir({ b: 'b' }) });
    const dst = buildTree(tempDir(), { a: 'a' });
    const r = await sync(src, dst, '--max-delete', '0');
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst, { ignoreRoot: true, ignoreDirMtimes: true })).toEqual([]);
  });

  it('an empty source does not empty a non-empty replica unless --allow-empty-source', async () => {
    const src = tempDir();
    const dst = buildTree(tempDir(), { precious: 'backup', d: dir({ more: 'm' }) });
    const before = snapshotTree(dst);
    const r = await sync(src, dst);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/source .* is empty .*--allow-empty-source/);
    expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
    // A source holding only a FIFO mirrors nothing: it counts as empty.
    buildTree(src, { pipe: fifo() });
    expect((await sync(src, dst)).code).toBe(2);
    rmSync(join(src, 'pipe'));
    const allowed = await sync(src, dst, '--allow-empty-source');
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    // Empty source and empty (or missing) replica: nothing to refuse.
    expect((await sync(src, dst)).code).toBe(0);
    expect((await sync(src, join(tempDir(), 'new'))).code).toBe(0);
  });

  it('a replica holding only leftover temporaries counts as empty; one holding a look-alike user file does not', async () => {
    const state = tempDir('fs-state-');
    const [debris] = ownTempNames(state, 1);
    const src = tempDir();
    const dst = buildTree(tempDir(), { [debris as string]: 'debris' });
    const r = await runSync(src, dst, [], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dst, debris as string))).toBe(false);
    const user = buildTree(tempDir(), { '.folder-sync-partial-0123456789abcdef': 'user data' });
    const refused = await runSync(src, user, [], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/is empty but the replica .* is not/);
  });
});

describe('sync-once and the replica lock', () => {
  it('exits 75 without touching anything while another live pass holds the replica', async () => {
    const state = tempDir('fs-state-');
    const src = buildTree(tempDir(), { a: 'a' });
    const dst = buildTree(tempDir(), { old: 'old' });
    const lock = new ReplicaLock(realpathSync(dst), 'test', state);
    lock.acquire(); // held by this (live) test process
    try {
      const before = snapshotTree(dst);
      const r = await runCli(['sync-once', src, dst], { env: { FOLDER_SYNC_STATE_DIR: state } });
      expect(r.code).toBe(75);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/another pass is running on .* \(pid \d+/);
      expect(compareTrees(before, snapshotTree(dst))).toEqual([]);
      // A dry run changes nothing, so it does not need the lock.
      expect((await runCli(['sync-once', src, dst, '--dry-run'], { env: { FOLDER_SYNC_STATE_DIR: state } })).code).toBe(0);
    } finally {
      lock.release();
    }
    const r = await runCli(['sync-once', src, dst], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(r.code, r.stderr).toBe(0);
  });
});
