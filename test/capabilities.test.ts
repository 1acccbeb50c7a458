/** The capabilities module: pure rules by tables, and the probe on this machine's own (ext4/tmpfs) temp folder. */
import { lstatSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  assumedCapabilities,
  defaultCapabilities,
  describeLimits,
  fsFamily,
  isProbeName,
  PROBE_PREFIX,
  nameKey,
  nameProblem,
  precisionFrom,
  sameMtimeOn,
  type ReplicaCaps,
} from '../src/sync/capabilities.js';
import { probeCapabilities, replicaCapabilities, ReplicaCapsBook } from '../src/sync/capabilities-probe.js';
import { existingAncestor, parseMountInfo, sniffBootSector } from '../src/sync/fs-type.js';
import { OpenFolder } from '../src/sync/access.js';
import { taggedName } from '../src/sync/temp.js';
import { tempDir } from './_tree.js';

// Probe names are tagged with a key in the state folder: a private one for this file.
process.env['FOLDER_SYNC_STATE_DIR'] = tempDir('fs-state-');

describe('precisionFrom: step and rounding from what the file system kept of two sample times', () => {
  // The samples: 1_700_000_001_236 (odd second, .236) and 1_700_000_002_781 (even second, .781).
  const cases: { name: string; kept: number[]; want: Pick<ReplicaCaps, 'mtimePrecisionMs' | 'mtimeRounding' | 'mtimeOffsetMs'> }[] = [
    {
      name: 'ext4, xfs, btrfs, NTFS: kept to the millisecond',
      kept: [1_700_000_001_236, 1_700_000_002_781],
      want: { mtimePrecisionMs: 1, mtimeRounding: 'truncate', mtimeOffsetMs: 0 },
    },
    {
      name: 'exfat-fuse, sshfs: whole seconds, truncated',
      kept: [1_700_000_001_000, 1_700_000_002_000],
      want: { mtimePrecisionMs: 1000, mtimeRounding: 'truncate', mtimeOffsetMs: 0 },
    },
    {
      name: 'fusefat: 2 s, truncated',
      kept: [1_700_000_000_000, 1_700_000_002_000],
      want: { mtimePrecisionMs: 2000, mtimeRounding: 'truncate', mtimeOffsetMs: 0 },
    },
    {
      name: 'Windows FAT: 2 s, rounded up',
      kept: [1_700_000_002_000, 1_700_000_004_000],
      want: { mtimePrecisionMs: 2000, mtimeRounding: 'up', mtimeOffsetMs: 0 },
    },
    {
      name: 'exFAT kernel driver: 10 ms, truncated',
      kept: [1_700_000_001_230, 1_700_000_002_780],
      want: { mtimePrecisionMs: 10, mtimeRounding: 'truncate', mtimeOffsetMs: 0 },
    },
    {
      name: '1 s to the nearest',
      kept: [1_700_000_001_000, 1_700_000_003_000],
      want: { mtimePrecisionMs: 1000, mtimeRounding: 'nearest', mtimeOffsetMs: 0 },
    },
    {
      name: 'nothing fits (0.4 s off): a window',
      kept: [1_700_000_001_636, 1_700_000_003_181],
      want: { mtimePrecisionMs: 1000, mtimeRounding: 'unknown', mtimeOffsetMs: 0 },
    },
    {
      name: 'fusefat in UTC-2: 2 s, truncated, read back 2 h earlier',
      kept: [1_700_000_000_000 - 7_200_000, 1_700_000_002_000 - 7_200_000],
      want: { mtimePrecisionMs: 2000, mtimeRounding: 'truncate', mtimeOffsetMs: -7_200_000 },
    },
    {
      name: 'a zone 5 h 30 min east, to the millisecond',
      kept: [1_700_000_001_236 + 19_800_000, 1_700_000_002_781 + 19_800_000],
      want: { mtimePrecisionMs: 1, mtimeRounding: 'truncate', mtimeOffsetMs: 19_800_000 },
    },
  ];
  for (const c of cases) it(c.name, () => expect(precisionFrom(c.kept)).toEqual(c.want));
});

