import { chmodSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_DISKS, statfsType } from '../src/sync/fs-type.js';
import { readTreeAhead } from '../src/sync/source-ahead-read.js';
import { testGate } from './_ahead-gate.js';
import { ops, repoCli, runSync, userTempDir } from './_cli.js';
import { buildTree, bytes, compareTrees, file, giveToTestUser, isRoot, tempDir } from './_tree.js';

const gate = testGate;

const opened: number[] = [];
const openFolder = (path: string): number => {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  opened.push(fd);
  return fd;
};
afterAll(() => opened.forEach((fd) => closeSync(fd)));

/** What was read, as paths below the top folder (`/proc/self/fd/<fd>/<name>`: each folder's handle, then the name). */
const names = (g: { read: string[] }): string[] => g.read.map((p) => basename(p));

describe('source read-ahead (issue 16, session 13): new subtrees read ahead of their copy', () => {
  it('reads every regular file in the pass order (names sorted, each folder where its name falls), never a link, FIFO or linked folder', async () => {
    const outside = buildTree(tempDir(), { 'secret.txt': file('outside') });
    const top = buildTree(tempDir(), {
      'b.txt': file('b'),
      a: { 'z.txt': file('z'), 'c.txt': file('c') },
      'c.txt': file('c2'),
      e: { 'd.txt': file('d') },
    });
    symlinkSync(join(top, 'b.txt'), join(top, 'link.txt'));
    symlinkSync(outside, join(top, 'linked-folder'));
    execFileSync('mkfifo', [join(top, 'fifo')]);
    const g = gate();
    const count = await readTreeAhead(openFolder(top), g, { lanes: 1 }); // one lane: one read at a time, in order
    expect(count).toBe(5);
    expect(names(g)).toEqual(['c.txt', 'z.txt', 'b.txt', 'c.txt', 'd.txt']); // a/c, a/z, b, c, e/d
    expect(g.read.some((p) => p.includes('secret'))).toBe(false);
  });

  it('stays at most maxAhead files ahead of the files the pass has listed, and goes on as the pass lists more', async () => {
    const top = buildTree(tempDir(), Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`f${i}.txt`, file(bytes(100, i))])));
    const g = gate(0);
    const reading = readTreeAhead(openFolder(top), g, { lanes: 1, maxAhead: 3 });
    await g.blocked; // the reader waits for the pass: 3 read, the 4th not
    expect(names(g)).toEqual(['f0.txt', 'f1.txt', 'f2.txt']);
    g.pass = 10; // the pass listed the folder
    g.release();
    expect(await reading).toBe(10);
  });

  it('stops when the pass leaves the subtree', async () => {
    const top = buildTree(tempDir(), Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}.txt`, file('x')])));
    const g = gate(0);
    const reading = readTreeAhead(openFolder(top), g, { lanes: 1, maxAhead: 2 });
    await g.blocked;
    g.stop = true;
    g.release();
    expect(await reading).toBe(2);
  });

  it('a folder swapped for a link to elsewhere while the reader waits is not entered (opened with O_NOFOLLOW through its parent)', async () => {
    const outside = buildTree(tempDir(), { 'secret.txt': file('outside') });
    const top = buildTree(tempDir(), { 'a.txt': file('a'), sub: { 'inner.txt': file('in') } });
    const g = gate(0);
    const reading = readTreeAhead(openFolder(top), g, { lanes: 1, maxAhead: 1 });
    await g.blocked; // a.txt read; `sub` listed as a folder, not opened yet
    expect(names(g)).toEqual(['a.txt']);
    renameSync(join(top, 'sub'), join(top, 'sub-moved'));
    symlinkSync(outside, join(top, 'sub'));
    g.pass = 100;
    g.release();
    expect(await reading).toBe(1);
    expect(g.read.some((p) => p.includes('secret') || p.includes('inner'))).toBe(false);
  });
  it('holds at most maxOpen descriptors: half for files being read, half for folders (deeper ones are not read ahead)', async () => {
    const files = (tag: string): Record<string, ReturnType<typeof file>> =>
      Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`${tag}${i}.dat`, file(bytes(200, i))]));
    const top = buildTree(tempDir(), { ...files('t'), a: { ...files('a'), b: { ...files('b'), c: { ...files('c') } } } });
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const topFd = openFolder(top);
    const before = fds();
    let most = 0;
    const g = gate();
    g.onRead = (name) => {
      g.read.push(name);
      most = Math.max(most, fds() - before);
    };
    const count = await readTreeAhead(topFd, g, { maxOpen: 6 }); // 3 lanes, 2 folders below the top, 1 being listed
    expect(count).toBe(60); // the top's, a's and b's files; c (a third folder down) is not read ahead
    expect(names(g).some((n) => n.startsWith('c'))).toBe(false);
    expect(most).toBeLessThanOrEqual(6);
    expect(fds()).toBe(before); // every descriptor it opened is closed
  });
  it('hands out no more than maxAhead names however many lanes wait (each reserves its place first)', async () => {
    const top = buildTree(tempDir(), Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}.txt`, file('x')])));
    const g = gate(0);
    const reading = readTreeAhead(openFolder(top), g, { lanes: 64, maxAhead: 10 });
    await g.blocked;
    // The ten handed out are read (the other lanes wait for the pass); then the reader is stopped.
    for (let turn = 0; g.read.length < 10 && turn < 100_000; turn++) await new Promise((r) => setImmediate(r));
    g.stop = true;
    g.release();
    expect(await reading).toBe(10); // without the reservation every lane took a name before any was counted
  });

  it('a folder of more than maxListed entries is not read ahead; its siblings are', async () => {
    const top = buildTree(tempDir(), {
      big: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`b${i}.txt`, file('b')])),
      fits: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`s${i}.txt`, file('s')])),
    });
    const g = gate();
    expect(await readTreeAhead(openFolder(top), g, { lanes: 1, maxListed: 5 })).toBe(5);
    expect(names(g)).toEqual(['s0.txt', 's1.txt', 's2.txt', 's3.txt', 's4.txt']);
  });

  it("stays on the top folder's device: a file system mounted inside the tree is not read ahead (root: mounts a tmpfs)", async () => {
    const top = buildTree(tempDir(), { 'a.txt': file('a'), m: {}, 'z.txt': file('z') });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'folder-sync-test', join(top, 'm')]);
    try {
      buildTree(join(top, 'm'), { 'inside.txt': file('i') });
      const g = gate();
      expect(await readTreeAhead(openFolder(top), g, { lanes: 1 })).toBe(2);
      expect(names(g)).toEqual(['a.txt', 'z.txt']);
    } finally {
      execFileSync('umount', [join(top, 'm')]);
    }
  });
});

