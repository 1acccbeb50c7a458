import { closeSync, existsSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_DISKS, statfsType } from '../src/sync/fs-type.js';
import { MAX_OPEN, MIN_SIZE, readAhead, readAheadsOpen } from '../src/sync/read-ahead.js';
import { runSync } from './_cli.js';
import { buildTree, bytes, compareTrees, file, giveToTestUser, isRoot, tempDir, TEST_USER } from './_tree.js';

const MiB = 1 << 20;
const preload = join(import.meta.dirname, '_read-marker.mjs');
const openFds = (): number => readdirSync('/proc/self/fd').length;
const devOf = (fd: number): bigint => fstatSync(fd, { bigint: true }).dev;

// Sources on a local disk: only those are read ahead, and the system's temporary folder may be a tmpfs.
// /var/tmp is a disk's on Debian (checked below, not assumed).
const onDisk: string[] = [];
function diskDir(): string {
  const dir = mkdtempSync('/var/tmp/fs-read-ahead-');
  onDisk.push(dir);
  expect(LOCAL_DISKS.has(statfsType(dir) ?? ''), 'this test needs /var/tmp on a local disk (ext4, XFS, Btrfs, F2FS)').toBe(true);
  return dir;
}
afterAll(() => {
  for (const dir of onDisk) rmSync(dir, { recursive: true, force: true });
});

/** Whether a read-ahead can be made again (one is made and ended at once). */
function probeFree(fd: number): boolean {
  const a = readAhead(fd, MIN_SIZE, devOf(fd));
  a?.end();
  return a !== undefined;
}

/** Wait, a turn of the event loop at a time, until `done()` (the reads ahead come back on the event loop). */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; !done(); turn++) {
    if (turn > 10_000) throw new Error('never happened');
    await new Promise((r) => setTimeout(r, 1));
  }
}