describe('sameMtimeOn', () => {
  const S = 1_700_000_000_000;
  const fat = { mtimePrecisionMs: 2000, mtimeRounding: 'truncate', localTime: true } as const;
  const exfat = { mtimePrecisionMs: 1000, mtimeRounding: 'truncate', localTime: false } as const;
  const exact = { mtimePrecisionMs: 1, mtimeRounding: 'truncate', localTime: false } as const;
  const cases: [string, number, number, Parameters<typeof sameMtimeOn>[2], boolean][] = [
    ['exact: same ms', S + 5, S + 5, exact, true],
    ['exact: sub-ms fractions ignored', S + 5.2, S + 5.9, exact, true],
    ['exact: 1 ms apart', S + 5, S + 6, exact, false],
    ['exfat: truncated', S + 999, S, exfat, true],
    ['exfat: next second', S + 1000, S, exfat, false],
    ['fat: truncated to even', S + 1999, S, fat, true],
    ['fat: +1 h', S + 3_600_000, S, fat, true],
    ['fat: -1 h', S - 3_600_000, S, fat, true],
    ['fat: +1 h +2 s', S + 3_602_000, S, fat, false],
    ['exfat: +1 h is a change', S + 3_600_000, S, exfat, false],
  ];
  for (const [name, s, d, caps, want] of cases) it(name, () => expect(sameMtimeOn(s, d, caps)).toBe(want));
  it('a local-time source shifts too', () => expect(sameMtimeOn(S + 3_600_000, S, exact, true)).toBe(true));
  it('a driver reading every time 2 h earlier: that shift is undone first', () => {
    const shifted = { ...fat, mtimeOffsetMs: -7_200_000 };
    expect(sameMtimeOn(S + 1999, S - 7_200_000, shifted)).toBe(true);
    expect(sameMtimeOn(S + 3000, S - 7_200_000, shifted)).toBe(false);
    expect(sameMtimeOn(S + 1999, S, shifted)).toBe(false);
  });
});

describe('names', () => {
  const exfat = assumedCapabilities('exfat');
  it('nameKey: case-insensitive folds letters, including non-ASCII; normalisation only when insensitive to it', () => {
    expect(nameKey('Readme.TXT', exfat)).toBe(nameKey('README.txt', exfat));
    expect(nameKey('\u00e9t\u00e9', exfat)).toBe(nameKey('\u00c9T\u00c9', exfat));
    expect(nameKey('caf\u00e9', exfat)).not.toBe(nameKey('cafe\u0301', exfat));
    expect(nameKey('caf\u00e9', { caseInsensitive: false, normalizationInsensitive: true })).toBe('caf\u00e9');
    expect(nameKey('cafe\u0301', { caseInsensitive: false, normalizationInsensitive: true })).toBe('caf\u00e9');
    expect(nameKey('Stra\u00dfe', exfat)).toBe('STRA\u00dfE'); // one-to-one only, as the up-case tables do
    expect(nameKey('A', defaultCapabilities())).toBe('A');
  });
  const problems: [string, ReplicaCaps, string | undefined][] = [
    ['a:b', exfat, `the replica's file system (exfat) does not allow ":" in names`],
    ['a\\b', exfat, `the replica's file system (exfat) does not allow "\\\\" in names`],
    ['a\x7fb', exfat, undefined],
    ['a\x7fb', { ...exfat, refusedChars: '\x7f' }, `the replica's file system (exfat) does not allow DEL (U+007F) in names`],
    ['a\nb', exfat, `the replica's file system (exfat) does not allow control characters in names`],
    ['plain name.txt', exfat, undefined],
    ['a:b', defaultCapabilities('ext4'), undefined],
    [
      '\u00e9',
      { ...assumedCapabilities('vfat'), nonAscii: false },
      `the replica's file system (vfat) does not allow characters outside ASCII in names`,
    ],
    ['x'.repeat(256), exfat, `the replica's file system (exfat) holds names of at most 255 characters`],
    ['\u00e9'.repeat(128), defaultCapabilities('ext4'), `the replica's file system (ext4) holds names of at most 255 bytes`],
    ['\u00e9'.repeat(127), defaultCapabilities('ext4'), undefined],
  ];
  for (const [name, caps, want] of problems)
    it(`nameProblem(${JSON.stringify(name.slice(0, 12))}, ${caps.fsType})`, () => expect(nameProblem(name, caps)).toBe(want));
});

