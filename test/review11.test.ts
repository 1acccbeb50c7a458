/**
 * Review 11 (issue 16's updates renamed over their old copies beside the walk, src/sync/walk-late.ts): found bugs,
 * each with the pass that shows it, then attacks that held. Passes with the mechanism on, as it runs (`now`: each
 * rename starts on libuv's thread pool at once) and with every rename still pending while the walk goes on
 * (`late`: FOLDER_SYNC_TEST_COPY_LATE=1, the rename starts only when the pass comes back for it), are compared
 * with passes that rename in the pass's own calls (`inCall`: FOLDER_SYNC_RENAME_LATER=0): the same log lines in
 * the same order, the same exit code, the same replica, no temporaries. Each pass that should use the mechanism
 * is checked to have used it (its --verbose debug line), so none of these compares a path with itself.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, type CliResult } from './_cli.js';
import { canMount, mountFs } from './_mounts.js';
import { buildTree, bytes, compareTrees, giveToTestUser, snapshotTree, tempDir, type Spec } from './_tree.js';
import { tempsIn } from './faults/_faults.js';

type Env = Record<string, string>;
const late: Env = { FOLDER_SYNC_TEST_COPY_LATE: '1' };
const now: Env = {};
const inCall: Env = { FOLDER_SYNC_RENAME_LATER: '0' };
const MODES: readonly (readonly [string, Env])[] = [
  ['late', late],
  ['now', now],
];

/** Operation lines, failures and skips included, in the order printed (stdout and stderr are separate streams). */
const ops = (r: CliResult): string[] => (r.stdout + r.stderr).split('\n').filter((l) => /^(\w+: )?(created|updated|removed|skipped|failed) /.test(l));
const problems = (r: CliResult): string[] => (r.stdout + r.stderr).split('\n').filter((l) => /(^|^\w+: )(skipped|failed) |EMFILE/.test(l));
/** How many updates the pass renamed beside the walk (its --verbose debug line), 0 when none. */
const beside = (r: CliResult): number =>
  Number(/(\d+) updated files renamed over their old copies beside the walk/.exec(r.stdout + r.stderr)?.[1] ?? 0);
const T2001 = 978_307_200; // 2001-01-01, seconds

