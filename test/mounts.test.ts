/**
 * The mount helper and the capabilities probe on real file systems: each kind is made, mounted, measured by
 * probeCapabilities (what docs/filesystems.md reports), and unmounted. Runs as root (CI); skipped otherwise.
 */
import { lstatSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OpenFolder } from '../src/sync/access.js';
import { installIn, makeDir } from '../src/sync/apply.js';
import { copyWith, folderEnds } from '../src/sync/copy-file.js';
import { RefusedNameError, type ReplicaCaps } from '../src/sync/capabilities.js';
import { replicaCapabilities } from '../src/sync/capabilities-probe.js';
import { lstatEntry } from '../src/sync/entry.js';
import { ALL_KINDS, canMount, mountFs, SKIP_REASON, type FsKind } from './_mounts.js';
import { tempDir } from './_tree.js';

const WINDOWS_CHARS = '"*:<>?\\|\x01';
/** xfs and btrfs keep everything, like ext4. */
const LINUX_NATIVE: Partial<ReplicaCaps> = {
  mtimePrecisionMs: 1,
  mtimeOffsetMs: 0,
  modes: true,
  owners: true,
  symlinks: true,
  caseInsensitive: false,
  maxName: 255,
  nameUnit: 'bytes',
  refusedChars: '',
};
/** What each driver here keeps, as measured (docs/filesystems.md). */
const EXPECTED: Record<FsKind, Partial<ReplicaCaps>> = {
  exfat: {
    fsType: 'exfat',
    mtimePrecisionMs: 1000,
    mtimeRounding: 'truncate',
    mtimeOffsetMs: 0,
    renameKeepsTimes: true,
    localTime: false,
    modes: false,
    symlinks: false,
    caseInsensitive: true,
    normalizationInsensitive: false,
    nonAscii: true,
    maxName: 255,
    nameUnit: 'utf16',
    refusedChars: WINDOWS_CHARS,
    rootTimes: false,
  },
  vfat: {
    fsType: 'vfat',
    mtimePrecisionMs: 2000,
    mtimeRounding: 'truncate',
    mtimeOffsetMs: 0,
    renameKeepsTimes: false,
    localTime: true,
    modes: false,
    owners: false,
    symlinks: false,
    caseInsensitive: true,
    nonAscii: false,
    maxName: 255,
    refusedChars: `${WINDOWS_CHARS}\x7f`,
    rootTimes: false,
  },
  ntfs: {
    fsType: 'ntfs',
    mtimePrecisionMs: 1,
    localTime: false,
    modes: false,
    owners: false,
    symlinks: true,
    caseInsensitive: false,
    normalizationInsensitive: false,
    nonAscii: true,
    maxName: 255,
    nameUnit: 'utf16',
    refusedChars: '',
  },
  sshfs: {
    fsType: 'sshfs',
    mtimePrecisionMs: 1000,
    mtimeRounding: 'truncate',
    localTime: false,
    modes: true,
    owners: true,
    symlinks: true,
    caseInsensitive: false,
    nameUnit: 'bytes',
    refusedChars: '',
  },
  xfs: { fsType: 'xfs', ...LINUX_NATIVE },
  btrfs: { fsType: 'btrfs', ...LINUX_NATIVE },
};

describe.skipIf(!canMount)(`real file systems: mount, probe, unmount (${canMount ? 'as root' : SKIP_REASON})`, () => {
  for (const kind of ALL_KINDS) {
    it(`${kind}: the probe measures what the driver keeps, and leaves nothing behind`, () => {
      const m = mountFs(kind);
      const before = readdirSync(m.path);
      const { caps, note } = replicaCapabilities(m.path, { dryRun: false });
      expect(note).toBeUndefined();
      expect(caps).toMatchObject({ ...EXPECTED[kind], measured: true });
      expect(readdirSync(m.path)).toEqual(before);
      // A dry run names the same file system without writing (sniffed from the image for fuseblk/fuse mounts).
      expect(replicaCapabilities(m.path, { dryRun: true }).caps).toMatchObject({ fsType: EXPECTED[kind].fsType, measured: false });
      m.unmount();
      expect(() => lstatSync(join(m.path, 'x'))).toThrow();
    });
  }

  it('vfat keeps local time: remounted with a zone one hour east, every time reads one hour earlier', () => {
    const m = mountFs('vfat', { tz: 'UTC' });
    writeFileSync(join(m.path, 'photo.jpg'), 'x');
    utimesSync(join(m.path, 'photo.jpg'), 1_700_000_000, 1_700_000_000);
    m.remount({ tz: 'UTC-1' }); // POSIX TZ: UTC-1 is one hour east of UTC
    expect(lstatSync(join(m.path, 'photo.jpg')).mtimeMs).toBe(1_700_000_000_000 - 3_600_000);
    m.remount({ tz: 'UTC' });
    expect(lstatSync(join(m.path, 'photo.jpg')).mtimeMs).toBe(1_700_000_000_000);
  });

  it('fusefat outside UTC reads every time back shifted, its own new ones too: the probe measures that offset', () => {
    const m = mountFs('vfat', { tz: 'UTC-2' });
    expect(replicaCapabilities(m.path, { dryRun: false }).caps).toMatchObject({
      mtimePrecisionMs: 2000,
      mtimeRounding: 'truncate',
      mtimeOffsetMs: -7_200_000,
    });
  });

  it('exfat refuses ":" with ENOENT: installing a temporary under such a name is a refused name, not a vanished file', () => {
    const m = mountFs('exfat');
    const folder = OpenFolder.openRoot(m.path);
    try {
      const tmp = '.folder-sync-partial-0123456789abcdef';
      writeFileSync(join(m.path, tmp), 'x');
      expect(() => installIn(folder, tmp, 'a:b.txt')).toThrow(RefusedNameError);
    } finally {
      folder.close();
    }
    expect(readdirSync(m.path)).toEqual([]); // the temporary is gone too
    expect(() => makeDir(join(m.path, 'x|y'))).toThrow(RefusedNameError);
  });

  it('fusefat refuses chmod (ENOSYS): a copy that asks for permission bits is still made, bytes and time', () => {
    const m = mountFs('vfat');
    const src = join(tempDir('fs-mount-src-'), 'photo.jpg');
    writeFileSync(src, 'photo bytes');
    utimesSync(src, 1_700_000_000, 1_700_000_000);
    const from = OpenFolder.openRoot(dirname(src));
    const into = OpenFolder.openRoot(m.path);
    let tmp: string;
    try {
      tmp = join(m.path, copyWith(folderEnds(from, 'photo.jpg', into), lstatEntry(src, 'photo.jpg'))); // modes not turned off: fchmod fails with ENOSYS
    } finally {
      from.close();
      into.close();
    }
    expect(readFileSync(tmp, 'utf8')).toBe('photo bytes');
    expect(lstatSync(tmp).mtimeMs).toBe(1_700_000_000_000);
  });

  it('exfat stores the zone offset: a remount in another zone reads the same time', () => {
    const m = mountFs('exfat', { tz: 'UTC' });
    writeFileSync(join(m.path, 'photo.jpg'), 'x');
    utimesSync(join(m.path, 'photo.jpg'), 1_700_000_000, 1_700_000_000);
    m.remount({ tz: 'UTC-1' });
    expect(lstatSync(join(m.path, 'photo.jpg')).mtimeMs).toBe(1_700_000_000_000);
  });
});