describe('file-system types', () => {
  const mountinfo = [
    '22 1 0:21 / / rw,relatime - ext4 /dev/vda rw',
    '42 22 0:39 / /mnt/usb rw,nosuid - fuseblk /dev/loop2 rw,user_id=0',
    '43 22 0:40 / /mnt/my\\040disk rw - fuse.fusefat fusefat rw',
    '44 42 0:41 / /mnt/usb/inner rw - xfs /dev/loop3 rw',
  ].join('\n');
  const cases: [string, string | undefined, string | undefined][] = [
    ['/home/me', 'ext4', '/'],
    ['/mnt/usb', 'fuseblk', '/mnt/usb'],
    ['/mnt/usb/photos', 'fuseblk', '/mnt/usb'],
    ['/mnt/usbx', 'ext4', '/'],
    ['/mnt/my disk/a', 'fuse.fusefat', '/mnt/my disk'],
    ['/mnt/usb/inner/a', 'xfs', '/mnt/usb/inner'],
  ];
  for (const [path, type, mountPoint] of cases) {
    it(`parseMountInfo ${path}`, () => {
      const m = parseMountInfo(mountinfo, path);
      expect([m?.type, m?.mountPoint]).toEqual([type, mountPoint]);
    });
  }
  it('sniffBootSector names exFAT, NTFS and FAT by their boot sector', () => {
    const sector = (offset: number, text: string): Buffer => {
      const b = Buffer.alloc(512);
      b.write(text, offset, 'latin1');
      return b;
    };
    expect(sniffBootSector(sector(3, 'EXFAT   '))).toBe('exfat');
    expect(sniffBootSector(sector(3, 'NTFS    '))).toBe('ntfs');
    expect(sniffBootSector(sector(82, 'FAT32   '))).toBe('vfat');
    expect(sniffBootSector(sector(54, 'FAT16   '))).toBe('vfat');
    expect(sniffBootSector(Buffer.alloc(512))).toBeUndefined();
  });
  const families: [string, string][] = [
    ['vfat', 'vfat'],
    ['msdos', 'vfat'],
    ['fuse.fusefat', 'vfat'],
    ['exfat', 'exfat'],
    ['fuse.exfat', 'exfat'],
    ['ntfs3', 'ntfs'],
    ['fuse.ntfs-3g', 'ntfs'],
    ['fuse.sshfs', 'sshfs'],
    ['smb3', 'cifs'],
    ['ext4', 'ext4'],
  ];
  for (const [type, family] of families) it(`fsFamily(${type}) = ${family}`, () => expect(fsFamily(type)).toBe(family));
  it('assumed capabilities by type (dry runs): FAT keeps local time in 2 s, exFAT no links, ext4 everything', () => {
    expect(assumedCapabilities('fuse.fusefat')).toMatchObject({
      measured: false,
      mtimePrecisionMs: 2000,
      localTime: true,
      modes: false,
      symlinks: false,
      caseInsensitive: true,
    });
    expect(assumedCapabilities('exfat')).toMatchObject({ mtimePrecisionMs: 1000, localTime: false, symlinks: false });
    expect(assumedCapabilities('ext4')).toMatchObject({ mtimePrecisionMs: 1, modes: true, symlinks: true, caseInsensitive: false });
  });
});

describe('describeLimits: one sentence for the start line', () => {
  it('exFAT', () => {
    expect(describeLimits({ ...assumedCapabilities('exfat'), measured: true })).toBe(
      `the replica's file system (exfat) does not keep permission bits or symbolic links, keeps modification times to 1 s, compares names without case, refuses names with " * : < > ? \\ | control characters`,
    );
  });
  it('FAT, assumed', () => {
    expect(describeLimits(assumedCapabilities('vfat'))).toMatch(
      /^the replica's file system \(vfat, assumed\) .*keeps modification times to 2 s, keeps local time/,
    );
  });
  it('ext4: nothing to say', () => expect(describeLimits(defaultCapabilities('ext4'))).toBeUndefined());
});