/** `count` files of a few bytes each, their contents tagged (a new tag: a new size, so an update). */
function files(count: number, tag: string): Spec {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${String(i).padStart(3, '0')}`, `${tag} ${i} `.repeat((i % 5) + 1)]));
}

/** Rewrite every file directly in `dir` with new contents (a new size: an update), leaving the folder's own time. */
function rewrite(dir: string, tag: string): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (lstatSync(path).isFile()) writeFileSync(path, `${tag} ${name} `.repeat(3));
  }
}

describe('found by review 11', () => {
  it('100 updates in one folder under 40 open files: no EMFILE, as when each is renamed in the pass’s own calls', async () => {
    // Before: each pending update kept an O_PATH handle on its old copy (free-later.ts) until the pipeline
    // settled it, which happens only once MAX_QUEUED (64) things are queued: up to 63 descriptors, so every copy
    // past the limit failed with EMFILE (exit 1) where renaming in the pass's own calls needs one at a time.
    // Now such handles are held up to an eighth of the descriptor limit (free-later.ts MAX_HELD), here 5.
    const src = buildTree(tempDir('fs-r11-fds-src-'), { d: files(100, 'one'), top: files(3, 'one') });
    const dsts = ['late', 'now', 'call'].map((n) => join(tempDir(`fs-r11-fds-${n}-`), 'rep'));
    for (const d of dsts) expect((await runCli(['sync-once', src, d])).code).toBe(0);
    rewrite(join(src, 'd'), 'two, longer');
    rewrite(join(src, 'top'), 'two, longer');
    for (const [i, env] of [late, now, inCall].entries()) {
      const dst = dsts[i] as string;
      const r = await runCli(['sync-once', src, dst, '--verbose'], { env, openFiles: 40 });
      expect({ env, out: problems(r), code: r.code }).toEqual({ env, out: [], code: 0 });
      expect(beside(r)).toBe(env === inCall ? 0 : 103);
      expect(compareTrees(src, dst)).toEqual([]);
      expect(tempsIn(dst)).toEqual([]);
    }
  });

  it('while the pass waits for a rename, callbacks and signal handlers see the process’s own working folder', async () => {
    // Before: the wait for a pending rename (walk-late.ts settle) turned the event loop with the working folder
    // still pinned in a replica folder (access.ts: pinned only for synchronous stretches; every other wait of the
    // pass, helper-thread.ts `finished`, puts the process's own back first). test/_cwd-watch.mjs checks it at
    // every turn of the loop.
    const src = buildTree(tempDir('fs-r11-cwd-src-'), { a: files(5, 'one'), b: { c: files(4, 'one') }, z: files(3, 'one') });
    const dst = join(tempDir('fs-r11-cwd-dst-'), 'rep');
    expect((await runCli(['sync-once', src, dst])).code).toBe(0);
    for (const d of ['a', 'b/c', 'z']) rewrite(join(src, d), 'two, longer');
    const env = { ...late, NODE_OPTIONS: `--import ${join(import.meta.dirname, '_cwd-watch.mjs')}` };
    const r = await runCli(['sync-once', src, dst, '--verbose'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(beside(r)).toBe(12);
    expect(r.stderr).toMatch(/cwd checked at \d+ turns/);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('cwd moved'))).toEqual([]);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it.skipIf(!canMount)('a nearly full replica disk (xfs): what fits one file at a time fits, as when renamed in the pass’s own calls', async () => {
    // 30 files of 256 KiB replaced in one folder, then 3 new ones, with 1.125 MiB free. Renamed in the pass's own
    // calls, each old copy goes as its new one comes. Before: pending renames kept their old copies (an O_PATH
    // handle each until the pipeline settled them; with the test hook, the renames themselves waited), so the
    // replica needed room for every new copy at once: "disk is full", exit 1, half the files old. Now a full disk
    // while renames are pending settles them, waits until their old copies' handles are closed (the blocks
    // freed), and the copy is made once more.
    const mounted = mountFs('xfs');
    const src = tempDir('fs-r11-full-src-');
    const dst = join(mounted.path, 'rep');
    const filler = join(mounted.path, 'filler');
    const version = (v: number): void => {
      mkdirSync(join(src, 'd'), { recursive: true });
      for (let i = 0; i < 30; i++) writeFileSync(join(src, 'd', `f${String(i).padStart(2, '0')}`), bytes(256 << 10, v * 100 + i + 1));
      // New files after the updates (fewer than a batch: copied by the pass itself), in the second version only.
      for (let i = 0; i < 3; i++) {
        if (v === 2) writeFileSync(join(src, 'd', `n${i}`), bytes(256 << 10, 900 + i));
        else rmSync(join(src, 'd', `n${i}`), { force: true });
      }
      utimesSync(join(src, 'd'), T2001, T2001);
    };
    // The reference renames and frees in its own calls (FOLDER_SYNC_FREE_LATER=0): nothing there depends on when
    // the thread pool runs. The last pass's handles on old copies are closed 32 loop turns late (a busy thread pool,
    // test/_review11-slow-close.mjs): the copy made again must wait until they are, not only until they are asked.
    const slowClose = { NODE_OPTIONS: `--import ${join(import.meta.dirname, '_review11-slow-close.mjs')}` };
    for (const env of [{ ...inCall, FOLDER_SYNC_FREE_LATER: '0' }, now, late, { ...late, ...slowClose }]) {
      rmSync(dst, { recursive: true, force: true });
      rmSync(filler, { force: true });
      version(1);
      expect((await runCli(['sync-once', src, dst])).code).toBe(0);
      version(2);
      const free = statfsSync(mounted.path);
      execFileSync('fallocate', ['-l', String(free.bavail * free.bsize - (1152 << 10)), filler]);
      const r = await runCli(['sync-once', src, dst, '--verbose'], { env });
      expect({ env, out: problems(r), code: r.code }).toEqual({ env, out: [], code: 0 });
      expect(r.stdout).toMatch(/pass finished: created 3, updated 30, removed 0, failed 0/);
      expect(beside(r)).toBe(env.FOLDER_SYNC_RENAME_LATER === '0' ? 0 : 30);
      expect(compareTrees(src, dst)).toEqual([]);
      expect(tempsIn(dst)).toEqual([]);
    }
  });
});

describe('attacks that held (review 11)', () => {
  /**
   * Updates at the top, in nested and read-only folders, one folder of 70 (past MAX_QUEUED), between them
   * removals, a new folder with a batch, a metadata-only change, a folder removed after updates.
   */
  function tree(): Spec {
    return {
      'top.txt': 'top one',
      'same.txt': 'same',
      a: { ...files(6, 'one'), ro: files(5, 'one'), gone: 'removed later' },
      b: { deep: { deeper: files(4, 'one') } },
      many: files(70, 'one'),
      old: files(3, 'old'),
      z: files(4, 'one'),
    };
  }
  function change(src: string): void {
    chmodSync(join(src, 'a', 'ro'), 0o755);
    for (const d of ['', 'a', 'a/ro', 'b/deep/deeper', 'many', 'z']) rewrite(join(src, d), 'two, longer');
    writeFileSync(join(src, 'same.txt'), 'same'); // same contents and size, a new mtime: copied again
    rmSync(join(src, 'a', 'gone'));
    rmSync(join(src, 'old'), { recursive: true });
    buildTree(src, { n: files(12, 'new') }); // a batch for the copy helper, after updates
    chmodSync(join(src, 'a', 'ro'), 0o555);
    for (const d of ['a', 'a/ro', 'b', 'b/deep', 'b/deep/deeper', 'many', 'n', 'z']) utimesSync(join(src, d), T2001, T2001);
    chmodSync(join(src, 'b', 'deep'), 0o555);
    utimesSync(src, T2001, T2001);
  }

  const where: { name: string; fs?: 'xfs' | 'btrfs'; asUser?: boolean; flags?: string[] }[] = [
    { name: 'on this disk' },
    { name: 'with --checksum', flags: ['--checksum'] },
    { name: 'with --exclude', flags: ['--exclude', 'f06*'] },
    { name: 'as the unprivileged user', asUser: true },
    { name: 'on xfs', fs: 'xfs' },
    { name: 'on btrfs', fs: 'btrfs' },
  ];
  for (const c of where) {
    it.skipIf(c.fs !== undefined && !canMount)(
      `an incremental pass ${c.name}: the same lines, exit code and replica as renaming in its own calls`,
      async () => {
        const base = c.fs ? mountFs(c.fs).path : undefined;
        const folder = (p: string): string => {
          if (!base) return tempDir(`fs-r11-eq-${p}-`, { forUser: c.asUser });
          const d = join(base, p);
          mkdirSync(d);
          return d;
        };
        const src = buildTree(folder('src'), tree());
        chmodSync(join(src, 'a', 'ro'), 0o555);
        if (c.asUser) giveToTestUser(src);
        const dsts = ['late', 'now', 'call'].map((n) => join(folder(n), 'rep'));
        const run = (dst: string, env: Env) => runCli(['sync-once', src, dst, '--verbose', ...(c.flags ?? [])], { env, asUser: c.asUser });
        for (const d of dsts) expect((await run(d, inCall)).code).toBe(0);
        change(src);
        const ref = await run(dsts[2] as string, inCall);
        expect(ref.code, ref.stderr).toBe(0);
        expect(beside(ref)).toBe(0);
        // Excluded names are neither copied nor removed: not in the replicas.
        const excluded = (p: string): boolean => c.flags?.includes('--exclude') === true && /\/f06\d$/.test(p);
        expect(compareTrees(src, dsts[2] as string, { ignore: excluded })).toEqual([]);
        for (const [i, [mode, env]] of MODES.entries()) {
          const dst = dsts[i] as string;
          const r = await run(dst, env);
          expect({ mode, code: r.code, problems: problems(r) }).toEqual({ mode, code: 0, problems: [] });
          expect(beside(r), mode).toBeGreaterThanOrEqual(70);
          expect(ops(r)).toEqual(ops(ref));
          expect(compareTrees(dst, dsts[2] as string)).toEqual([]);
          expect(tempsIn(dst)).toEqual([]);
        }
      },
    );
  }

  it('an update’s target replaced by a folder right before its rename: the same failure, replica and exit code', async () => {
    // test/_review11-swap.mjs wraps fs.rename and fs.renameSync: the folder appears at the same point of either
    // way of renaming. The rename fails (EISDIR) at settle time beside the walk, handled as a failed install.
    const src = buildTree(tempDir('fs-r11-swap-src-'), { a: files(5, 'one'), b: files(3, 'one') });
    const dsts = ['late', 'now', 'call'].map((n) => join(tempDir(`fs-r11-swap-${n}-`), 'rep'));
    for (const d of dsts) expect((await runCli(['sync-once', src, d])).code).toBe(0);
    rewrite(join(src, 'a'), 'two, longer');
    rewrite(join(src, 'b'), 'two, longer');
    const hook = { NODE_OPTIONS: `--import ${join(import.meta.dirname, '_review11-swap.mjs')}`, FOLDER_SYNC_TEST_SWAP: 'dir:f002' };
    const results: CliResult[] = [];
    for (const [i, env] of [late, now, inCall].entries()) {
      const r = await runCli(['sync-once', src, dsts[i] as string, '--verbose'], { env: { ...env, ...hook } });
      expect(r.stderr).toContain('test hook: dir f002');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^error: failed file "a\/f002": is a directory \(EISDIR\)$/m);
      expect(readFileSync(join(dsts[i] as string, 'a', 'f002', 'inside'), 'utf8')).toBe('put there by the test');
      expect(tempsIn(dsts[i] as string)).toEqual([]);
      results.push(r);
    }
    expect(beside(results[0] as CliResult)).toBe(7); // 8 handed over, the failed one not counted as renamed
    expect(ops(results[0] as CliResult)).toEqual(ops(results[2] as CliResult));
    expect(ops(results[1] as CliResult)).toEqual(ops(results[2] as CliResult));
    // The test's own folder (made at its own time) aside.
    const theirs = { ignore: (p: string) => p.startsWith('a/f002') };
    expect(compareTrees(dsts[0] as string, dsts[2] as string, theirs)).toEqual([]);
    expect(compareTrees(dsts[1] as string, dsts[2] as string, theirs)).toEqual([]);
  });

  it('a replica folder moved out of the replica while its updates are pending: the same files in it, nothing more, exit 1', async () => {
    // As test/faults/hostile.test.ts for new files: test/_mid-copy.mjs moves the replica's `sub` out while the
    // pass reads sub/f003. Its pending renames are made in the folder they were copied into (the temporaries are
    // in it), exactly the files renamed in the pass's own calls; nothing after, its time not set.
    const runs: { moved: string; r: CliResult }[] = [];
    for (const env of [late, now, { ...inCall, FOLDER_SYNC_COPY_THREAD: '0' }]) {
      const src = buildTree(tempDir('fs-r11-move-src-'), { a: 'a', sub: files(20, 'one') });
      const dst = join(tempDir('fs-r11-move-dst-'), 'rep');
      expect((await runCli(['sync-once', src, dst])).code).toBe(0);
      rewrite(join(src, 'sub'), 'two, longer');
      utimesSync(join(src, 'sub'), T2001, T2001);
      const moved = join(tempDir('fs-r11-outside-'), 'moved');
      const hook = {
        NODE_OPTIONS: `--import ${join(import.meta.dirname, '_mid-copy.mjs')}`,
        FOLDER_SYNC_TEST_MID_COPY: `move:${join(src, 'sub', 'f003')}`,
        FOLDER_SYNC_TEST_MOVE_FROM: join(dst, 'sub'),
        FOLDER_SYNC_TEST_MOVE_TO: moved,
      };
      const r = await runCli(['sync-once', src, dst], { env: { ...env, ...hook } });
      expect(r.stderr).toMatch(/^test hook: move /m);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/failed dir "sub": it was moved or replaced while the pass ran; nothing more was written into it or below it/);
      expect(Math.floor(statSync(moved).mtimeMs)).not.toBe(T2001 * 1000);
      expect(tempsIn(moved)).toEqual([]);
      runs.push({ moved, r });
    }
    const contents = (dir: string): string[] => readdirSync(dir).map((n) => `${n}: ${readFileSync(join(dir, n), 'utf8')}`);
    const ref = runs[2] as { moved: string; r: CliResult };
    expect(contents(ref.moved).filter((l) => l.includes('two, longer'))).toHaveLength(4); // f000-f003
    for (const run of runs.slice(0, 2)) {
      expect(contents(run.moved)).toEqual(contents(ref.moved));
      expect(ops(run.r)).toEqual(ops(ref.r));
    }
  });

  it('a replica folder swapped for a link to elsewhere at an update’s rename: nothing is written there, in any mode', async () => {
    // test/_review11-swap.mjs moves the replica's `sub` out and puts a link to another folder at its name right
    // before the rename of sub/f003: on the pass's thread (inCall), at the step beside the walk (now: the same
    // point of the walk), or when the pass comes back for it (late: every rename of `sub` still to come). Each
    // rename goes into the folder that was opened (named through its handle), never through the link.
    const runs: { moved: string; r: CliResult }[] = [];
    for (const env of [inCall, now, late]) {
      const src = buildTree(tempDir('fs-r11-link-src-'), { a: 'a', sub: files(20, 'one') });
      const dst = join(tempDir('fs-r11-link-dst-'), 'rep');
      expect((await runCli(['sync-once', src, dst])).code).toBe(0);
      rewrite(join(src, 'sub'), 'two, longer');
      utimesSync(join(src, 'sub'), T2001, T2001);
      const outside = tempDir('fs-r11-link-out-');
      const target = join(outside, 'target');
      mkdirSync(target);
      buildTree(target, files(20, 'theirs'));
      const theirs = snapshotTree(target);
      const moved = join(outside, 'moved');
      const hook = {
        NODE_OPTIONS: `--import ${join(import.meta.dirname, '_review11-swap.mjs')}`,
        FOLDER_SYNC_TEST_SWAP: 'link:f003',
        FOLDER_SYNC_TEST_MOVE_FROM: join(dst, 'sub'),
        FOLDER_SYNC_TEST_MOVE_TO: moved,
        FOLDER_SYNC_TEST_LINK_TO: target,
      };
      const r = await runCli(['sync-once', src, dst], { env: { ...env, ...hook } });
      expect(r.stderr).toContain('test hook: link f003');
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/failed dir "sub": it was moved or replaced while the pass ran; nothing more was written into it or below it/);
      expect(compareTrees(theirs, snapshotTree(target))).toEqual([]); // not one byte, name, mode or time
      expect(lstatSync(join(dst, 'sub')).isSymbolicLink()).toBe(true);
      expect(tempsIn(moved)).toEqual([]);
      expect(Math.floor(statSync(moved).mtimeMs)).not.toBe(T2001 * 1000);
      runs.push({ moved, r });
    }
    const contents = (dir: string): string[] => readdirSync(dir).map((n) => `${n}: ${readFileSync(join(dir, n), 'utf8')}`);
    const [call, atOnce, pendingAll] = runs as [(typeof runs)[0], (typeof runs)[0], (typeof runs)[0]];
    expect(contents(call.moved).filter((l) => l.includes('two, longer'))).toHaveLength(4); // f000-f003
    expect(contents(atOnce.moved)).toEqual(contents(call.moved));
    expect(ops(atOnce.r)).toEqual(ops(call.r));
    // With the test hook the link came only once every update of `sub` was copied: all are renamed in `moved`.
    expect(contents(pendingAll.moved).filter((l) => l.includes('two, longer'))).toHaveLength(20);
  });

  it('`run` stopped by SIGTERM with updates pending: each one handed over is installed and logged, none torn, no temporaries', async () => {
    // Five folders of updates (all still pending with the test hook), then a 4 MiB update the pass copies while
    // SIGTERM arrives (test/_mid-copy.mjs): it stops right after it, with every pending rename made first.
    const spec: Spec = {};
    for (const d of ['a', 'b', 'c', 'd', 'e']) spec[d] = files(10, 'one');
    spec['m'] = { big: bytes(4 << 20, 1), ...files(20, 'zz') };
    const updated: string[][] = [];
    for (const env of [late, now, { ...inCall, FOLDER_SYNC_COPY_THREAD: '0' }]) {
      const src = buildTree(tempDir('fs-r11-term-src-'), spec);
      const big = join(src, 'm', 'big');
      const dst = join(tempDir('fs-r11-term-dst-'), 'rep');
      expect((await runCli(['sync-once', src, dst])).code).toBe(0);
      for (const d of ['a', 'b', 'c', 'd', 'e', 'm']) rewrite(join(src, d), 'two, longer');
      writeFileSync(big, bytes(4 << 20, 2));
      const log = join(tempDir('fs-r11-term-log-'), 'run.log');
      const hook = { NODE_OPTIONS: `--import ${join(import.meta.dirname, '_mid-copy.mjs')}`, FOLDER_SYNC_TEST_MID_COPY: `sigterm:${big}` };
      const r = await runCli(['run', src, dst, '1', 'hours', log], { env: { ...env, ...hook } });
      expect(r.stderr).toContain(`test hook: sigterm ${big} (1)`);
      expect(r.code, r.stderr).toBe(0);
      const text = readFileSync(log, 'utf8');
      expect(text).toMatch(/pass stopped: the pass was interrupted/);
      updated.push(text.split('\n').flatMap((l) => /updated file "([^"]+)"/.exec(l)?.[1] ?? []));
      expect(tempsIn(dst)).toEqual([]);
      expect(compareTrees(src, dst, { ignore: (p) => p === '.' || p.startsWith('m') })).toEqual([]);
      expect(readFileSync(join(dst, 'm', 'big')).equals(readFileSync(big))).toBe(true);
    }
    const expected = [
      ...['a', 'b', 'c', 'd', 'e'].flatMap((d) => Array.from({ length: 10 }, (_, i) => `${d}/f${String(i).padStart(3, '0')}`)),
      'm/big',
    ];
    expect(updated).toEqual([expected, expected, expected]);
  });
});
