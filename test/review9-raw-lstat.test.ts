// Review 9 of the walk's raw lstat (src/sync/raw-lstat.ts): cases where it made a pass behave differently from
// lstatSync (the build before it): a crash at load under --no-deprecation, and times a double cannot hold.
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { entryFromStats, lstatEntry } from '../src/sync/entry.js';
import { exactOnly } from '../src/sync/raw-lstat.js';
import { runCli } from './_cli.js';
import { isRoot, tempDir } from './_tree.js';

const linux = process.platform === 'linux';
const viaStats = (path: string, name: string) => entryFromStats(name, lstatSync(path, { bigint: true }));
const module = join(import.meta.dirname, '..', 'dist', 'sync', 'raw-lstat.js');

describe.runIf(linux)('raw lstat (review 9)', () => {
  it('loads under --no-deprecation (process.noDeprecation is read-only there) and the CLI still mirrors', async () => {
    const r = spawnSync(
      process.execPath,
      ['--no-deprecation', '--input-type=module', '-e', `const m = await import(${JSON.stringify(module)}); console.log(m.rawLstatInUse())`],
      { encoding: 'utf8' },
    );
    expect({ stdout: r.stdout.trim(), stderr: r.stderr, status: r.status }).toEqual({ stdout: 'true', stderr: '', status: 0 });

    const src = tempDir('fs-r9-nodep-');
    writeFileSync(join(src, 'a'), 'a');
    const replica = join(tempDir('fs-r9-nodep-r-'), 'r');
    const cli = await runCli(['sync-once', src, replica], { env: { NODE_OPTIONS: '--no-deprecation' } });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(lstatSync(join(replica, 'a')).size).toBe(1);
  });

  it('leaves times whose whole milliseconds a double cannot hold exactly to lstatSync', () => {
    const base = { dev: 64768, mode: 0o100644, nlink: 1, uid: 0, gid: 0, ino: 12, size: 3, atimeMs: 0, mtimeMs: 0 };
    expect(exactOnly({ ...base, mtimeMs: 2 ** 53 - 1, atimeMs: -(2 ** 53 - 1) })).toBeDefined();
    expect(exactOnly({ ...base, mtimeMs: 2 ** 53 })).toBeUndefined();
    expect(exactOnly({ ...base, atimeMs: -(2 ** 53) })).toBeUndefined();
    expect(exactOnly({ ...base, mtimeMs: 9.223372036854776e21 })).toBeUndefined();
  });

  // tmpfs (like btrfs) keeps any 64-bit seconds; ext4 would clamp them to 2446.
  it.runIf(isRoot)('reads and mirrors a file dated beyond 2^53 milliseconds as lstatSync does', async () => {
    const mount = tempDir('fs-r9-far-');
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', mount]);
    try {
      const src = join(mount, 'src');
      execFileSync('mkdir', [src]);
      // Seconds * 1000 rounds in a double here (beyond 2^56), then + 1 ms rounds again: one millisecond off.
      const stamps = ['@72057594037929.001', '@9223372036854775807'];
      stamps.forEach((stamp, i) => {
        const path = join(src, `f${i}`);
        writeFileSync(path, String(i));
        execFileSync('touch', ['-h', '-m', '-a', '-d', stamp, path]);
        expect(lstatEntry(path, 'f'), stamp).toEqual(viaStats(path, 'f'));
      });
      const replica = join(mount, 'replica');
      const first = await runCli(['sync-once', src, replica]);
      expect(first.stdout).toMatch(/created 3, updated 0, removed 0, failed 0/);
      const again = await runCli(['sync-once', src, replica]);
      expect(again.stdout).toMatch(/created 0, updated 0, removed 0, failed 0/);
    } finally {
      execFileSync('umount', [mount]);
    }
  });
});