describe('reads ahead of a large copy (issue 16: the disk gets more than one request at a time)', () => {
  it('the CLI queues reads of the next ranges of a large file, through a second descriptor, and copies it exactly', async () => {
    const size = 20 * MiB + 12_345;
    const src = buildTree(diskDir(), { 'big.bin': file(bytes(size, 4)), 'small.bin': file(bytes(MIN_SIZE - 1, 5)) });
    const dst = join(tempDir(), 'replica');
    const r = await runSync(src, dst, [], { env: { NODE_OPTIONS: `--import ${preload}` } });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(readFileSync(join(dst, 'big.bin')).equals(readFileSync(join(src, 'big.bin')))).toBe(true);
    const reopened = [...r.stderr.matchAll(/^reopen \/proc\/self\/fd\/(\d+) = (\d+)$/gm)];
    expect(reopened).toHaveLength(1); // the large file only; small.bin (just under MIN_SIZE) is copied without
    const [, copyFd, aheadFd] = reopened[0]!;
    expect(aheadFd).not.toBe(copyFd);
    const reads = [...r.stderr.matchAll(/^read-ahead (\d+) (\d+)$/gm)];
    // Every range of the file, once each, all on the second descriptor (8 MiB ranges: 0, 8 and 16 MiB).
    expect(reads.map((m) => m[1])).toEqual(reads.map(() => aheadFd));
    expect(reads.map((m) => Number(m[2]))).toEqual([0, 8 * MiB, 16 * MiB]);
  });

  it('FOLDER_SYNC_READ_AHEAD=0 turns it off (A/B): the same copy, no reads ahead', async () => {
    const src = buildTree(diskDir(), { 'big.bin': file(bytes(10 * MiB, 6)) });
    const dst = join(tempDir(), 'replica');
    const r = await runSync(src, dst, [], { env: { NODE_OPTIONS: `--import ${preload}`, FOLDER_SYNC_READ_AHEAD: '0' } });
    expect(r.code, r.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(r.stderr).not.toMatch(/^(read-ahead|reopen) /m);
  });

  it('its descriptor is closed once the reads it queued are back, also when the copy ends early', async () => {
    const src = buildTree(diskDir(), { 'big.bin': file(bytes(30 * MiB, 7)) });
    const fd = openSync(join(src, 'big.bin'), 'r');
    try {
      const before = openFds();
      const ahead = readAhead(fd, 30 * MiB, devOf(fd));
      expect(ahead).toBeDefined();
      expect(openFds()).toBe(before + 1);
      ahead!.at(0); // queues the first ranges
      ahead!.end(); // the copy stopped here (say the source changed): nothing more is queued
      ahead!.at(20 * MiB);
      await until(() => openFds() === before && readAheadsOpen() === 0); // the count drops in the close's callback
      expect(openFds()).toBe(before);
      expect(readAhead(fd, MIN_SIZE - 1, devOf(fd))).toBeUndefined(); // too small to be worth it: nothing opened
      expect(openFds()).toBe(before);
    } finally {
      closeSync(fd);
    }
  });

  it(`never more than ${MAX_OPEN} second descriptors at once: a copy that finds them all in use is made without`, async () => {
    const src = buildTree(diskDir(), { 'big.bin': file(bytes(MIN_SIZE, 9)) });
    const fd = openSync(join(src, 'big.bin'), 'r');
    try {
      await until(() => readAheadsOpen() === 0); // none left over from an earlier test
      const before = openFds();
      const made = Array.from({ length: MAX_OPEN + 2 }, () => readAhead(fd, MIN_SIZE, devOf(fd)));
      expect(made.filter((a) => a !== undefined)).toHaveLength(MAX_OPEN);
      expect(openFds()).toBe(before + MAX_OPEN);
      for (const a of made) a?.end(); // nothing queued: each closes at once, on the thread pool
      await until(() => openFds() === before && readAheadsOpen() === 0); // given back with each close's callback
      expect(probeFree(fd)).toBe(true); // one can be made again
      await until(() => readAheadsOpen() === 0);
      expect(openFds()).toBe(before);
    } finally {
      closeSync(fd);
    }
  });

  it('as the unprivileged user: a file that cannot be opened a second time (its read permission taken away since) gets no reads ahead (the copy goes on without), nothing left open', () => {
    const dir = diskDir();
    giveToTestUser(dir);
    const built = pathToFileURL(resolve(import.meta.dirname, '..', 'dist', 'sync', 'read-ahead.js')).href;
    // The user's own file, opened for reading, then its mode set to 0: the reopen through /proc/self/fd is refused.
    const script = `
      import { fchmodSync, fstatSync, openSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
      import { readAhead } from ${JSON.stringify(built)};
      const path = ${JSON.stringify(join(dir, 'big.bin'))};
      writeFileSync(path, '');
      truncateSync(path, ${MIN_SIZE});
      const fd = openSync(path, 'r');
      fchmodSync(fd, 0);
      const before = readdirSync('/proc/self/fd').length;
      const made = readAhead(fd, ${MIN_SIZE}, fstatSync(fd, { bigint: true }).dev) !== undefined;
      console.log(JSON.stringify({ made, leaked: readdirSync('/proc/self/fd').length - before }));`;
    const argv = [process.execPath, '--input-type=module', '-e', script];
    const [cmd, ...args] = isRoot ? ['runuser', '-u', TEST_USER, '--', ...argv] : argv;
    const r = spawnSync(cmd!, args, { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ made: false, leaked: 0 });
  });

  it('a file on a tmpfs is not read ahead (only local disks are): it is in memory already', () => {
    if (!existsSync('/dev/shm')) throw new Error('this test needs /dev/shm');
    expect(statfsType('/dev/shm')).toBe('tmpfs');
    const src = buildTree(mkdtempSync('/dev/shm/fs-read-ahead-'), { 'big.bin': file(bytes(10 * MiB, 8)) });
    const fd = openSync(join(src, 'big.bin'), 'r');
    try {
      const before = openFds();
      expect(readAhead(fd, 10 * MiB, devOf(fd))).toBeUndefined();
      expect(openFds()).toBe(before);
    } finally {
      closeSync(fd);
      rmSync(src, { recursive: true, force: true });
    }
  });
});
