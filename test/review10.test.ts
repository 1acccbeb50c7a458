/**
 * Review 10 (issue 16's copy pipeline, src/sync/copy-pipeline.ts): found bugs, each with the pass that shows it,
 * then attacks that held. Passes where the helper gets each batch only when the pass comes back for it
 * (FOLDER_SYNC_TEST_COPY_LATE=1: every batch is still under way while the walk goes on) are compared with passes
 * on one thread (FOLDER_SYNC_COPY_THREAD=0): the same log lines in the same order, the same replica.
 */
import { chmodSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './_cli.js';
import { canMount, mountFs } from './_mounts.js';
import { buildTree, compareTrees, giveToTestUser, isRoot, tempDir, type Spec } from './_tree.js';

const late = { FOLDER_SYNC_TEST_COPY_LATE: '1' };
const alone = { FOLDER_SYNC_COPY_THREAD: '0' };
const ops = (out: string): string[] => out.split('\n').filter((l) => /^(created|updated|removed|skipped|failed) /.test(l));
const problems = (out: string): string[] => out.split('\n').filter((l) => /(^|^\w+: )(skipped|failed) /.test(l));

/** `count` files of a few bytes each: more than a batch's minimum. */
function files(count: number, tag: string): Spec {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`f${String(i).padStart(2, '0')}.txt`, `${tag} ${i} `.repeat(i + 1)]));
}

describe('found by review 10', () => {
  it('a batch followed by hundreds of unchanged folders: the pass keeps working under 64 open files, as on one thread', async () => {
    // Before: every folder walked behind a batch kept its two handles open until its (queued) ending ran, up to
    // MAX_QUEUED (64) endings: ~130 descriptors, EMFILE on every file and folder past the limit, where one thread
    // needs a handful. Now a folder with nothing under way in it ends at once (only its log lines wait their turn).
    const spec: Spec = {};
    for (let i = 0; i < 200; i++) spec[`z${String(i).padStart(3, '0')}`] = { only: `x${i}` };
    const src = buildTree(tempDir('fs-r10-fds-src-'), spec);
    const dst = join(tempDir('fs-r10-fds-dst-'), 'rep');
    expect((await runCli(['sync-once', src, dst])).code).toBe(0);
    mkdirSync(join(src, 'a'));
    buildTree(join(src, 'a'), files(12, 'a')); // a batch, first in the walk; 200 unchanged folders after it
    for (const env of [alone, late]) {
      rmSync(join(dst, 'a'), { recursive: true, force: true });
      const r = await runCli(['sync-once', src, dst], { env, openFiles: 64 });
      expect({ env, out: problems(r.stdout + r.stderr), code: r.code }).toEqual({ env, out: [], code: 0 });
      expect(compareTrees(src, dst)).toEqual([]);
    }
    // The first pass of such a tree too (folders made behind the batch).
    const fresh = join(tempDir('fs-r10-fds-new-'), 'rep');
    const r = await runCli(['sync-once', src, fresh], { env: late, openFiles: 40 });
    expect({ out: problems(r.stdout + r.stderr), code: r.code }).toEqual({ out: [], code: 0 });
    expect(compareTrees(src, fresh)).toEqual([]);
  });

  it('the copy helper ending its thread while the pass waits for it: the pass copies what it left (no silent exit 13)', async () => {
    // Before: HelperThread.finished awaited Atomics.waitAsync, whose timeout does not keep the process alive; once
    // the dead thread's handle was gone the process simply ended (exit code 13, "unsettled top-level await") in
    // the middle of the pass: no error, no summary, the replica half made. Seen under a descriptor limit, where
    // the helper could not load its modules (EMFILE). Here the helper takes one file of each batch and ends.
    const src = buildTree(tempDir('fs-r10-die-src-'), { a: files(12, 'a'), b: { c: files(9, 'c') }, d: files(20, 'd') });
    const preload = join(import.meta.dirname, '_copy-helper-dies.mjs');
    const dst = join(tempDir('fs-r10-die-dst-'), 'rep');
    const ref = join(tempDir('fs-r10-die-ref-'), 'rep');
    const r = await runCli(['sync-once', src, dst], { env: { ...late, NODE_OPTIONS: `--import ${preload}` } });
    const one = await runCli(['sync-once', src, ref], { env: alone });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/pass finished: created 46, updated 0, removed 0, failed 0/);
    expect(ops(r.stdout)).toEqual(ops(one.stdout));
    expect(compareTrees(src, dst)).toEqual([]);
  });
});