describe('the pass reads new folders ahead (CLI)', () => {
  const disk: string[] = [];
  afterAll(() => disk.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tree = (): string => {
    const spec: Record<string, ReturnType<typeof file> | Record<string, ReturnType<typeof file>>> = { 'top.txt': file('t') };
    for (let d = 0; d < 3; d++)
      spec[`d${d}`] = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`f${i}.dat`, file(bytes(3000 + i, d * 10 + i))]));
    return buildTree(tempDir(), spec);
  };
  const readLine = /^.*?(\d+) source files of new folders read ahead of their copy/m;

  it("reads a new replica folder's whole source subtree ahead, and the copy is exact", async () => {
    const src = tree();
    const dst = join(tempDir(), 'replica');
    const r = await runSync(src, dst, ['--verbose'], { env: { FOLDER_SYNC_SOURCE_AHEAD: '1', FOLDER_SYNC_TEST_SOURCE_AHEAD: 'first' } });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    // The replica was new: its whole tree (16 files) was read ahead; the subfolders are inside that job.
    expect(`${r.stdout}${r.stderr}`.match(readLine)?.[1], r.stderr).toBe('16');
  });

  it("only where the pass creates the folder: an existing replica folder's files are not read ahead, a new subfolder's are", async () => {
    const src = tree();
    const dst = join(tempDir(), 'replica');
    mkdirSync(dst);
    mkdirSync(join(dst, 'd0'));
    mkdirSync(join(dst, 'd1'));
    const r = await runSync(src, dst, ['--verbose'], { env: { FOLDER_SYNC_SOURCE_AHEAD: '1', FOLDER_SYNC_TEST_SOURCE_AHEAD: 'first' } });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(`${r.stdout}${r.stderr}`.match(readLine)?.[1]).toBe('5'); // d2 only
  });

  it('not in a dry run, not with exclude rules (excluded files would be read for nothing), not when turned off', async () => {
    for (const flags of [['--dry-run'], ['--exclude', '*.tmp'], []]) {
      const src = tree();
      const dst = join(tempDir(), 'replica');
      const off = flags.length === 0 ? { FOLDER_SYNC_SOURCE_AHEAD: '0' } : { FOLDER_SYNC_SOURCE_AHEAD: '1' };
      const r = await runSync(src, dst, ['--verbose', ...flags], { env: { ...off, FOLDER_SYNC_TEST_SOURCE_AHEAD: 'first' } });
      expect(r.code, r.stderr).toBe(0);
      expect(`${r.stdout}${r.stderr}`, flags.join(' ')).not.toMatch(readLine);
    }
  });

  it('under a descriptor limit below 1,024 no reading ahead: a new tree 16 folders deep is copied exactly under a limit of 64', () => {
    // With the reader under that limit (8 descriptors, an eighth), this pass failed with EMFILE; 20 deep it
    // fails without the reader too (the pass's own ~3 descriptors a level).
    let spec: Record<string, unknown> = {};
    for (let depth = 0; depth < 16; depth++)
      spec = { ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.dat`, file(bytes(300, depth * 20 + i))])), deeper: spec };
    const src = buildTree(tempDir(), spec as Parameters<typeof buildTree>[1]);
    const dst = join(tempDir(), 'replica');
    const r = spawnSync('prlimit', ['--nofile=64:64', '--', process.execPath, repoCli, 'sync-once', src, dst, '--verbose'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', FOLDER_SYNC_STATE_DIR: tempDir('fs-state-'), FOLDER_SYNC_SOURCE_AHEAD: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/EMFILE/);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(readLine);
    expect(compareTrees(src, dst)).toEqual([]);
  });

  it.runIf(isRoot)(
    'as the unprivileged user: a source file and folder it cannot read are skipped by the reader, and the pass reports them as without it',
    async () => {
      const src = buildTree(userTempDir('fs-sa-u-src-'), {
        'a.dat': file('a'),
        'locked.dat': file('secret'),
        closed: { 'x.dat': file('x') },
        open: { 'y.dat': file('y') },
      });
      giveToTestUser(src);
      chmodSync(join(src, 'locked.dat'), 0o000);
      chmodSync(join(src, 'closed'), 0o000);
      try {
        const reps = [join(userTempDir('fs-sa-u-a-'), 'rep'), join(userTempDir('fs-sa-u-b-'), 'rep')] as const;
        const on = { FOLDER_SYNC_SOURCE_AHEAD: '1', FOLDER_SYNC_TEST_SOURCE_AHEAD: 'first' };
        const withIt = await runSync(src, reps[0], ['--verbose'], { asUser: true, env: on });
        const without = await runSync(src, reps[1], ['--verbose'], { asUser: true, env: { FOLDER_SYNC_SOURCE_AHEAD: '0' } });
        const problems = (out: string): string[] => out.split('\n').filter((l) => /^(error|warning):/.test(l));
        expect(withIt.code, withIt.stderr).toBe(1); // what cannot be read is a failure, with or without the reader
        expect(without.code, without.stderr).toBe(1);
        expect(ops(withIt.stdout)).toEqual(ops(without.stdout));
        expect(problems(withIt.stderr)).toEqual(problems(without.stderr));
        expect(problems(withIt.stderr).join('\n')).toMatch(/locked\.dat/);
        expect(compareTrees(reps[0], reps[1])).toEqual([]);
        // Read ahead: a.dat and open/y.dat only (the locked file fails to open, the closed folder to open).
        expect(`${withIt.stdout}${withIt.stderr}`.match(readLine)?.[1]).toBe('2');
      } finally {
        chmodSync(join(src, 'closed'), 0o755);
        chmodSync(join(src, 'locked.dat'), 0o644);
      }
    },
  );

  it('by default, on a local disk (and not on a tmpfs)', async () => {
    const dir = mkdtempSync('/var/tmp/fs-source-ahead-');
    disk.push(dir);
    expect(LOCAL_DISKS.has(statfsType(dir) ?? ''), 'this test needs /var/tmp on a local disk').toBe(true);
    mkdirSync(join(dir, 'src'));
    const src = buildTree(join(dir, 'src'), { a: { 'x.dat': file(bytes(5000, 1)), 'y.dat': file(bytes(10, 2)) } });
    const onDisk = await runSync(src, join(dir, 'replica'), ['--verbose'], { env: { FOLDER_SYNC_TEST_SOURCE_AHEAD: 'first' } });
    expect(onDisk.code, onDisk.stderr).toBe(0);
    expect(`${onDisk.stdout}${onDisk.stderr}`.match(readLine)?.[1]).toBe('2');
    const shm = mkdtempSync('/dev/shm/fs-source-ahead-');
    disk.push(shm);
    expect(statfsType(shm)).toBe('tmpfs');
    mkdirSync(join(shm, 'src'));
    const inMemory = buildTree(join(shm, 'src'), { a: { 'x.dat': file('x') } });
    const r = await runSync(inMemory, join(shm, 'replica'), ['--verbose'], { env: { FOLDER_SYNC_TEST_SOURCE_AHEAD: 'first' } });
    expect(r.code, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(readLine);
  });
});
