/**
 * Fault: the replica's disk fills up (ENOSPC), on a real small tmpfs mounted by the test (CI runs as root;
 * a machine where it cannot be mounted fails these cases loudly instead of skipping them). The pass stops
 * writing, says the disk is full and where, leaves no temporary, exits 1; files already complete stay valid;
 * after space is freed a pass completes. Also: a log file whose own disk fills up mid-pass.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../_cli.js';
import { buildTree, bytes, compareTrees, snapshotTree, tempDir } from '../_tree.js';
import { mountTmpfs, remountTmpfs, tempsIn } from './_faults.js';

const unmounts: (() => void)[] = [];
afterAll(() => {
  for (const u of unmounts.splice(0).reverse()) u();
});

function tmpfs(options: string): string {
  const dir = join(tempDir('fs-tmpfs-'), 'mnt');
  unmounts.push(mountTmpfs(dir, options));
  return dir;
}

describe('disk full in the replica', () => {
  it('stops writing, names the disk-full error and the file, removes its temporary, exits 1; space freed: the next pass completes', async () => {
    const mnt = tmpfs('size=2m');
    const dst = join(mnt, 'replica');
    const src = tempDir('fs-full-src-');
    // a* fit (5 x 100 KiB), big (3 MiB) does not, z* would come after it.
    const spec: Record<string, Buffer> = {};
    for (let i = 0; i < 5; i++) spec[`a${i}`] = bytes(100 << 10, i + 1);
    spec['big'] = bytes(3 << 20, 9);
    for (let i = 0; i < 3; i++) spec[`z${i}`] = bytes(10 << 10, i + 20);
    buildTree(src, { ...spec, sub: { inner: 'inner' } });

    const r = await runCli(['sync-once', src, dst]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/failed file "big": no space left on device \(ENOSPC\)/);
    expect(r.stderr).toMatch(/pass stopped: the replica's disk is full \(ENOSPC\) while writing "big"/);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    // It stopped: nothing after "big" was written.
    expect(r.stdout).not.toMatch(/created file "z0"/);
    expect(tempsIn(dst)).toEqual([]);
    const src0 = snapshotTree(src);
    const got = snapshotTree(dst);
    expect(got.has('big')).toBe(false);
    for (let i = 0; i < 5; i++) {
      expect(got.get(`a${i}`)?.hash, `a${i} complete and valid`).toBe(src0.get(`a${i}`)?.hash);
      expect(got.get(`a${i}`)?.mtimeMs).toBe(src0.get(`a${i}`)?.mtimeMs);
    }

    remountTmpfs(mnt, 'size=8m');
    const next = await runCli(['sync-once', src, dst]);
    expect(next.code, next.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
    expect(tempsIn(dst)).toEqual([]);
  });

  it('out of inodes (ENOSPC on mkdir and create): stops, exits 1, the next pass after freeing completes', async () => {
    const mnt = tmpfs('size=8m,nr_inodes=24');
    const dst = join(mnt, 'replica');
    const src = tempDir('fs-full-src-');
    const spec: Record<string, string | Record<string, string>> = {};
    for (let i = 0; i < 30; i++) spec[`d${String(i).padStart(2, '0')}`] = { f: `file ${i}` };
    buildTree(src, spec);
    const r = await runCli(['sync-once', src, dst]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/the replica's disk is full \(ENOSPC\)/);
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(tempsIn(dst)).toEqual([]);
    const src0 = snapshotTree(src);
    for (const [path, snap] of snapshotTree(dst)) {
      if (snap.type === 'file') expect(snap.hash, path).toBe(src0.get(path)?.hash);
    }
    remountTmpfs(mnt, 'nr_inodes=1000');
    const next = await runCli(['sync-once', src, dst]);
    expect(next.code, next.stderr).toBe(0);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});

describe('a read-only replica file system', () => {
  it('is refused up front (exit 2, one line), nothing changed', async () => {
    const mnt = tmpfs('size=1m');
    buildTree(mnt, { old: 'old' });
    remountTmpfs(mnt, 'ro');
    const src = buildTree(tempDir('fs-ro-src-'), { a: 'a' });
    const r = await runCli(['sync-once', src, mnt]);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toMatch(/^folder-sync: replica folder is on a read-only file system: .*nothing was changed\n$/);
  });
});

describe('a full state folder (where the lock lives)', () => {
  it('is refused with one line (exit 2), the replica is not even created', async () => {
    const state = tmpfs('size=64k,nr_inodes=3');
    mkdirSync(join(state, 'locks'));
    writeFileSync(join(state, 'locks', 'filler'), '');
    const src = buildTree(tempDir('fs-state-src-'), { a: 'a' });
    const dst = join(tempDir('fs-state-dst-'), 'replica');
    const r = await runCli(['sync-once', src, dst], { env: { FOLDER_SYNC_STATE_DIR: state } });
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toMatch(/^folder-sync: cannot take the replica's lock .*: no space left on device \(ENOSPC\); nothing was changed\n$/);
    expect(existsSync(dst)).toBe(false);
  });
});

describe('the log file fails mid-pass', () => {
  it('its disk fills up: the pass goes on, the console still reports every operation, exit 74', async () => {
    const mnt = tmpfs('size=64k');
    writeFileSync(join(mnt, 'filler'), Buffer.alloc(40 << 10));
    const log = join(mnt, 'pass.log');
    const src = tempDir('fs-logfull-src-');
    const dst = tempDir('fs-logfull-dst-');
    const spec: Record<string, string> = {};
    for (let i = 0; i < 1500; i++) spec[`file-with-a-longish-name-${i}`] = `${i}`;
    buildTree(src, spec);
    const r = await runCli(['sync-once', src, dst, '--log', log]);
    expect(r.code, r.stderr).toBe(74);
    expect(r.stderr).toMatch(new RegExp(`error: the log file ${log} can no longer be written: no space left on device \\(ENOSPC\\)`));
    expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('created file '))).toHaveLength(1500);
    expect(r.stdout).toMatch(/pass finished: created 1500,/);
    expect(compareTrees(src, dst)).toEqual([]);
    // What reached the log is whole lines up to where the disk filled.
    const text = readFileSync(log, 'utf8');
    expect(text).toMatch(/^\S+ INFO pass started/);
  });

  it('a log that cannot take a single byte (its disk is full from the start): the pass completes, console intact, exit 74', async () => {
    // Not /dev/full: a log must be a regular file (a device is refused before the pass, see test/security/log-guard).
    const mnt = tmpfs('size=64k');
    try {
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(128 << 10));
    } catch {
      // ENOSPC: full, as wanted
    }
    const log = join(mnt, 'pass.log');
    const src = tempDir('fs-logfull-src-');
    const dst = tempDir('fs-logfull-dst-');
    buildTree(src, { a: 'a', b: { c: 'c' } });
    const r = await runCli(['sync-once', src, dst, '--log', log]);
    expect(r.code, r.stderr).toBe(74);
    expect(r.stderr).toMatch(/the log file .*pass\.log can no longer be written: no space left on device/);
    expect(r.stderr.split('\n').filter((l) => l.includes('can no longer be written'))).toHaveLength(1);
    expect(r.stdout).toMatch(/created file "b\/c"/);
    expect(r.stdout).toMatch(/pass finished/);
    expect(compareTrees(src, dst)).toEqual([]);
  });
});