describe('attacks that held (review 10)', () => {
  /** Folders with batches, read-only ones, ignore files, files to exclude, a nested subtree, empty folders. */
  function tree(): Spec {
    return {
      '.gitignore': 'build/\n*.log\n',
      a: { ...files(10, 'a'), 'x.log': 'log', build: files(9, 'b'), ro: files(8, 'ro') },
      b: { deep: { deeper: files(11, 'deep'), 'keep.txt': 'k' }, empty: {} },
      c: files(30, 'c'),
      skip: files(9, 'skip'),
    };
  }

  const cases: { name: string; flags: string[]; asUser?: boolean }[] = [
    { name: 'plain', flags: [] },
    { name: '--checksum', flags: ['--checksum'] },
    { name: '--ignore-file .gitignore --exclude skip/', flags: ['--ignore-file', '.gitignore', '--exclude', 'skip/'] },
    { name: '--exclude skip/ --delete-excluded', flags: ['--exclude', 'skip/', '--delete-excluded'] },
    { name: 'as the unprivileged user', flags: [], asUser: true },
  ];
  for (const c of cases) {
    it(`two passes ${c.name}: the same log lines in the same order and the same replica as one thread`, async () => {
      const src = buildTree(tempDir('fs-r10-eq-src-', { forUser: true }), tree());
      for (const ro of ['a/ro', 'b/deep']) chmodSync(join(src, ro), 0o555);
      const parent = (p: string): string => join(tempDir(`fs-r10-eq-${p}-`, { forUser: true }), 'rep');
      const [x, y] = [parent('late'), parent('one')];
      const run = (dst: string, env: Record<string, string>, more: string[] = []) =>
        runCli(['sync-once', src, dst, ...c.flags, ...more], { env, asUser: c.asUser });
      for (const pass of [1, 2]) {
        if (pass === 2) {
          // New folders with batches, a removed folder, an edited file (same size and time: --checksum sees it).
          chmodSync(join(src, 'b/deep'), 0o755);
          rmSync(join(src, 'b', 'deep', 'deeper'), { recursive: true });
          buildTree(join(src, 'b', 'deep'), { newer: files(14, 'n') });
          chmodSync(join(src, 'b/deep'), 0o555);
          writeFileSync(join(src, 'c', 'f05.txt'), 'C 5 C 5 C 5 C 5 C 5 C 5 ');
          utimesSync(join(src, 'c', 'f05.txt'), 1_700_000_000, 1_700_000_000);
          for (const d of [x, y]) utimesSync(join(d, 'c', 'f05.txt'), 1_700_000_000, 1_700_000_000);
          // A folder only the replicas have (removed).
          for (const d of [x, y]) {
            mkdirSync(join(d, 'skip2'));
            buildTree(join(d, 'skip2'), files(3, 's'));
            if (c.asUser) giveToTestUser(join(d, 'skip2'));
          }
        }
        const a = await run(x, late, ['--verbose']);
        const b = await run(y, alone);
        expect({ pass, code: a.code, stderr: problems(a.stderr) }).toEqual({ pass, code: 0, stderr: [] });
        expect(b.code).toBe(0);
        if (pass === 1) expect(a.stdout + a.stderr).toMatch(/copied \d+ new files in \d+ batches on two cores/);
        expect(ops(a.stdout)).toEqual(ops(b.stdout));
        expect(compareTrees(x, y)).toEqual([]);
      }
    });
  }

  it.skipIf(!canMount)('an exFAT file system mounted inside the replica: the same log and replica as one thread', async () => {
    const src = buildTree(tempDir('fs-r10-mnt-src-'), { a: files(10, 'a'), usb: { ...files(12, 'u'), sub: files(9, 's') }, z: files(8, 'z') });
    const dsts = [tempDir('fs-r10-mnt-late-'), tempDir('fs-r10-mnt-one-')];
    for (const d of dsts) {
      mkdirSync(join(d, 'usb'));
      mountFs('exfat', { at: join(d, 'usb') });
      utimesSync(d, 1_600_000_000, 1_600_000_000); // not the source root's time, whatever the clock's grain
    }
    const a = await runCli(['sync-once', src, dsts[0] as string], { env: late });
    const b = await runCli(['sync-once', src, dsts[1] as string], { env: alone });
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(ops(a.stdout)).toEqual(ops(b.stdout));
    // The exFAT volume's root keeps no times of its own (mount time), in either replica: not compared.
    expect(compareTrees(dsts[0] as string, dsts[1] as string, { ignore: (p) => p === 'usb' })).toEqual([]);
    // The note on the other file system comes where the walk reached it, after the lines of the files before it.
    const inOrder = (out: string, d: string): string[] =>
      out
        .split('\n')
        .filter((l) => /^(created|updated) /.test(l) || l.includes('is on another file system'))
        .map((l) => l.replaceAll(d, 'R'));
    const notes = inOrder(a.stdout + a.stderr, dsts[0] as string);
    expect(notes.filter((l) => l.includes('another file system'))).toHaveLength(1);
    expect(notes).toEqual(inOrder(b.stdout + b.stderr, dsts[1] as string));
  });

  it.skipIf(!isRoot)('--versions: what a pass replaces is kept the same way with batches under way', async () => {
    const src = buildTree(tempDir('fs-r10-ver-src-'), { a: files(10, 'a'), old: files(9, 'o'), z: files(8, 'z') });
    const dsts = [join(tempDir('fs-r10-ver-late-'), 'rep'), join(tempDir('fs-r10-ver-one-'), 'rep')];
    for (const d of dsts) expect((await runCli(['sync-once', src, d])).code).toBe(0);
    rmSync(join(src, 'old'), { recursive: true });
    mkdirSync(join(src, 'n'));
    buildTree(join(src, 'n'), { m: files(12, 'm'), k: files(8, 'k') });
    const [a, b] = [
      await runCli(['sync-once', src, dsts[0] as string, '--versions', join(dsts[0] as string, '.versions')], { env: late }),
      await runCli(['sync-once', src, dsts[1] as string, '--versions', join(dsts[1] as string, '.versions')], { env: alone }),
    ];
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const strip = (l: string[]) => l.map((s) => s.replace(/\d{4}-\d\d-\d\dT[\d-]+Z?/g, 'T'));
    expect(strip(ops(a.stdout))).toEqual(strip(ops(b.stdout)));
    expect(compareTrees(join(dsts[0] as string, 'n'), join(dsts[1] as string, 'n'))).toEqual([]);
  });
});