describe('probeCapabilities on a real folder', () => {
  it('measures an ext4-like temp folder, leaves nothing behind and puts the folder time back', () => {
    const root = tempDir('fs-caps-');
    const dir = join(root, 'replica');
    mkdirSync(dir);
    utimesSync(dir, 1_600_000_000, 1_600_000_000);
    const caps = probeCapabilities(dir);
    expect(caps).toMatchObject({
      measured: true,
      mtimePrecisionMs: 1,
      modes: true,
      symlinks: true,
      caseInsensitive: false,
      normalizationInsensitive: false,
      nonAscii: true,
      maxName: 255,
      nameUnit: 'bytes',
      refusedChars: '',
    });
    expect(readdirSync(dir)).toEqual([]);
    expect(lstatSync(dir).mtimeMs).toBe(1_600_000_000_000);
  });

  it('a dry run writes nothing: assumed from the type, and says so', () => {
    const dir = tempDir('fs-caps-dry-');
    utimesSync(dir, 1_600_000_000, 1_600_000_000);
    const { caps, note } = replicaCapabilities(dir, { dryRun: true });
    expect(caps.measured).toBe(false);
    expect(note).toMatch(/dry run writes nothing/);
    expect(readdirSync(dir)).toEqual([]);
    expect(lstatSync(dir).mtimeMs).toBe(1_600_000_000_000);
  });

  it('a replica that does not exist yet is judged by its nearest existing parent', () => {
    const root = tempDir('fs-caps-missing-');
    expect(existingAncestor(join(root, 'a', 'b'))).toBe(root);
    expect(replicaCapabilities(join(root, 'a', 'b'), { dryRun: false }).caps.measured).toBe(true);
    expect(readdirSync(root)).toEqual([]);
  });

  it("probe folder names are recognised as debris only with this user's tag (issue 11 point 6)", () => {
    const own = taggedName(PROBE_PREFIX);
    expect(isProbeName(own)).toBe(true);
    expect(isProbeName('.folder-sync-probe-0123456789abcdef')).toBe(false); // the older untagged shape: a user folder
    expect(isProbeName(`${own.slice(0, -1)}${own.endsWith('0') ? '1' : '0'}`)).toBe(false);
    expect(isProbeName('.folder-sync-probe-')).toBe(false);
  });
});

describe('ReplicaCapsBook: a further device is probed through the walk’s handle', () => {
  it('the probe goes into the opened folder, not wherever its path leads now; the device is the handle’s', () => {
    const book = new ReplicaCapsBook(defaultCapabilities(), '/dev/shm', false, () => {});
    const real = tempDir('fs-caps-real-'); // another device than the book's root (/tmp vs /dev/shm)
    const decoy = tempDir('fs-caps-decoy-'); // where the folder's path leads after a swap
    utimesSync(real, 1_600_000_000, 1_600_000_000);
    const folder = OpenFolder.openRoot(real);
    try {
      const decoyBefore = lstatSync(decoy, { bigint: true }).ctimeNs;
      const realBefore = lstatSync(real, { bigint: true }).ctimeNs;
      const caps = book.at(decoy, defaultCapabilities(), folder);
      expect(caps.measured).toBe(true);
      // The probe folder was made (and removed) in the opened folder: its ctime moved, the decoy's did not.
      expect(lstatSync(real, { bigint: true }).ctimeNs).not.toBe(realBefore);
      expect(lstatSync(decoy, { bigint: true }).ctimeNs).toBe(decoyBefore);
      expect(readdirSync(real)).toEqual([]);
      expect(lstatSync(real).mtimeMs).toBe(1_600_000_000_000); // and its time put back
    } finally {
      folder.close();
    }
  });
});
