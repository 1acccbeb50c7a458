/**
 * A folder *above* a replica folder moved out of the replica while the pass writes below it (review 15's finding,
 * src/sync/walk-replica.ts `Place.above`). The walk's handles go with a moved folder, and the replica folder's own
 * `..` does not change when a folder higher up moves; so before each change the pass also checks the `..` of each
 * folder above that someone other than its user could move (here: the replica's `pub` is 0777, as its source's
 * is, so anyone can move `pub/u` away). The move is made at an exact point (test/_mid-copy.mjs: when the pass
 * has read the first block of `pub/u/.../f003`), not by a race.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import type { LogObject } from 'consola';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger, type LogEvent } from '../../src/log.js';
import { OpenFolder } from '../../src/sync/access.js';
import { syncOnce } from '../../src/sync/sync-once.js';
import { placeIn } from '../../src/sync/walk-replica.js';
import { runCli } from '../_cli.js';
import { buildTree, compareTrees, giveToTestUser, isRoot, snapshotTree, tempDir, type Spec } from '../_tree.js';
import { tempsIn } from '../faults/_faults.js';

type Env = Record<string, string>;
const MOVED = /failed dir "pub\/u": it was moved or replaced while the pass ran; nothing more was written into it or below it/;

/** `count` files of a few bytes each, their contents tagged. */
function files(count: number, tag: string): Spec {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${String(i).padStart(3, '0')}`, `${tag} ${i} `.repeat((i % 5) + 1)]));
}

/** The preload that moves the replica's `pub/u` to `to` once the pass has read the first block of `file`. */
function moveAt(file: string, dst: string, to: string): Env {
  return {
    NODE_OPTIONS: `--import ${join(import.meta.dirname, '..', '_mid-copy.mjs')}`,
    FOLDER_SYNC_TEST_MID_COPY: `move:${file}`,
    FOLDER_SYNC_TEST_MOVE_FROM: join(dst, 'pub', 'u'),
    FOLDER_SYNC_TEST_MOVE_TO: to,
  };
}

/** A source `pub` (0777) with `pub/u/sub` of 20 files, mirrored once: the replica's `pub` is 0777 too. */
async function mirrored(): Promise<{ src: string; dst: string; away: string }> {
  const src = buildTree(tempDir('fs-anc-src-'), { pub: { u: { sub: files(20, 'one') } } });
  chmodSync(join(src, 'pub'), 0o777);
  const dst = join(tempDir('fs-anc-dst-'), 'rep');
  const first = await runCli(['sync-once', src, dst]);
  expect(first.code, first.stderr).toBe(0);
  return { src, dst, away: join(tempDir('fs-anc-away-'), 'u') };
}

const contents = (dir: string): string[] => readdirSync(dir).map((n) => readFileSync(join(dir, n), 'utf8'));

describe('a folder above the replica folder being written, moved out of the replica mid-pass', () => {
  it.each([
    ['in the pass’s own calls', { FOLDER_SYNC_RENAME_LATER: '0' }],
    ['renamed beside the walk', {}],
    ['renamed when the pass comes back for them', { FOLDER_SYNC_TEST_COPY_LATE: '1' }],
  ] as [string, Env][])('updates (%s): those made before the move are there, nothing after; the moved folder is reported', async (_, mode) => {
    const { src, dst, away } = await mirrored();
    for (let i = 0; i < 20; i++) buildTree(join(src, 'pub', 'u', 'sub'), { [`f${String(i).padStart(3, '0')}`]: `two, longer ${i}` });
    const r = await runCli(['sync-once', src, dst], { env: { ...mode, ...moveAt(join(src, 'pub', 'u', 'sub', 'f003'), dst, away) } });
    expect(r.stderr).toMatch(/^test hook: move /m);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(MOVED);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    // f000-f003 were updated before the move was seen (f003 was being copied); the 16 after it were not.
    const there = contents(join(away, 'sub'));
    expect(there.filter((c) => c.startsWith('two')).length).toBe(4);
    expect(there.filter((c) => c.startsWith('one')).length).toBe(16);
    expect(tempsIn(away)).toEqual([]);
    // The next pass puts a new copy in place and does not touch the moved folder.
    const before = snapshotTree(away);
    const next = await runCli(['sync-once', src, dst]);
    expect(next.code, next.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(compareTrees(before, snapshotTree(away))).toEqual([]);
  });

  it('renamed within its own folder (still in the replica): the writes below it go on there', async () => {
    // The quick check (the folder's path, folder-guards.ts) sees a new path; the links checked one by one still
    // hold, so it goes on as before the quick check, and the path is taken as the new one. (What was written
    // stays in the replica; the next pass mirrors `u` again and removes `u-renamed`.)
    const { src, dst } = await mirrored();
    for (let i = 0; i < 20; i++) buildTree(join(src, 'pub', 'u', 'sub'), { [`f${String(i).padStart(3, '0')}`]: `two, longer ${i}` });
    const renamed = join(dst, 'pub', 'u-renamed');
    const r = await runCli(['sync-once', src, dst], {
      env: { FOLDER_SYNC_RENAME_LATER: '0', ...moveAt(join(src, 'pub', 'u', 'sub', 'f003'), dst, renamed) },
    });
    expect(r.stderr).toMatch(/^test hook: move /m);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/failed/);
    expect(contents(join(renamed, 'sub')).filter((c) => c.startsWith('two'))).toHaveLength(20);
    expect((await runCli(['sync-once', src, dst])).code).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('a path seen while the folder was out is never trusted later: moved out for good, nothing more lands there', async () => {
    // Review 16 of the quick check (folder-guards.ts): a path read while `pub/u` was out (test/_stale-path.mjs
    // moves it out around that read and back before the folders above are checked) was kept as the one to trust,
    // so once `pub/u` was moved there for good, the rest of the updates landed outside. Now only the path where
    // the folder belongs is trusted.
    const { src, dst, away } = await mirrored();
    for (let i = 0; i < 20; i++) buildTree(join(src, 'pub', 'u', 'sub'), { [`f${String(i).padStart(3, '0')}`]: `two, longer ${i}` });
    const env = {
      FOLDER_SYNC_RENAME_LATER: '0',
      NODE_OPTIONS: `--import ${join(import.meta.dirname, '..', '_stale-path.mjs')}`,
      FOLDER_SYNC_TEST_MOVE_FROM: join(dst, 'pub', 'u'),
      FOLDER_SYNC_TEST_MOVE_TO: away,
    };
    const r = await runCli(['sync-once', src, dst], { env });
    expect(r.stderr).toMatch(/^test hook: path seen while moved out: /m);
    expect(r.stderr).toMatch(/^test hook: moved out for good$/m);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(MOVED);
    expect(contents(join(away, 'sub')).filter((c) => c.startsWith('two')).length).toBeLessThanOrEqual(1);
  });

  it('new files in a new folder, on one thread: at most the file being copied lands below the moved folder', async () => {
    const { src, dst, away } = await mirrored();
    buildTree(join(src, 'pub', 'u'), { new: files(20, 'new') });
    const env = { FOLDER_SYNC_COPY_THREAD: '0', ...moveAt(join(src, 'pub', 'u', 'new', 'f003'), dst, away) };
    const r = await runCli(['sync-once', src, dst], { env });
    expect(r.stderr).toMatch(/^test hook: move /m);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(MOVED);
    // The new folder was being built under a temporary name (walk-build.ts): it stays so, not renamed into place
    // where it went, with f000-f003 in it and nothing after.
    const moved = readdirSync(away).filter((n) => n !== 'sub');
    expect(moved).toHaveLength(1);
    expect(moved[0]).toMatch(/^\.folder-sync-partial-/);
    expect(readdirSync(join(away, moved[0] as string)).sort()).toEqual(['f000', 'f001', 'f002', 'f003']);
    const next = await runCli(['sync-once', src, dst]);
    expect(next.code, next.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it('new files copied on both threads: both check before each file, so the rest of the 20 do not land there', async () => {
    const { src, dst, away } = await mirrored();
    buildTree(join(src, 'pub', 'u'), { new: files(20, 'new') });
    const r = await runCli(['sync-once', src, dst, '--verbose'], { env: moveAt(join(src, 'pub', 'u', 'new', 'f003'), dst, away) });
    expect(r.stderr).toMatch(/^test hook: move /m);
    expect(r.stdout).toMatch(/copied \d+ new files in 1 batch/);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(MOVED);
    const built = readdirSync(away).filter((n) => n !== 'sub');
    const landed = built.flatMap((n) => readdirSync(join(away, n)));
    expect(landed).toContain('f003');
    expect(landed.length).toBeLessThan(20);
  });

  it('files the copy helper left to the pass: it checks before each one too, so none after the move lands there', async () => {
    // Review 16: the pass copied what the helper left (test/_copy-helper-leaving.mjs leaves every file; with
    // FOLDER_SYNC_TEST_COPY_LATE the pass takes none itself) without looking at the folders above again.
    const { src, dst, away } = await mirrored();
    for (let i = 0; i < 20; i++) buildTree(join(src, 'pub', 'u', 'sub'), { [`n${String(i).padStart(3, '0')}`]: `new ${i}` });
    const hook = moveAt(join(src, 'pub', 'u', 'sub', 'n003'), dst, away);
    const env = {
      ...hook,
      NODE_OPTIONS: `${hook.NODE_OPTIONS} --import ${join(import.meta.dirname, '..', '_copy-helper-dies.mjs')}`,
      FOLDER_SYNC_TEST_DYING_HELPER: './_copy-helper-leaving.mjs',
      FOLDER_SYNC_TEST_COPY_LATE: '1',
    };
    const r = await runCli(['sync-once', src, dst, '--verbose'], { env });
    expect(r.stderr).toMatch(/^test hook: move /m);
    expect(r.stdout).toMatch(/copied \d+ new files in 1 batch/);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(MOVED);
    expect(
      readdirSync(join(away, 'sub'))
        .filter((n) => n.startsWith('n'))
        .sort(),
    ).toEqual(['n000', 'n001', 'n002', 'n003']);
    expect(tempsIn(away)).toEqual([]);
  });

  it('a folder being removed below it: the removal stops there (the rest stays where the folder went), one error line', async () => {
    // Review 16: a removal went on through the moved folder's handles. Through the API, whose logger moves the
    // replica's `pub/u` when the pass reports `pub/u/old/d05` removed.
    const { src, dst, away } = await mirrored();
    const old: Spec = {};
    for (let i = 0; i < 20; i++) old[`d${String(i).padStart(2, '0')}`] = files(3, 'old');
    buildTree(join(dst, 'pub', 'u'), { old });
    let movedAt = '';
    const logger = createLogger([
      {
        log(obj: LogObject) {
          const e = obj['event'] as LogEvent | undefined;
          if (!movedAt && e?.type === 'op' && e.path === 'pub/u/old/d05') {
            renameSync(join(dst, 'pub', 'u'), away);
            movedAt = e.path;
          }
        },
      },
    ]);
    const result = await syncOnce(src, dst, { logger });
    expect(movedAt).toBe('pub/u/old/d05');
    expect(result.exitCode).toBe(1);
    // d00-d05 were removed before the move; d06 on stay, whole, where the folder went.
    expect(readdirSync(join(away, 'old')).sort()).toEqual(Array.from({ length: 14 }, (_, i) => `d${String(i + 6).padStart(2, '0')}`));
    for (const d of readdirSync(join(away, 'old'))) expect(readdirSync(join(away, 'old', d))).toHaveLength(3);
  });
});

describe('which folders above are checked (walk-replica.ts placeIn)', () => {
  /** The place of `c` opened in `p` (mode `mode`) under a fresh top, as the walk makes it; `uid`: `c`'s owner as listed. */
  function placeOf(mode: number, uid?: number): { movable: boolean; above: readonly unknown[] } {
    const top = tempDir('fs-anc-place-');
    mkdirSync(join(top, 'p', 'c'), { recursive: true });
    chmodSync(join(top, 'p'), mode);
    const root = OpenFolder.openRoot(top);
    const p = root.openChild('p');
    const c = p.openChild('c');
    try {
      placeIn(root, 'p', p, undefined, '', top);
      const at = placeIn(p, 'c', c, uid, 'p', join(top, 'p'));
      return { movable: at.movable, above: at.above }; // read while the folders are open (worked out on first use)
    } finally {
      [c, p, root].forEach((f) => f.close());
    }
  }

  it('a folder only the pass’s user can write: its entries are not movable by others, and nothing above is checked', () => {
    const at = placeOf(0o755);
    expect(at.movable).toBe(false);
    expect(at.above).toEqual([]);
  });

  it('a folder others can write: its entries are movable; a sticky one only those not the pass user’s own', () => {
    expect(placeOf(0o777).movable).toBe(true);
    expect(placeOf(0o1777).movable).toBe(false);
    expect(placeOf(0o1777, (process.geteuid?.() ?? 0) + 4242).movable).toBe(true);
  });

  it('below a movable folder, that folder is checked too, with the folder it was opened in', () => {
    const top = tempDir('fs-anc-chain-');
    mkdirSync(join(top, 'pub', 'u', 'd'), { recursive: true });
    chmodSync(join(top, 'pub'), 0o777);
    const root = OpenFolder.openRoot(top);
    const pub = root.openChild('pub');
    const u = pub.openChild('u');
    const d = u.openChild('d');
    placeIn(root, 'pub', pub, undefined, '', top);
    const atU = placeIn(pub, 'u', u, undefined, 'pub', join(top, 'pub'));
    const atD = placeIn(u, 'd', d, undefined, 'pub/u', join(top, 'pub', 'u'));
    expect(atU.movable).toBe(true);
    expect(atD.movable).toBe(false);
    expect(atD.above.map((l) => [l.folder, l.parent, l.rel])).toEqual([[u, pub, 'pub/u']]);
    [d, u, pub, root].forEach((f) => f.close());
  });

  it('the quick check (the folder found at its own path) only below a top no one else can move', () => {
    const fixed = tempDir('fs-anc-fixed-');
    mkdirSync(join(fixed, 'p', 'c'), { recursive: true });
    const open = tempDir('fs-anc-open-');
    mkdirSync(join(open, 'top', 'p', 'c'), { recursive: true });
    chmodSync(open, 0o777); // anyone could move `top` (the replica's top) away
    for (const [top, quick] of [
      [fixed, true],
      [join(open, 'top'), false],
    ] as const) {
      const root = OpenFolder.openRoot(top);
      const p = root.openChild('p');
      const c = p.openChild('c');
      placeIn(root, 'p', p, undefined, '', top);
      const at = placeIn(p, 'c', c, undefined, 'p', join(top, 'p'));
      expect(at.path?.toString()).toBe(quick ? join(top, 'p', 'c') : undefined);
      [c, p, root].forEach((f) => f.close());
    }
  });

  it.runIf(isRoot)('a folder owned by another user: its entries are movable by them (they can give themselves the right)', () => {
    const top = tempDir('fs-anc-owner-');
    mkdirSync(join(top, 'p', 'c'), { recursive: true });
    giveToTestUser(join(top, 'p'));
    chmodSync(join(top, 'p'), 0o755);
    const root = OpenFolder.openRoot(top);
    const p = root.openChild('p');
    const c = p.openChild('c');
    expect(placeIn(p, 'c', c, 0, 'p', join(top, 'p')).movable).toBe(true);
    [c, p, root].forEach((f) => f.close());
  });
});
